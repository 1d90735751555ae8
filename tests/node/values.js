// tests/node/values.js - a Node child ('advanced' mode) for the C++ tests of the values JSON
// cannot carry. 'send' makes it send values(); any other message is compared with values()
// (util.isDeepStrictEqual: same classes, same contents, same order; an invalid Date, which
// that never calls equal, by its NaN time) and answered 'equal' or with what differed. tests/node_test.cpp builds the same values as json_values.
'use strict';
const util = require('util');

function values() {
  return {
    date: new Date(1700000000123),
    invalid_date: new Date(NaN),
    big: 123456789012345678901234567890n,
    negative_big: -(2n ** 200n),
    zero_big: 0n,
    map: new Map([[1, 'one'], ['k', {x: [1n]}], [new Date(0), null]]),
    set: new Set(['a', 2, new Map()]),
    u8: new Uint8Array([1, 2, 255]),
    i16: new Int16Array([-2, 300]),
    f64: new Float64Array([1.5]),
    bi64: new BigInt64Array([-1n]),
    bu64: new BigUint64Array([2n ** 64n - 1n]),
    clamped: new Uint8ClampedArray([7]),
    view: new DataView(new Uint8Array([1, 2, 3]).buffer),
    buffer: Buffer.from('h\u00e9llo'),
    array_buffer: new Uint8Array([9, 8]).buffer,
    empty: new Float32Array(0),
    nested: [new Set([new Set([1])])],
  };
}

const same = (a, b) => (b instanceof Date && Number.isNaN(b.getTime())
  ? a instanceof Date && Number.isNaN(a.getTime())
  : util.isDeepStrictEqual(a, b));

process.on('message', (m) => {
  if (m === 'send') {
    process.send(values());
    return;
  }
  const want = values();
  const keys = Object.keys(want);
  const diff = keys.filter((k) => !same(m[k], want[k]));
  if (diff.length === 0 && util.isDeepStrictEqual(Object.keys(m), keys)) {
    process.send('equal');
    return;
  }
  process.send('differs: ' + diff.map((k) => k + ' = ' + util.inspect(m[k])).join(', ') +
               ' keys ' + Object.keys(m).join(','));
});
process.on('disconnect', () => process.exit(0));
