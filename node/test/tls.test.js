'use strict';
// tls from Node: Node's own tls module (OpenSSL inside Node, not the library's) as the
// client of a library tls listener, checking the certificate against tlsFingerprint; the
// library's client pinned to a listener through configFromLauncherArgs, the token inside
// tls; a wrong pin refused with E_PROTOCOL naming both fingerprints.
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('crypto');
const tls = require('tls');
const { IPCManager, IPCError, Status, configFromLauncherArgs } = require('..');
const { within, once } = require('../test-support/helpers');

function frame(kind, body) {
  const header = Buffer.from([0x44, 0x50, 1, kind, 0, 0, 0, 0]); // "DP", version 1, kind
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}

test("Node's tls module talks DP to a library tls listener and sees the certificate of tlsFingerprint", async () => {
  const m = new IPCManager();
  const args = m.createListener({ transport: 'tls' });
  assert.deepEqual(args.slice(0, 2), ['--ipc', 'tls']);
  assert.equal(args[args.indexOf('--ipc-tls-fingerprint') + 1], m.tlsFingerprint);
  m.startReader();
  const port = Number(args[args.indexOf('--ipc-port') + 1]);
  const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }); // pinned below
  await within(10000, once(socket, 'secureConnect'), 'the tls handshake');
  const der = socket.getPeerCertificate(true).raw;
  assert.equal('sha256:' + crypto.createHash('sha256').update(der).digest('hex'), m.tlsFingerprint);
  assert.equal(socket.getProtocol(), 'TLSv1.3');
  const got = once(m, 'message');
  socket.write(frame(1, Buffer.from('{"command":"ping"}')));
  assert.deepEqual((await within(10000, got, 'the frame'))[0], { command: 'ping' });
  const reply = new Promise((resolve) => {
    let data = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      data = Buffer.concat([data, chunk]);
      if (data.length >= 8 && data.length >= 8 + data.readUInt32BE(4)) resolve(data);
    });
  });
  await m.send({ event: 'pong' });
  const data = await within(10000, reply, 'the reply');
  assert.deepEqual(JSON.parse(data.subarray(8).toString()), { event: 'pong' });
  socket.destroy();
  await m.cleanup();
});

test('library client to library listener over tls: pin from the launcher arguments, token inside tls', async () => {
  const server = new IPCManager();
  const args = server.createListener({ transport: 'tls', requireAuth: true });
  server.startReader();
  const client = new IPCManager();
  await within(10000, client.connect({ ...configFromLauncherArgs(args), authToken: server.authToken }), 'connect');
  const got = once(server, 'message');
  await client.send({ seq: 1 });
  assert.deepEqual((await within(10000, got, 'the frame'))[0], { seq: 1 });
  await client.cleanup();
  await server.cleanup();
});

test('a wrong tlsFingerprint is refused with E_PROTOCOL showing both fingerprints', async () => {
  const server = new IPCManager();
  const args = server.createListener({ transport: 'tls' });
  const client = new IPCManager();
  const wrong = 'sha256:' + 'ab'.repeat(32);
  await assert.rejects(client.connect({ ...configFromLauncherArgs(args), tlsFingerprint: wrong }), (e) => {
    assert.ok(e instanceof IPCError);
    assert.equal(e.status, Status.E_PROTOCOL);
    assert.match(e.message, new RegExp(wrong));
    assert.match(e.message, new RegExp(server.tlsFingerprint));
    return true;
  });
  await client.cleanup();
  await server.cleanup();
});
