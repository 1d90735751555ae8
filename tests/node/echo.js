// tests/node/echo.js - a Node child for the C++ parent tests: sends every message back.
// A message {"echo_test": "disconnect"} makes it close the channel from its side instead;
// {"echo_test": "send_many", "count": N} makes it send N numbered messages first.
'use strict';
process.on('message', (m) => {
  if (m && typeof m === 'object' && m.echo_test === 'disconnect') {
    process.disconnect();
    return;
  }
  if (m && typeof m === 'object' && m.echo_test === 'send_many') {
    for (let i = 0; i < m.count; i++) process.send({n: i});
    return;
  }
  process.send(m);
});
process.on('disconnect', () => process.exit(0));
