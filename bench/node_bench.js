'use strict';
/*
 * Node round trips and receive rates, one process, implementations alternated per round.
 *
 *   package  the dapper-ipc package (node/, libdapper_ipc through koffi): JSON in, JSON out.
 *            Round trips are driven from the 'message' handler (the reply is sent there).
 *   async    the package's receive path for async code: `for await (m of manager.messages())`.
 *   net      Node's own net module with a hand-written framer, the VS Code extension's way:
 *            Buffer.concat per chunk, parse the 8-byte header, JSON.parse, socket.write.
 *
 * Every implementation encodes each message it sends with JSON.stringify and decodes each
 * one it receives with JSON.parse. Every peer is the same C program (`bench child-raw`:
 * echo for round trips, flood for receive rates: 128-byte JSON frames written in large
 * batches), so only the Node side differs.
 *
 * Usage: node node_bench.js <bench-binary> <iterations> <flood-count> <rounds> <max-seconds>
 * Prints name=value lines: node_<impl>_rtt_{n,p50_us,p90_us,p99_us} (samples of all rounds
 * pooled) and node_<impl>_msgs_per_s (median of the rounds).
 */
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const { spawn } = require('child_process');
const { IPCManager } = require(path.join(__dirname, '..', 'node'));

const [BENCH, ITERATIONS, FLOOD, ROUNDS, SECONDS] = [process.argv[2], ...process.argv.slice(3).map(Number)];
const WAIT_MS = 60000;

const MESSAGE = { seq: 1, type: 'request', command: 'evaluate', arguments: { expression: '' } };
MESSAGE.arguments.expression = 'x'.repeat(128 - JSON.stringify(MESSAGE).length);
if (Buffer.byteLength(JSON.stringify(MESSAGE)) !== 128) throw new Error('the message is not 128 bytes');
const GO = { seq: 0, type: 'request', command: 'go', arguments: {} };

function peer(role, count, endpoint) {
  const child = spawn(BENCH, ['child-raw', role, String(count), 'unix', endpoint], { stdio: 'ignore' });
  child.exited = new Promise((resolve) => child.on('exit', resolve));
  return child;
}

function deadline(promise, what) {
  let timer;
  return Promise.race([promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: timed out`)), WAIT_MS + SECONDS * 1000); })]);
}

const now = () => Number(process.hrtime.bigint()) / 1000; // µs

// ---- the package -------------------------------------------------------------------------

async function packageRtt() {
  const m = new IPCManager();
  const args = m.createListener({ transport: 'unix' });
  const child = peer('echo', 0, args[3]);
  await m.waitForClient(WAIT_MS);
  m.startReader();
  const samples = [];
  const end = now() + SECONDS * 1e6;
  let t0 = 0;
  await deadline(new Promise((resolve) => {
    m.on('message', () => { // JSON in; the next JSON goes out from the handler
      const t = now();
      samples.push(t - t0);
      if (samples.length >= ITERATIONS || t > end) { resolve(); return; }
      t0 = now();
      m.send(MESSAGE);
    });
    t0 = now();
    m.send(MESSAGE);
  }), 'package round trips');
  await m.cleanup();
  await child.exited;
  return samples;
}

async function packageRate() {
  const m = new IPCManager();
  const args = m.createListener({ transport: 'unix' });
  const child = peer('flood', FLOOD, args[3]);
  await m.waitForClient(WAIT_MS);
  m.startReader();
  let n = 0;
  let t0 = 0;
  await deadline(new Promise((resolve) => {
    m.on('message', () => { if (++n === FLOOD) resolve(); });
    t0 = now();
    m.send(GO);
  }), 'package receive');
  const elapsed = now() - t0;
  await m.cleanup();
  await child.exited;
  return FLOOD / (elapsed / 1e6);
}

async function asyncRate() {
  const m = new IPCManager();
  const args = m.createListener({ transport: 'unix' });
  const child = peer('flood', FLOOD, args[3]);
  await m.waitForClient(WAIT_MS);
  const stream = m.messages();
  const t0 = now();
  m.send(GO);
  await deadline((async () => {
    let n = 0;
    for await (const _message of stream) if (++n === FLOOD) break;
  })(), 'package async receive');
  const elapsed = now() - t0;
  await m.cleanup();
  await child.exited;
  return FLOOD / (elapsed / 1e6);
}

// ---- net + a hand-written framer (the extension's way) ------------------------------------

function frame(kind, message) {
  const payload = Buffer.from(JSON.stringify(message), 'utf8');
  const header = Buffer.alloc(8);
  header.write('DP', 0, 'latin1');
  header[2] = 1;
  header[3] = kind;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

function framer(onMessage) {
  let buffered = Buffer.alloc(0);
  return (chunk) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 8) {
      const length = buffered.readUInt32BE(4);
      if (buffered.length < 8 + length) break;
      const kind = buffered[3];
      const payload = buffered.subarray(8, 8 + length);
      buffered = buffered.subarray(8 + length);
      onMessage(JSON.parse(payload.toString('utf8')), kind);
    }
  };
}

async function netConnection(role, count) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dapper-bench-node-'));
  const file = path.join(dir, 's.sock');
  const server = net.createServer();
  await new Promise((resolve) => server.listen(file, resolve));
  const accepted = new Promise((resolve) => server.once('connection', resolve));
  const child = peer(role, count, file);
  const socket = await deadline(accepted, 'net accept');
  socket.setNoDelay(true);
  const close = async () => {
    socket.end();
    await new Promise((resolve) => server.close(resolve));
    await child.exited;
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return { socket, close };
}

async function netRtt() {
  const { socket, close } = await netConnection('echo', 0);
  const samples = [];
  const end = now() + SECONDS * 1e6;
  let t0 = 0;
  await deadline(new Promise((resolve) => {
    socket.on('data', framer(() => {
      const t = now();
      samples.push(t - t0);
      if (samples.length >= ITERATIONS || t > end) { resolve(); return; }
      t0 = now();
      socket.write(frame(2, MESSAGE));
    }));
    t0 = now();
    socket.write(frame(2, MESSAGE));
  }), 'net round trips');
  await close();
  return samples;
}

async function netRate() {
  const { socket, close } = await netConnection('flood', FLOOD);
  let n = 0;
  let t0 = 0;
  await deadline(new Promise((resolve) => {
    socket.on('data', framer(() => { if (++n === FLOOD) resolve(); }));
    t0 = now();
    socket.write(frame(2, GO));
  }), 'net receive');
  const elapsed = now() - t0;
  await close();
  return FLOOD / (elapsed / 1e6);
}

// ---- alternate the implementations so machine noise falls on all of them ----------------

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main() {
  const impls = [['package', packageRtt, packageRate], ['net', netRtt, netRate], ['async', null, asyncRate]];
  const rtts = Object.fromEntries(impls.map(([name]) => [name, []]));
  const rates = Object.fromEntries(impls.map(([name]) => [name, []]));
  for (let r = 0; r < ROUNDS; r++) {
    const order = impls.slice(r % impls.length).concat(impls.slice(0, r % impls.length));
    for (const [name, rtt, rate] of order) {
      if (rtt) {
        const samples = await rtt();
        rtts[name].push(...samples.slice(Math.floor(samples.length / 10))); // the first tenth warms up
      }
      rates[name].push(await rate());
    }
  }
  for (const [name] of impls) {
    const samples = rtts[name].sort((a, b) => a - b);
    if (samples.length) {
      console.log(`node_${name}_rtt_n=${samples.length}`);
      for (const p of [50, 90, 99]) console.log(`node_${name}_rtt_p${p}_us=${percentile(samples, p / 100).toFixed(2)}`);
    }
    console.log(`node_${name}_msgs_per_s=${median(rates[name]).toFixed(0)}`);
  }
}

main().catch((error) => { console.error(error); process.exit(1); });
