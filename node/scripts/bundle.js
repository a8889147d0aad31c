#!/usr/bin/env node
'use strict';
// Copies the library into the package folder, where the package finds it (after
// DAPPER_IPC_LIBRARY, before the system loader), so that `npm pack` puts it inside the
// tarball:
//
//   node scripts/bundle.js [path/to/libdapper_ipc.so]   (default: DAPPER_IPC_LIBRARY, then
//                                                        ../build/default/dapper_ipc/)
//   npm pack                                            -> dapper-ipc-0.1.0.tgz
//
// The tarball then works on the platform the library was built for (one library per
// platform: build the package on each, or publish one tarball per platform).
const fs = require('fs');
const path = require('path');
const { libraryNames } = require('../lib/native');

const packageDir = path.resolve(__dirname, '..');
const name = libraryNames()[0];
const source = process.argv[2] || process.env.DAPPER_IPC_LIBRARY ||
  path.join(packageDir, '..', 'build', 'default', 'dapper_ipc', name);
if (!fs.existsSync(source)) {
  console.error(`bundle: ${source} does not exist: build the library first (cmake --preset default && cmake --build --preset default) or pass its path`);
  process.exit(1);
}
const target = path.join(packageDir, name);
fs.copyFileSync(source, target);
console.log(`bundle: ${source} -> ${target}; now run: npm pack`);
