// bench/compare_node.js - Node.js child_process.fork, measured for bench/compare: round trips,
// one-way streams, handle passing and spawn-to-first-message over Node's IPC channel.
// SPDX-License-Identifier: BSL-1.0
//
//   node compare_node.js json|advanced [--quick]
//
// The same work as channel_bench's rows: messages are strings of N 'x' characters; the child is
// a forked copy of this script. Handle passing sends a listening net.Server (the cheapest handle
// Node accepts; Node waits for the child's acknowledgement of each one before sending the next)
// that the child closes. Prints lines "node-MODE metric size value", like channel_bench
// --machine.
'use strict';
const { fork } = require('child_process');
const net = require('net');
const os = require('os');
const path = require('path');

if (process.argv[2] === '--child') {
  // What the parent asked for: echo every message, or count until an empty one and report.
  const what = process.argv[3];
  if (what === 'spawn') {
    process.send('ready');
    process.disconnect();
  } else if (what === 'echo') {
    process.on('message', (m) => process.send(m));
  } else {
    let n = 0;
    process.on('message', (m, handle) => {
      if (m === '') {
        process.send(String(n));
        n = 0;
        return;
      }
      if (handle) handle.close();
      ++n;
    });
  }
  process.on('disconnect', () => process.exit(0));
  return;
}

const mode = process.argv[2];
if (mode !== 'json' && mode !== 'advanced') {
  console.error('usage: node compare_node.js json|advanced [--quick]');
  process.exit(2);
}
const quick = process.argv.includes('--quick');
const ms = (quick
  ? { warm: 8, latency: 25, stream: 40, fd: 40, spawns: 5 }
  : { warm: 30, latency: 150, stream: 250, fd: 250, spawns: 15 });
const name = `node-${mode}`;
const now = () => Number(process.hrtime.bigint()) / 1000; // microseconds

function start(what) {
  return fork(__filename, ['--child', what], { serialization: mode });
}

function stop(child) {
  return new Promise((resolve) => {
    child.once('exit', resolve);
    child.disconnect();
  });
}

function next(child) {
  return new Promise((resolve) => child.once('message', resolve));
}

async function roundTrips(size) {
  const child = start('echo');
  const payload = 'x'.repeat(size);
  const loop = async (budgetMs, maxCount, samples) => {
    const end = now() + budgetMs * 1000;
    for (let i = 0; i < maxCount && now() < end; ++i) {
      const t0 = now();
      child.send(payload);
      const m = await next(child);
      if (samples) samples.push(now() - t0);
      if (m.length !== size) throw new Error('echo of wrong size');
    }
  };
  await loop(ms.warm, 200, null);
  const us = [];
  await loop(ms.latency, 20000, us);
  await stop(child);
  us.sort((a, b) => a - b);
  const pct = (p) => us[Math.min(us.length - 1, Math.floor(p * us.length))];
  console.log(`${name} rt_p50_us ${size} ${pct(0.5).toFixed(3)}`);
  console.log(`${name} rt_p99_us ${size} ${pct(0.99).toFixed(3)}`);
}

// Sends until the budget is spent, at most `window` sends outstanding (Node queues without
// bound otherwise), then an empty message; resolves with the child's count.
function batch(child, payload, handle, budgetMs) {
  const window = 64;
  const end = now() + budgetMs * 1000;
  return new Promise((resolve, reject) => {
    let sent = 0, inflight = 0, finished = false;
    const pump = () => {
      while (inflight < window && now() < end) {
        ++inflight;
        ++sent;
        const done = (err) => {
          if (err) return reject(err);
          --inflight;
          pump();
        };
        if (handle) child.send(payload, handle, done);
        else child.send(payload, done);
      }
      if (inflight === 0 && !finished) {
        finished = true;
        child.once('message', (m) => {
          if (Number(m) !== sent) reject(new Error(`lost messages: ${m} of ${sent}`));
          resolve(sent);
        });
        child.send('');
      }
    };
    pump();
  });
}

async function stream(size, handle) {
  const child = start('count');
  const payload = 'x'.repeat(size);
  await batch(child, payload, handle, ms.warm);
  const t0 = now();
  const n = await batch(child, payload, handle, handle ? ms.fd : ms.stream);
  const s = (now() - t0) / 1e6;
  await stop(child);
  if (handle) {
    console.log(`${name} fd_per_s ${size} ${(n / s).toFixed(1)}`);
  } else {
    console.log(`${name} tp_mb_s ${size} ${(n * size / s / 1e6).toFixed(3)}`);
    console.log(`${name} tp_msgs_s ${size} ${(n / s).toFixed(1)}`);
  }
}

async function spawnToFirstMessage() {
  const once = async () => {
    const t0 = now();
    const child = start('spawn');
    await next(child);
    const us = now() - t0;
    await new Promise((resolve) => child.once('exit', resolve));
    return us;
  };
  await once();
  const us = [];
  for (let i = 0; i < ms.spawns; ++i) us.push(await once());
  us.sort((a, b) => a - b);
  console.log(`${name} spawn_us 0 ${us[Math.floor(us.length / 2)].toFixed(1)}`);
}

(async () => {
  for (const size of [8, 1024, 65536, 1048576]) await roundTrips(size);
  for (const size of [64, 1048576]) await stream(size, null);
  const server = net.createServer();
  const sock = path.join(os.tmpdir(), `ipcxx-compare-${process.pid}.sock`);
  await new Promise((resolve) => server.listen(sock, resolve));
  try {
    await stream(8, server);
  } finally {
    server.close();
  }
  await spawnToFirstMessage();
})().catch((e) => {
  console.error(`${name}: ${e.stack || e}`);
  process.exit(1);
});
