// examples/node/parent.js - a Node server that hands every connection to a C++ child.
// Usage: node examples/node/parent.js build/examples/node_child [port]
// Prints "listening on <port>" once it accepts connections (port 0 picks a free one); each
// client is answered by the C++ child with "Child handled it.".
'use strict';
const {spawn} = require('child_process');
const net = require('net');

const child = spawn(process.argv[2], [], {stdio: ['inherit', 'inherit', 'inherit', 'ipc']});
child.on('exit', (code) => process.exit(code === null ? 1 : code));

// pauseOnConnect: this process must not read from a connection it is handing over.
const server = net.createServer({pauseOnConnect: true}, (socket) => child.send('socket', socket));
server.listen(Number(process.argv[3] || 8000), '127.0.0.1', () => {
  console.log('listening on ' + server.address().port);
});
process.on('SIGTERM', () => child.disconnect()); // the child exits, and so do we
