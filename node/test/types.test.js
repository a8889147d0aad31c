'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const PACKAGE = path.resolve(__dirname, '..');

test('index.d.ts declares every export of index.js', () => {
  const declared = new Set();
  const dts = fs.readFileSync(path.join(PACKAGE, 'index.d.ts'), 'utf8');
  for (const match of dts.matchAll(/^export declare (?:const|class|function) (\w+)/gm)) declared.add(match[1]);
  // Loading index.js does not load the library (that happens on first use).
  const exported = Object.keys(require('..'));
  assert.deepEqual(exported.filter((name) => !declared.has(name)), []);
});

test('index.d.ts types the README usage under tsc --strict', () => {
  const tsc = path.join(PACKAGE, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '--noEmit', '--strict', '--target', 'es2022', '--module', 'commonjs',
    '--moduleResolution', 'node', '--types', 'node',
    path.join(PACKAGE, 'test-support', 'types_check.ts')], { encoding: 'utf8', cwd: PACKAGE });
  assert.equal(result.status, 0, result.stdout + result.stderr);
});
