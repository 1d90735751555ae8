// bench/spawn_node.js - Node's child_process.fork spawn-to-first-message latency, for
// bench/spawn_compare.sh. Usage: node spawn_node.js [count]
'use strict';
const { fork } = require('child_process');

if (process.argv[2] === '--child') {
  process.send('ready', () => process.disconnect());
} else {
  const count = Number(process.argv[2] || 50);
  const times = [];
  const once = () => new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const child = fork(__filename, ['--child'], { serialization: 'json' });
    child.once('message', () => {
      times.push(Number(process.hrtime.bigint() - t0) / 1000);
      child.once('exit', resolve);
    });
  });
  (async () => {
    for (let i = 0; i < 5; ++i) await once();
    times.length = 0;
    for (let i = 0; i < count; ++i) await once();
    times.sort((a, b) => a - b);
    console.log(`NODE_US ${times[Math.floor(times.length / 2)].toFixed(1)}`);
  })();
}
