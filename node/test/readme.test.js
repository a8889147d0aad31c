'use strict';
// The README's opening example is two files, adapter.js and launcher.js: written out
// exactly as printed, with `require('dapper-ipc')` finding this package, and run.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

const PACKAGE = path.resolve(__dirname, '..');

/** The js code blocks of the README whose first line is `// NAME: ...`, by NAME. */
function examples() {
  const readme = fs.readFileSync(path.join(PACKAGE, 'README.md'), 'utf8');
  const files = {};
  for (const [, code] of readme.matchAll(/```js\n([\s\S]*?)```/g)) {
    const name = /^\/\/ ([\w.-]+\.js):/.exec(code);
    if (name) files[name[1]] = code;
  }
  return files;
}

test("the README's two-sided example (adapter.js starts launcher.js) runs as printed and prints what the README says", () => {
  const files = examples();
  assert.deepEqual(Object.keys(files).sort(), ['adapter.js', 'launcher.js']);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dapper-node-readme-'));
  try {
    for (const [name, code] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), code);
    fs.mkdirSync(path.join(dir, 'node_modules'));
    fs.symlinkSync(PACKAGE, path.join(dir, 'node_modules', 'dapper-ipc'), 'dir');
    const run = spawnSync(process.execPath, ['adapter.js'], { cwd: dir, encoding: 'utf8', timeout: 60000 });
    assert.equal(run.status, 0, `exit ${run.status} ${run.signal || ''}\n${run.stdout}\n${run.stderr}`);
    const printed = /It prints:\n\n```\n([\s\S]*?)```/.exec(fs.readFileSync(path.join(PACKAGE, 'README.md'), 'utf8'))[1];
    // Two processes write to one stdout: compared line by line, in any order (a pipe is
    // written asynchronously on macOS).
    const lines = (text) => text.split('\n').filter(Boolean).sort();
    assert.deepEqual(lines(run.stdout), lines(printed));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
