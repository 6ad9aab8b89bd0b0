/**
 * The storage copy, measured: what the gateway's Kafka write costs per event
 * with and without a second copy of each event for a storage stream. Until
 * the event store (instances/event-store.ts) read the routed topics, every
 * accepted event was also written to `site.storage`; this is the figure
 * behind removing it (README, "The event store and history").
 *
 *   npm run bench:storage [-- --quick]
 *
 * One broker (the publish bench's site `pub`), fedgate's distributor writing
 * exactly the gateway's records (routed topic, monitoring) in batches of 100
 * over 8 loops, acks=all, with no HTTP in front; then the same plus the copy
 * in the same request. Rounds alternate (A, B, A, B, …) so drift falls on
 * both. Reports events/s and CPU µs per event of the writing process (from
 * process.cpuUsage), and the ratios. Writes bench/results/storage-copy.json.
 * Never part of `npm test`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EVENT_TYPES } from '../contract/index.ts';
import { REPO_ROOT, STATE_DIR, startPublishBench } from './lib/federation.ts';
import { type KafkaLoadResult, kafkaLoad } from './lib/load.ts';
import { table } from './lib/report.ts';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 2 : 3;
const SECONDS = quick ? 8 : 15;
const COPY_TOPIC = 'bench.storage-copy';
const say = (line: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const round = (n: number, digits = 0) => Math.round(n * 10 ** digits) / 10 ** digits;

const runDir = join(STATE_DIR, 'bench-runs', `storage-copy-${Date.now()}`);
mkdirSync(runDir, { recursive: true });
say('starting one broker (site pub) and its topics');
const bench = await startPublishBench({ runDir, log: (l) => say(l) });
try {
  const admin = bench.local('pub').admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: COPY_TOPIC, numPartitions: bench.topology.partitions, replicationFactor: 1 }], waitForLeaders: true });
  await admin.disconnect();

  const spec = {
    topologyFile: bench.topologyFile,
    certsDir: bench.certsDir,
    site: 'pub',
    topic: COPY_TOPIC,
    connections: 8,
    batch: 100,
    valueBytes: 0,
    durationSeconds: SECONDS,
    event: { type: EVENT_TYPES.price, data: { productId: 'bench-sku', region: 'us', price: { currency: 'USD', amount: '19.99' } } },
  };
  const runs: Record<'without' | 'with', KafkaLoadResult[]> = { without: [], with: [] };
  for (let r = 1; r <= ROUNDS; r++) {
    for (const shape of ['without', 'with'] as const) {
      const result = await kafkaLoad({ ...spec, mode: shape === 'with' ? 'distributor-copy' : 'distributor' });
      runs[shape].push(result);
      say(`round ${r}, ${shape} the copy: ${round(result.eventsPerSecond)} events/s, ${round((result.cpuSeconds * 1e6) / result.events, 1)} µs CPU per event`);
    }
  }
  const total = (rs: KafkaLoadResult[]) => ({
    eventsPerSecond: rs.reduce((s, x) => s + x.events, 0) / rs.reduce((s, x) => s + x.seconds, 0),
    usPerEvent: (rs.reduce((s, x) => s + x.cpuSeconds, 0) * 1e6) / rs.reduce((s, x) => s + x.events, 0),
  });
  const without = total(runs.without);
  const withCopy = total(runs.with);
  const result = {
    date: new Date().toISOString(),
    quick,
    rounds: ROUNDS,
    secondsPerRun: SECONDS,
    withoutCopy: { eventsPerSecond: round(without.eventsPerSecond), cpuUsPerEvent: round(without.usPerEvent, 1) },
    withCopy: { eventsPerSecond: round(withCopy.eventsPerSecond), cpuUsPerEvent: round(withCopy.usPerEvent, 1) },
    throughputRatio: round(without.eventsPerSecond / withCopy.eventsPerSecond, 2),
    cpuRatio: round(without.usPerEvent / withCopy.usPerEvent, 2),
    runs,
  };
  console.log(
    table(
      ['records per event', 'events/s', 'CPU µs per event'],
      [
        ['routed + monitoring (now)', String(result.withoutCopy.eventsPerSecond), String(result.withoutCopy.cpuUsPerEvent)],
        ['routed + storage copy + monitoring (before)', String(result.withCopy.eventsPerSecond), String(result.withCopy.cpuUsPerEvent)],
        ['now ÷ before', String(result.throughputRatio), String(result.cpuRatio)],
      ],
    ),
  );
  mkdirSync(join(REPO_ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(join(REPO_ROOT, 'bench', 'results', 'storage-copy.json'), `${JSON.stringify(result, null, 2)}\n`);
} finally {
  await bench.stop();
}
