'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('path');
const { spawn } = require('child_process');

const { LOCAL } = require('../test-support/helpers');

const CHILD = path.join(__dirname, '..', 'test-support', 'exit_child.js');

function run(mode, transport) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, mode, transport], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${mode}: still running after 30 s (hung at exit)`)); }, 30000);
    child.on('exit', (code, signal) => { clearTimeout(timer); resolve({ code, signal, out, err }); });
  });
}

for (const mode of ['exit', 'natural']) {
  for (const transport of [LOCAL, 'tcp']) {
    test(`process ${mode === 'exit' ? 'exit (process.exit)' : 'end (loop runs dry, manager unref()ed)'} with a reader running and messages flowing: exit code 0, no crash, no hang (${transport}, 5 runs)`, async () => {
      for (let i = 0; i < 5; i++) {
        const { code, signal, out, err } = await run(mode, transport);
        assert.equal(signal, null, `run ${i}: killed by ${signal}; stderr: ${err}`);
        assert.equal(code, 0, `run ${i}: exit code ${code}; stderr: ${err}`);
        assert.match(out, /received 2000/, `run ${i}: messages were flowing`);
      }
    });
  }
}

test('process.exit() while a send waits for the client on a worker thread exits at once, code 0 (the send is aborted)', async () => {
  const started = Date.now();
  const { code, signal, out, err } = await run('sending', LOCAL);
  assert.equal(signal, null, err);
  assert.equal(code, 0, err);
  assert.match(out, /exiting/);
  assert.ok(Date.now() - started < 30000, `took ${Date.now() - started} ms: the exit waited for the send's 60 s`);
});

test('process.exit() while connect() retries on a worker thread exits at once, code 0 (the connect is aborted)', async () => {
  const started = Date.now();
  const { code, signal, out, err } = await run('connecting', 'tcp');
  assert.equal(signal, null, err);
  assert.equal(code, 0, err);
  assert.match(out, /exiting/);
  assert.ok(Date.now() - started < 10000, `took ${Date.now() - started} ms: the exit waited for the connect's 60 s`);
});
