// bench/node_bench.js - Node <-> C++ against Node <-> Node: round trips and handoffs per second.
// Usage: node bench/node_bench.js build/examples/node_peer [seconds per measurement, default 2]
// Runs each measurement in both serialization modes, with the C++ child (examples/node_peer)
// and with a Node child that keeps the same contract, in the same run on the same machine.
'use strict';
const cp = require('child_process');
const net = require('net');

const [peer, secondsArg] = process.argv.slice(2);
const seconds = Number(secondsArg || 2);
if (!peer) {
  console.error('usage: node bench/node_bench.js <path to node_peer> [seconds]');
  process.exit(2);
}

// The Node child: examples/node_peer's contract, for the parts measured here.
const nodePeer = `
process.on('message', (m, h) => {
  if (h) { h.end('handled by child\\n'); return; }
  process.send(m);
});
process.on('disconnect', () => process.exit(0));`;

function start(kind, serialization) {
  const stdio = ['inherit', 'inherit', 'inherit', 'ipc'];
  return kind === 'c++' ? cp.spawn(peer, [], {stdio, serialization})
                        : cp.spawn(process.execPath, ['-e', nodePeer], {stdio, serialization});
}

async function roundTrips(child, message) {
  let n = 0;
  const end = Date.now() + seconds * 1000;
  await new Promise((resolve) => {
    child.on('message', () => {
      n++;
      if (Date.now() < end) child.send(message);
      else resolve();
    });
    child.send(message);
  });
  child.removeAllListeners('message');
  return n / seconds;
}

async function handoffs(child) {
  const server = net.createServer({pauseOnConnect: true}, (s) => child.send('socket', s));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  let n = 0;
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    await new Promise((resolve, reject) => {
      const c = net.connect(port, '127.0.0.1');
      c.on('data', () => {});
      c.on('end', resolve);
      c.on('error', reject);
    });
    n++;
  }
  server.close();
  return n / seconds;
}

(async () => {
  const small = {id: 42, name: 'book', tags: ['a', 'b']};
  const large = {blob: 'x'.repeat(64 * 1024)};
  console.log('peer    mode      small rt/s   64KiB rt/s   handoffs/s');
  for (const serialization of ['json', 'advanced']) {
    for (const kind of ['c++', 'node']) {
      const child = start(kind, serialization);
      const a = await roundTrips(child, small);
      const b = await roundTrips(child, large);
      const c = await handoffs(child);
      child.disconnect();
      await new Promise((resolve) => child.on('exit', resolve));
      console.log(`${kind.padEnd(7)} ${serialization.padEnd(9)} ${a.toFixed(0).padStart(11)} ` +
                  `${b.toFixed(0).padStart(12)} ${c.toFixed(0).padStart(12)}`);
    }
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
