// tests/node/worker.js - a Node worker for a C++ parent's ipc::shared_server: it keeps every
// socket it is handed (after writing "node worker\n" on it), so that the parent's counts see
// them in Node's own socket list; {do: 'end'} closes them all (destroy) and replies {ended: n} once they
// have closed. Exits when the parent disconnects.
'use strict';
const net = require('net');

const held = new Set();
process.on('message', (m, socket) => {
  if (socket instanceof net.Socket) {
    held.add(socket);
    socket.on('close', () => held.delete(socket));
    socket.write('node worker\n');
    process.send({held: held.size});
    return;
  }
  if (m && m.do === 'end') {
    const n = held.size;
    let left = n;
    if (n === 0) process.send({ended: 0});
    for (const s of held) {
      s.on('close', () => {
        if (--left === 0) setImmediate(() => process.send({ended: n}));
      });
      s.destroy();
    }
  }
});
process.on('disconnect', () => process.exit(0));
