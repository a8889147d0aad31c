'use strict';
// The Node side of tests/parity/run.py: runs tests/parity/cases.json through the Node
// package's public API. Usage: node parity_node.js NODE_PACKAGE_DIR CASES TMP. Prints one
// line per case: NAME <tab> STEP <tab> STATUS <tab> MESSAGE (as parity_c.c).
const fs = require('fs');
const path = require('path');

const [packageDir, casesFile, tmp] = process.argv.slice(2);
const { IPCManager, SessionListener, IPCError, configFromLauncherArgs } = require(path.resolve(packageDir));

// The C field names, in the Node package's spelling.
const camel = (key) => key.replace(/_([a-z])/g, (_, c) => c.toUpperCase());

function config(values = {}) {
  const out = {};
  for (const [key, value] of Object.entries(values)) out[camel(key)] = value;
  return out;
}

async function step(managers, item) {
  const m = managers[item.on || 'a'];
  switch (item.op) {
    case 'listen': m.createListener(config(item.config)); break;
    case 'connect':
      await m.connect(item.to ? configFromLauncherArgs(managers[item.to].launcherArgs) : config(item.config));
      break;
    case 'wait': await m.waitForClient(item.timeout_ms); break;
    case 'send': await m.sendBytes(Buffer.alloc(item.size, 'x')); break;
    case 'start_reader': m.startReader(); break;
    case 'launcher_args': void m.launcherArgs; break;
    case 'auth_token': void m.authToken; break;
    case 'cleanup': await m.cleanup(); break;
    case 'session_listen': managers.s.createListener(config(item.config)); break;
    case 'expect': managers.s.expect(item.id); break;
    case 'accept': await (await managers.s.accept(item.id, item.timeout_ms)).destroy(); break;
    case 'session_launcher_args': void managers.s.launcherArgs; break;
    default: throw new Error(`parity_node: unknown op ${item.op}`);
  }
}

const escape = (text) => text.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n');

async function main() {
  const { cases } = JSON.parse(fs.readFileSync(casesFile, 'utf8').split('{tmp}').join(tmp));
  const only = new Set(process.argv.slice(5));
  for (const c of cases) {
    if (only.size > 0 && !only.has(c.name)) continue;
    const managers = { a: new IPCManager(), b: new IPCManager(), s: new SessionListener() };
    let status = 0;
    let message = '';
    let at = -1;
    try {
      for (at = 0; at < c.steps.length; at++) await step(managers, c.steps[at]);
      at = c.steps.length - 1;
    } catch (error) {
      if (error instanceof IPCError) {
        status = error.status;
        message = error.message;
      } else {
        status = 'exception';
        message = `${error.name}: ${error.message}`;
      }
    }
    await managers.s.cleanup();
    await managers.a.destroy();
    await managers.b.destroy();
    process.stdout.write(`${c.name}\t${at}\t${status}\t${escape(message)}\n`);
  }
}

main();
