// bench/cluster_node.js - the same server as `cluster_bench serve cluster N` (and `serve self`
// with N = 0), written with Node's `cluster` module: the primary accepts and hands connections
// to N workers round robin (cluster.SCHED_RR, Node's default on Linux). Each connection gets
// "ok\n" and is closed. Prints "PORT p" once every worker listens; exits when stdin ends.
// SPDX-License-Identifier: BSL-1.0
'use strict';
const cluster = require('cluster');
const net = require('net');

const workers = Number(process.argv[2] || 2);
const serve = (sock) => sock.end('ok\n');

if (cluster.isPrimary && workers > 0) {
  cluster.schedulingPolicy = cluster.SCHED_RR;
  let listening = 0;
  let port = 0;
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on('listening', (_w, address) => {
    port = address.port;
    if (++listening === workers) console.log(`PORT ${port}`);
  });
  process.stdin.on('end', () => {
    for (const id in cluster.workers) cluster.workers[id].kill();
    process.exit(0);
  });
  process.stdin.resume();
} else if (cluster.isWorker) {
  // Port 0 in a cluster: the primary picks one port and shares it with every worker.
  net.createServer(serve).listen(0, '127.0.0.1');
} else {
  const server = net.createServer(serve).listen(0, '127.0.0.1', () => {
    console.log(`PORT ${server.address().port}`);
  });
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}
