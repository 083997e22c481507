/**
 * `npm run chaos [-- --tasks 200 --seed 7 --time-scale 0.05 --echo --cluster]`: the chaos run at
 * full size (the worker killed twice, the server and the Temporal dev server once each; with
 * `--cluster`, on the production shape: each kill takes the next of two workers or HTTP replicas,
 * and the Temporal server runs on PostgreSQL). Exits 1 when any task ends otherwise than the
 * simulator says, an asset is not stored exactly once, or a log shows an unhandled error.
 */
import { parseArgs } from 'node:util';
import { describeChaos } from './chaos/report.ts';
import { runChaos } from './chaos/scenario.ts';

const { values } = parseArgs({
  options: {
    tasks: { type: 'string', default: '200' },
    seed: { type: 'string', default: '7' },
    'time-scale': { type: 'string', default: '0.05' },
    echo: { type: 'boolean', default: false },
    cluster: { type: 'boolean', default: false },
  },
});

const report = await runChaos({
  tasks: Number(values.tasks),
  seed: Number(values.seed),
  timeScale: Number(values['time-scale']),
  restarts: { worker: 2, server: 1, temporal: 1 },
  echo: values.echo,
  cluster: values.cluster,
  progress: (message) => console.log(`chaos: ${message}`),
});
console.log(`\n${describeChaos(report)}`);
process.exitCode = report.failures.length ? 1 : 0;
