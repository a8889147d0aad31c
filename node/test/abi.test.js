'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const native = require('../lib/native');
const abi = require('../lib/abi.generated');

// lib/abi.generated.js is generated from the header (the repository test keeps it so);
// these check that koffi lays it out as the library does.

test('the koffi dapper_ipc_config is the size of the library\'s', () => {
  // config_init zeroes min(size, its own sizeof) bytes and writes that size: with a
  // larger buffer it reports the library's sizeof(dapper_ipc_config).
  const init = native.koffi.load(native.lib().path).func('int32_t dapper_ipc_config_init(_Inout_ uint8_t *config, size_t size)');
  const buffer = Buffer.alloc(4096, 0xff);
  assert.equal(init(buffer, buffer.length), abi.Status.OK);
  assert.equal(native.koffi.sizeof(native.Config), buffer.readUInt32LE(0));
  assert.equal(native.lib().configSize, buffer.readUInt32LE(0));
});

test('every Status is one the library describes', () => {
  for (const [name, value] of Object.entries(native.Status)) {
    assert.notEqual(native.lib().status_string(value), 'unknown status', name);
  }
  assert.equal(native.lib().status_string(-98), 'unknown status');
});
