// tests/node/parent.js - a Node parent for a C++ child (examples/node_peer's contract).
// Usage: node parent.js <child program> <scenario>...; prints "ok <scenario>" for each that
// passes and exits 0, or prints what failed and exits 1.
'use strict';
const cp = require('child_process');
const net = require('net');
const util = require('util');

const [program, ...scenarios] = process.argv.slice(2);
const serialization = process.env.IPC_TEST_SERIALIZATION || 'json';

function fail(what) {
  console.log('FAIL ' + what);
  process.exit(1);
}

function start() {
  const child = cp.spawn(program, [], {stdio: ['inherit', 'inherit', 'inherit', 'ipc'], serialization});
  child.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({code, signal})));
  child.next = () => new Promise((resolve) => child.once('message', (m, h) => resolve([m, h])));
  return child;
}

// Deterministic pseudo-random values of every JSON shape.
function maker(seed) {
  let s = seed;
  const rnd = (n) => { s = (s * 1103515245 + 12345) % 2147483648; return s % n; };
  const pieces = ['a', 'Z', ' ', '"', '\\', '\n', '\t', '\u0001', '\u001f', '/', 'é', '\u2028',
                  '😀', '中', '\ud800', '\udfff', 'NODE_', '{}', '\u007f', '\u0000'];
  const text = () => { let t = ''; for (let i = rnd(12); i > 0; i--) t += pieces[rnd(pieces.length)]; return t; };
  const value = (depth) => {
    switch (rnd(depth < 6 ? 9 : 7)) {
      case 0: return null;
      case 1: return rnd(2) === 0;
      case 2: return rnd(2 ** 31) * (rnd(2) ? -1 : 1) * 4096 + rnd(4096);
      case 3: return (rnd(2 ** 31) - 2 ** 30) / 1024 / 3;
      case 4: case 5: case 6: return text();
      case 7: { const a = []; for (let i = rnd(5); i > 0; i--) a.push(value(depth + 1)); return a; }
      default: {
        const o = {};
        for (let i = rnd(5); i > 0; i--) o[text()] = value(depth + 1);
        if (rnd(4) === 0) o.cmd = rnd(2) ? 'NODE_' : 'node_handle';
        return o;
      }
    }
  };
  return value;
}

async function echoes(child, values) {
  for (const v of values) {
    child.send(v);
    const [back] = await child.next();
    if (JSON.stringify(back) !== JSON.stringify(v))
      fail('echo: sent ' + JSON.stringify(v).slice(0, 200) + ' got ' + JSON.stringify(back).slice(0, 200));
  }
}

const readAll = (sock) => new Promise((resolve, reject) => {
  let data = '';
  sock.setEncoding('utf8');
  sock.on('data', (c) => { data += c; });
  sock.on('end', () => resolve(data));
  sock.on('error', reject);
});
const listening = (server) => new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));

const scenario = {
  // net.Socket handoffs with real TCP clients, socket lists, and a net.Server handoff.
  async handles() {
    const child = start();
    const server = net.createServer({pauseOnConnect: true});
    await listening(server);
    const port = server.address().port;
    let sent = 0;
    server.on('connection', (socket) => child.send({kind: 'socket', n: sent++}, socket));
    const clients = [];
    for (let i = 0; i < 20; i++) clients.push(readAll(net.connect(port, '127.0.0.1')));
    for (const text of await Promise.all(clients))
      if (text !== 'handled by child\n') fail('socket handoff: ' + JSON.stringify(text));
    // Messages still flow (they queue behind each handle until its ACK).
    await echoes(child, ['after sockets', {n: 1}]);
    const count = await new Promise((resolve, reject) =>
      server.getConnections((e, n) => (e ? reject(e) : resolve(n))));
    if (count !== 0) fail('getConnections: ' + count);
    await new Promise((resolve) => server.close(resolve)); // needs the child's ALL_CLOSED

    const shared = net.createServer((c) => c.end('parent answered\n'));
    await listening(shared);
    const sharedPort = shared.address().port;
    child.send({kind: 'server'}, shared);
    const [event] = await child.next();
    if (JSON.stringify(event) !== JSON.stringify({event: 'server-received', msg: {kind: 'server'}}))
      fail('server handoff: ' + JSON.stringify(event));
    await new Promise((resolve) => shared.close(resolve)); // only the child listens now
    for (let i = 0; i < 5; i++) {
      const text = await readAll(net.connect(sharedPort, '127.0.0.1'));
      if (text !== 'handled by child\n') fail('server handoff client: ' + JSON.stringify(text));
    }
    child.disconnect();
    const st = await child.exited;
    if (st.code !== 0) fail('child exit ' + JSON.stringify(st));
  },

  // The child goes away first: the parent sees 'disconnect' and the exit.
  async child_exit() {
    const child = start();
    await echoes(child, ['hello']);
    const disconnected = new Promise((resolve) => child.on('disconnect', resolve));
    child.kill('SIGTERM');
    await disconnected;
    await child.exited;
  },

  // ('advanced' only) Values JSON lacks come back deep-equal: same classes, same contents.
  async values() {
    if (serialization !== 'advanced') fail('the values scenario needs IPC_TEST_SERIALIZATION=advanced');
    const child = start();
    const map = new Map([[1, 'one'], ['k', {x: [1n, -(2n ** 130n)]}], [new Date(0), null], [{}, new Set()]]);
    const values = [
      new Date(1700000000123), 0n, 123456789012345678901234567890n, -(2n ** 64n), 2n ** 1000n,
      map, new Set(['a', 2, map]), new Map(), new Set(),
      new Uint8Array([1, 2, 255]), new Int8Array([-1]), new Uint8ClampedArray([7]),
      new Int16Array([-2, 300]), new Uint16Array([65535]), new Int32Array([-5]), new Uint32Array([4e9]),
      new Float32Array([1.5]), new Float64Array([Math.PI, -0, Infinity]), new BigInt64Array([-1n]),
      new BigUint64Array([2n ** 64n - 1n]), new DataView(new Uint8Array([1, 2, 3]).buffer),
      Buffer.from('h\u00e9llo'), new Uint8Array([9, 8]).buffer, new Float64Array(0), new ArrayBuffer(0),
      new Uint8Array(new Uint8Array([1, 2, 3, 4]).buffer, 1, 2), // a view of part of its buffer
      new Int32Array(new Uint8Array(9).buffer, 4, 1),           // and one at an offset
      {when: new Date(-1), sizes: new Map([['a', 1n]]), blob: Buffer.alloc(100000, 7)},
      [new Set([new Set([new Map([[new Set(), []]])])])],
    ];
    const shared = new Date(5);
    values.push([shared, shared, map, map]); // back-references to a Date and a Map
    for (let v of values) {
      if (typeof v === 'bigint') v = [v]; // process.send refuses a bare BigInt (V8 would not)
      child.send(v);
      const [back] = await child.next();
      if (!util.isDeepStrictEqual(back, v)) fail('values: sent ' + util.inspect(v) + ' got ' + util.inspect(back));
    }
    child.disconnect();
    const st = await child.exited;
    if (st.code !== 0) fail('child exit ' + JSON.stringify(st));
  },

  async messages() {
    const child = start();
    const make = maker(5);
    const values = [];
    for (let i = 0; i < 3000; i++) values.push(make(0));
    values.push('x'.repeat(3 << 20) + '😀\ud800', 0, -1.5, true, false, null, '',
                {cmd: 'NODE_'}, {cmd: 'node_x'}, {cmd: 7}, {msg: {cmd: 'NODE_HANDLE'}});
    let deep = ['bottom'];
    for (let i = 0; i < 900; i++) deep = [deep];
    values.push(deep);
    await echoes(child, values);
    // Pipelined: many in flight at once.
    const burst = [];
    for (let i = 0; i < 2000; i++) burst.push({i});
    const got = [];
    const done = new Promise((resolve) => child.on('message', (m) => { got.push(m); if (got.length === burst.length) resolve(); }));
    for (const m of burst) child.send(m);
    await done;
    child.removeAllListeners('message');
    for (let i = 0; i < burst.length; i++) if (got[i].i !== i) fail('burst order at ' + i);
    child.disconnect();
    const st = await child.exited;
    if (st.code !== 0) fail('child exit ' + JSON.stringify(st));
  },
};

(async () => {
  for (const name of scenarios) {
    if (!scenario[name]) fail('unknown scenario ' + name);
    await scenario[name]();
    console.log('ok ' + name);
  }
})().catch((e) => fail(e.stack));
