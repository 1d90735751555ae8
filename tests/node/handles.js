// tests/node/handles.js - a Node child for the C++ parent's handle tests.
// Handles it receives: a net.Socket gets "node got socket <msg>\n" and is ended; a net.Server
// answers each connection with "node server\n"; a dgram.Socket answers each datagram with
// "pong <datagram>". Each is reported with {got: <type>, msg}.
// Commands: {do: 'serve'} listens on 127.0.0.1 (pauseOnConnect), replies {port}, and sends
// the first connection back with {socket: true}; {do: 'count'} replies {count} from
// getConnections(); {do: 'close'} replies {closed: true} once server.close() completes;
// {do: 'send_server'} sends back a listening server, with {port}. Anything else is echoed.
'use strict';
const net = require('net');
const dgram = require('dgram');

let server = null;
process.on('message', (m, h) => {
  if (h) {
    if (h instanceof net.Socket) {
      h.end('node got socket ' + JSON.stringify(m) + '\n');
      process.send({got: 'net.Socket', msg: m});
    } else if (h instanceof net.Server) {
      h.on('connection', (c) => c.end('node server\n'));
      process.send({got: 'net.Server', msg: m});
    } else if (h instanceof dgram.Socket) {
      h.on('message', (buf, rinfo) => h.send('pong ' + buf, rinfo.port, rinfo.address));
      process.send({got: 'dgram.Socket', msg: m});
    } else {
      process.send({got: 'other', msg: m});
    }
    return;
  }
  switch (m && m.do) {
    case 'serve':
      server = net.createServer({pauseOnConnect: true});
      server.once('connection', (s) => process.send({socket: true}, s));
      server.listen(0, '127.0.0.1', () => process.send({port: server.address().port}));
      break;
    case 'count':
      server.getConnections((e, n) => process.send({count: n, error: e ? e.message : null}));
      break;
    case 'close':
      server.close(() => process.send({closed: true}));
      break;
    case 'send_server': {
      const s = net.createServer((c) => c.end('node kept it\n'));
      s.listen(0, '127.0.0.1', () => process.send({port: s.address().port}, s));
      break;
    }
    default:
      process.send(m);
  }
});
process.on('disconnect', () => process.exit(0));
