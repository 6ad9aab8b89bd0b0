/**
 * Cross-site latency, hop by hop: the benchmark federation (bench/lib/federation.ts),
 * then evenly spaced price updates at cloud-a for each rate, each consumed at cloud-b
 * after MM2 copied it. Per rate and round it prints p50/p90/p99 of the whole path
 * (HTTP accept -> price book updated), the MM2 hop (accept -> copy landed, LogAppendTime),
 * the consumer hop (landed -> updated), the consumer's batch processing time and batch
 * size, the cores each process used and the source broker's requests per second by type
 * during the load; `--idle` also prints both for the idle federation over 20 s at the end.
 *
 *   npm run bench:latency -- [--rates 20,120] [--seconds 10] [--rounds 2] [--idle]
 *
 * Figures, not checks: never part of `npm test`.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { metricsSecret } from '../certs/index.ts';
import { EVENT_TYPES } from '../contract/index.ts';
import { findManaged, JMX_EXPORTER_USER } from '../deploy/index.ts';
import { STATE_DIR, startBenchFederation, withBenchDb } from './lib/federation.ts';
import { ascending, type ConsumedRow, consumerHop, percentile, priceBookConsumed } from './lib/latency-rows.ts';
import { httpLoad } from './lib/load.ts';
import { cpuSecondsOf, withDescendants } from './lib/proc.ts';

const { values: args } = parseArgs({
  options: {
    rates: { type: 'string', default: '20,120' },
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '2' },
    idle: { type: 'boolean', default: false },
  },
});
const rates = args.rates.split(',').map(Number);
const seconds = Number(args.seconds);
const rounds = Number(args.rounds);
if (rates.some((r) => !(r > 0)) || !(seconds > 0) || !(rounds > 0)) {
  throw new Error('--rates takes positive events per second separated by commas (20,120); --seconds and --rounds positive numbers');
}

const SOURCE = 'cloud-a';
const TARGET = 'cloud-b';
const say = (line: string) => process.stderr.write(`[latency ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const runDir = join(STATE_DIR, 'bench-runs', `latency-${randomUUID().slice(0, 8)}`);

const f = await startBenchFederation({ runDir, log: () => undefined });
say(`benchmark federation up in ${f.upSeconds.toFixed(1)} s; 60 s to settle`);
const site = f.topology.sites.find((s) => s.name === SOURCE)!;
const url = `http://${site.address}:${site.ports.gateway}/v1/events`;
const headers = { authorization: `Bearer ${await f.token(SOURCE)}` };

/** CPU-seconds so far per role (cloud-a/broker, ...), each process with its children. */
function cpuByRole(): Map<string, number> {
  const m = new Map<string, number>();
  for (const p of findManaged(runDir)) for (const pid of withDescendants(p.pid)) m.set(p.role, (m.get(p.role) ?? 0) + cpuSecondsOf(pid));
  return m;
}
const coresBetween = (a: Map<string, number>, b: Map<string, number>, s: number) =>
  [...b].map(([role, cpu]) => `${role} ${((cpu - (a.get(role) ?? 0)) / s).toFixed(2)}`).join(', ');
/** Requests the source site's broker has served so far, per type (its JMX exporter's `kafka_network_requests_total`). */
async function sourceBrokerRequests(): Promise<Map<string, number>> {
  const m = new Map<string, number>();
  if (site.ports.brokerMetrics === undefined) return m;
  const auth = Buffer.from(`${JMX_EXPORTER_USER}:${metricsSecret(f.certsDir, SOURCE)}`).toString('base64');
  const text = await (await fetch(`http://${site.address}:${site.ports.brokerMetrics}/metrics`, { headers: { authorization: `Basic ${auth}` } })).text();
  for (const [, request, value] of text.matchAll(/^kafka_network_requests_total\{request="([A-Za-z]+)"[^}]*\} (\S+)$/gm)) {
    m.set(request!, (m.get(request!) ?? 0) + Number(value));
  }
  return m;
}
const REQUESTS = ['Fetch', 'OffsetCommit', 'Produce'];
const requestsBetween = (a: Map<string, number>, b: Map<string, number>, s: number) =>
  REQUESTS.map((k) => `${k} ${(((b.get(k) ?? 0) - (a.get(k) ?? 0)) / s).toFixed(1)}/s`).join(', ');
const line = (name: string, xs: number[]) => `${name} ${[0.5, 0.9, 0.99].map((q) => percentile(xs, q)?.toFixed(0) ?? 'n/a').join('/')}`;
/** What each round reports, per event, in ms. */
const HOPS: Array<[string, (r: ConsumedRow) => number | null]> = [
  ['whole', (r) => r.consumed],
  ['MM2 hop', (r) => r.replicated],
  ['consumer hop', consumerHop],
  ['batch processing', (r) => r.processing],
];
const BATCH_SIZE = (r: ConsumedRow) => r.batch;

try {
  await sleep(60_000);
  for (let round = 1; round <= rounds; round++) {
    for (const rate of rates) {
      const productId = `latency-${randomUUID().slice(0, 8)}`;
      const before = cpuByRole();
      const requestsBefore = await sourceBrokerRequests();
      const load = await httpLoad({
        url,
        headers,
        body: JSON.stringify({ type: EVENT_TYPES.price, data: { productId, region: 'us', price: { currency: 'USD', amount: '19.99' } } }),
        connections: 16,
        overallRate: rate,
        durationSeconds: seconds,
      });
      const cores = coresBetween(before, cpuByRole(), load.seconds);
      const requests = requestsBetween(requestsBefore, await sourceBrokerRequests(), load.seconds);
      const rows = await waitForConsumed(productId, load.ok);
      const hops = HOPS.map(([name, pick]) => line(name, ascending(rows, pick)));
      const batch = line('batch size', ascending(rows, BATCH_SIZE));
      say(`round ${round}, ${rate}/s: ${rows.length} of ${load.ok} accepted consumed at ${TARGET}; ms p50/p90/p99: ${hops.join(', ')}; ${batch}`);
      say(`  cores during the load: ${cores}`);
      say(`  ${SOURCE} broker requests during the load: ${requests}`);
    }
  }
  if (args.idle) {
    await sleep(10_000);
    const before = cpuByRole();
    const requestsBefore = await sourceBrokerRequests();
    await sleep(20_000);
    say(`idle cores over 20 s: ${coresBetween(before, cpuByRole(), 20)}`);
    say(`  ${SOURCE} broker requests while idle: ${requestsBetween(requestsBefore, await sourceBrokerRequests(), 20)}`);
  }
} finally {
  await f.stop();
}

/** The price book's consumed rows at the target for one product, with the copy's landing; waits up to 60 s for all of them. */
async function waitForConsumed(productId: string, accepted: number): Promise<ConsumedRow[]> {
  return withBenchDb(f.databaseUrl, async (db) => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const rows = await priceBookConsumed(db, f, TARGET, productId);
      if (rows.length >= accepted || Date.now() > deadline) return rows;
      await sleep(500);
    }
  });
}
