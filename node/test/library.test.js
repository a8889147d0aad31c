'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync, spawnSync } = require('child_process');
const { libraryNames } = require('../lib/native');

const PACKAGE = path.resolve(__dirname, '..');
const LIBRARY = process.env.DAPPER_IPC_LIBRARY;

function node(script, env, cwd) {
  return spawnSync(process.execPath, ['-e', script], { env, cwd, encoding: 'utf8' });
}

test('the library is found next to the package (as bundle.js leaves it), with DAPPER_IPC_LIBRARY unset', { skip: !LIBRARY && 'DAPPER_IPC_LIBRARY is not set' }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dapper-node-bundle-'));
  try {
    for (const f of ['index.js', 'package.json']) fs.copyFileSync(path.join(PACKAGE, f), path.join(dir, f));
    fs.cpSync(path.join(PACKAGE, 'lib'), path.join(dir, 'lib'), { recursive: true });
    fs.cpSync(path.join(PACKAGE, 'scripts'), path.join(dir, 'scripts'), { recursive: true });
    fs.symlinkSync(path.join(PACKAGE, 'node_modules'), path.join(dir, 'node_modules'));
    const env = { ...process.env };
    delete env.DAPPER_IPC_LIBRARY;
    execFileSync(process.execPath, [path.join(dir, 'scripts', 'bundle.js'), LIBRARY], { env });
    const result = node("const p = require('.'); new p.IPCManager(); console.log(p.libraryPath)", env, dir);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout.trim(), path.join(dir, libraryNames()[0]));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('DAPPER_IPC_LIBRARY naming a missing file is an IPCError saying so (no fallback)', () => {
  const env = { ...process.env, DAPPER_IPC_LIBRARY: '/nonexistent/libdapper_ipc.so' };
  const result = node("const p = require('.'); try { new p.IPCManager(); } catch (e) { console.log(e instanceof p.IPCError, e.status, e.code, e.message); }", env, PACKAGE);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /^true null E_LOAD DAPPER_IPC_LIBRARY=\/nonexistent\/libdapper_ipc.so: no such file/);
});
