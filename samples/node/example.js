#!/usr/bin/env node
// The adapter and the launcher through the dapper-ipc package (node/): the adapter
// listens, starts this script again as the launcher with the listener's arguments, sends
// one command and prints the reply; the launcher answers each command and leaves when the
// adapter closes. With the package installed (node/README.md):
//
//   node example.js [unix|tcp|pipe]
//
// Exit status 0: the reply came within 10 s and the launcher exited with 0.
'use strict';
const { spawn } = require('child_process');
const { IPCManager, configFromLauncherArgs } = require('dapper-ipc');

async function launcher(args) {
  const manager = new IPCManager();
  const left = new Promise((resolve) => manager.once('disconnected', resolve));
  manager.on('message', (command) => {
    console.log('[launcher] received', command);
    manager.send({ event: 'response', id: command.seq, success: true, body: { threads: [] } });
  });
  await manager.connect(configFromLauncherArgs(args));
  manager.startReader(); // 'message' events from now on
  await left; // the adapter closed the connection
  await manager.cleanup();
}

async function adapter(transport) {
  const manager = new IPCManager();
  const args = manager.createListener({ transport });
  console.log('[adapter] launcher arguments:', args.join(' '));
  const child = spawn(process.execPath, [__filename, ...args], { stdio: 'inherit' });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const messages = manager.messages(); // starts the reader: messages from now on
  await manager.waitForClient(10_000);
  await manager.send({ seq: 1, type: 'request', command: 'threads', arguments: {} });
  const giveUp = setTimeout(() => manager.cleanup(), 10_000); // ends messages() below
  let reply;
  for await (const message of messages) {
    reply = message;
    break;
  }
  clearTimeout(giveUp);
  console.log('[adapter] received', reply);
  await manager.cleanup(); // the launcher sees end-of-file
  const code = await exited;
  console.log(`[adapter] launcher exited with ${code}`);
  return reply && reply.id === 1 && code === 0 ? 0 : 1;
}

const args = process.argv.slice(2);
const run = args.includes('--ipc') ? launcher(args).then(() => 0) : adapter(args[0] || 'auto');
run.then((code) => { process.exitCode = code; }, (error) => { console.error(error); process.exitCode = 1; });
