// bench/node_interop.js - Node <-> C++ against Node <-> Node, in one run on one machine: small
// message round trips per second and TCP socket handoffs per second, in both serialization modes.
// SPDX-License-Identifier: BSL-1.0
//
//   node bench/node_interop.js <path to examples/node_peer> [--rounds N] [--ms N] [--quick]
//
// (bench/node_interop builds node_peer, pins everything to one CPU and runs this.)
//
// One Node parent (this process) starts, for each serialization mode, a C++ child
// (examples/node_peer) and a Node child that keeps the same contract for the parts measured:
// echo every message; end a handed-over net.Socket after writing "handled by child\n". Work:
// - rt small: one message in flight, {id, name, tags} (what a request looks like);
// - rt rich ('advanced' only): the same with a BigInt id, a Date, a Set and a Map;
// - handoffs: a client connects, the parent accepts (pauseOnConnect) and sends the socket with
//   child.send(msg, socket) (NODE_HANDLE, then the child's ACK), the child answers and ends
//   it, the client reads to the end; one at a time, as Node has one handle in flight anyway.
// Each round runs the four (mode, child) pairs in an order rotated from round to round, each
// for --ms milliseconds per figure after a warm-up; a figure's ratio is C++ child / Node child
// of the same round and mode. Prints every figure as "round mode child metric value" and then
// a table of medians over rounds (min-max) of the rates and of the ratios.
'use strict';
const cp = require('child_process');
const net = require('net');
const os = require('os');

const args = process.argv.slice(2);
const peer = args[0];
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i > 0 ? Number(args[i + 1]) : def;
};
const quick = args.includes('--quick');
const rounds = opt('--rounds', quick ? 3 : 5);
const ms = opt('--ms', quick ? 300 : 1500);
if (!peer || peer.startsWith('--') || !(rounds > 0) || !(ms > 0)) {
  console.error('usage: node node_interop.js <path to node_peer> [--rounds N] [--ms N] [--quick]');
  process.exit(2);
}

const nodePeer = `
process.on('message', (m, h) => {
  if (h) { h.end('handled by child\\n'); return; }
  process.send(m);
});
process.on('disconnect', () => process.exit(0));`;

function start(child, serialization) {
  const stdio = ['inherit', 'inherit', 'inherit', 'ipc'];
  const c = child === 'c++' ? cp.spawn(peer, [], {stdio, serialization})
                            : cp.spawn(process.execPath, ['-e', nodePeer], {stdio, serialization});
  c.exited = new Promise((resolve) => c.on('exit', (code, signal) => resolve({code, signal})));
  return c;
}

const now = () => Number(process.hrtime.bigint()) / 1e6; // milliseconds

/** Sequential round trips for `budget` ms; returns round trips per second. */
function roundTrips(child, message, budget) {
  return new Promise((resolve, reject) => {
    let n = 0;
    const t0 = now();
    const onMessage = () => {
      n++;
      const t = now();
      if (t - t0 < budget) {
        child.send(message);
      } else {
        child.off('message', onMessage);
        resolve(n / ((t - t0) / 1000));
      }
    };
    child.on('message', onMessage);
    child.once('exit', () => reject(new Error('child exited during round trips')));
    child.send(message);
  });
}

/** Sequential socket handoffs for `budget` ms; returns handoffs per second. */
async function handoffs(child, budget) {
  const server = net.createServer({pauseOnConnect: true}, (s) => child.send('socket', s));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  let n = 0;
  const t0 = now();
  let t = t0;
  while (t - t0 < budget) {
    const text = await new Promise((resolve, reject) => {
      let data = '';
      const c = net.connect(port, '127.0.0.1');
      c.setEncoding('utf8');
      c.on('data', (d) => { data += d; });
      c.on('end', () => resolve(data));
      c.on('error', reject);
    });
    if (text !== 'handled by child\n') throw new Error('handoff answered ' + JSON.stringify(text));
    n++;
    t = now();
  }
  await new Promise((resolve) => server.close(resolve));
  return n / ((t - t0) / 1000);
}

const small = {id: 42, name: 'book', tags: ['a', 'b']};
const rich = () => ({id: 42n ** 3n, at: new Date(1700000000000), tags: new Set(['a', 'b']),
                     attrs: new Map([['name', 'book'], [7, true]])});

async function measure(mode, child) {
  const c = start(child, mode);
  const out = {};
  await roundTrips(c, small, Math.min(200, ms)); // warm-up: JIT, page faults, caches
  out['rt small'] = await roundTrips(c, small, ms);
  if (mode === 'advanced') out['rt rich'] = await roundTrips(c, rich(), ms);
  await handoffs(c, Math.min(200, ms));
  out.handoffs = await handoffs(c, ms);
  c.disconnect();
  const st = await c.exited;
  if (st.code !== 0) throw new Error(`${child} child (${mode}) exited ${JSON.stringify(st)}`);
  return out;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const range = (xs) => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;

(async () => {
  const pairs = [];
  for (const mode of ['json', 'advanced']) for (const child of ['c++', 'node']) pairs.push([mode, child]);
  const results = {}; // results[mode][metric][child] = [per round]
  for (let r = 0; r < rounds; r++) {
    const k = r % pairs.length;
    for (const [mode, child] of [...pairs.slice(k), ...pairs.slice(0, k)]) {
      const figures = await measure(mode, child);
      for (const [metric, value] of Object.entries(figures)) {
        console.log(`${r} ${mode} ${child} ${metric.replace(' ', '_')} ${value.toFixed(0)}`);
        ((results[mode] ??= {})[metric] ??= {'c++': [], node: []})[child][r] = value;
      }
    }
    console.error(`node_interop: round ${r + 1}/${rounds} done`);
  }

  const lines = [];
  lines.push(`Node ${process.version} parent; ${rounds} rounds of ${ms} ms per figure; ` +
             `${os.cpus()[0].model}, ${os.cpus().length} vCPU, Linux ${os.release()}; ` +
             `${new Date().toISOString().slice(0, 10)}`);
  lines.push('');
  lines.push('| mode | work | C++ child /s | Node child /s | C++ / Node (median) | min–max |');
  lines.push('|---|---|---|---|---|---|');
  for (const mode of Object.keys(results)) {
    for (const [metric, by] of Object.entries(results[mode])) {
      const ratios = by['c++'].map((v, i) => v / by.node[i]);
      lines.push(`| ${mode} | ${metric} | ${median(by['c++']).toFixed(0)} | ${median(by.node).toFixed(0)} | ` +
                 `${median(ratios).toFixed(2)}× | ${range(ratios)} |`);
    }
  }
  console.log('');
  console.log(lines.join('\n'));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
