'use strict';
// A Node host that ends with its reader running and messages flowing (the parent test
// checks it exits 0, by no signal). MODE:
//   exit     process.exit(0) from inside the 'message' handler, mid-flood
//   natural  the manager is unref()'d; the script ends with the flood going on
const { IPCManager } = require('..');
const { peer } = require('./helpers');

const mode = process.argv[2];
const m = new IPCManager();
const args = m.createListener({ transport: process.argv[3] || 'unix' });
const child = peer('flood', ...args);
child.unref();
child.stdout.destroy(); // nothing but the manager may keep this process alive
let n = 0;
m.on('message', () => {
  n++;
  if (n === 2000) {
    process.stdout.write(`received ${n}\n`);
    if (mode === 'exit') process.exit(0);
    if (mode === 'natural') m.unref();
  }
});
