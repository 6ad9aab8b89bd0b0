/**
 * Replay, measured: how fast a site that lost its database is rebuilt from
 * another site's event store, next to how fast the same events reached it
 * the first time, in one run.
 *
 *   npm run bench:replay [-- --quick]
 *
 * Two sites, `src` (eu) and `dst` (eu, us), with MM2 between them and both
 * databases on the PostgreSQL server (one schema each).
 *
 * 1. Ingest: N price events of P products published at src (batches of 100,
 *    8 requests in flight); the rate is N over the time from the first
 *    request to dst's price book having consumed the last of them.
 * 2. Loss: dst's instance stops, its schema (effects, event store,
 *    monitoring) is dropped, and it starts again on an empty database; its
 *    consumer groups' offsets stay committed, so nothing comes back by
 *    itself.
 * 3. Replay: `POST /v1/replays` at dst's gateway for the run's time range.
 *    Reported: the job's own rate (stored events read through the federated
 *    history and re-sent to site.replay, acks=all) and the end-to-end rate
 *    (until dst's price book has re-applied every event, its `replayed`
 *    rows), with CPU per 1,000 events of dst's gateway and instance (from
 *    /proc). Afterwards dst's price book must equal src's, row by row.
 *
 * Prints a table and writes bench/results/replay.json. Never part of `npm test`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { issueToken, SCOPES } from '../certs/index.ts';
import { EVENT_TYPES, type ReplayJob } from '../contract/index.ts';
import { createLauncher } from '../deploy/index.ts';
import { parseTopology } from '../federation/index.ts';
import { dropPostgresSchema } from '../instances/db/database.ts';
import { BENCH_ENV } from './env.ts';
import { BENCH_LIMITS, REPO_ROOT, STATE_DIR } from './lib/federation.ts';
import { cpuSecondsOf } from './lib/proc.ts';
import { table } from './lib/report.ts';

const quick = process.argv.includes('--quick');
const EVENTS = quick ? 5_000 : 20_000;
const PRODUCTS = 2_000;
const BATCH = 100;
const IN_FLIGHT = 8;
const say = (line: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const round = (n: number, digits = 0) => Math.round(n * 10 ** digits) / 10 ** digits;
const ports = { kafka: 29392, interSite: 29393, controller: 29394, instance: 28381, gateway: 28380, peer: 28743 };
const topology = parseTopology(
  {
    federation: 'fedgate-bench-replay',
    sites: [
      { name: 'src', regions: ['eu'], countries: ['DE'], address: '127.240.0.1', ports, limits: BENCH_LIMITS },
      { name: 'dst', regions: ['eu', 'us'], countries: ['DE', 'US'], address: '127.241.0.1', ports, limits: BENCH_LIMITS },
    ],
  },
  'replay bench topology',
);
const DB_URL = BENCH_ENV.FEDGATE_BENCH_DATABASE_URL;
const SCHEMAS = { src: 'site_src', dst: 'site_dst' } as const;
const runDir = join(STATE_DIR, 'bench-runs', `replay-${Date.now()}`);
const certsDir = join(runDir, 'certs');
const pids = new Map<string, number>();
const launcher = createLauncher({
  topology,
  stateDir: STATE_DIR,
  runDir,
  certsDir,
  caKeyDir: join(runDir, 'ca-key'),
  log: say,
  systemEnv: BENCH_ENV.system,
  databaseUrl: DB_URL,
  env: { LOG_LEVEL: 'warn' },
  onSpawn: (pid, role) => pids.set(role, pid),
});

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 900_000, everyMs = 250): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

for (const s of Object.values(SCHEMAS)) await dropPostgresSchema(DB_URL, s);
const db = new pg.Client({ connectionString: DB_URL });
try {
  await launcher.up();
  await db.connect();
  const token = await issueToken({ secretsDir: certsDir, topology, site: 'src', scopes: [...SCOPES], subject: 'bench', ttlSeconds: 7200 });
  const count = async (schema: string, stage: string) =>
    Number((await db.query(`SELECT count(DISTINCT event_id) AS n FROM ${schema}.monitoring_events WHERE stage = $1`, [stage])).rows[0].n);
  const priceBook = async (schema: string) =>
    (await db.query(`SELECT product_id, region, currency, amount_minor, event_id FROM ${schema}.price_book ORDER BY product_id, region`)).rows.map(
      (r: Record<string, unknown>) => `${r.product_id}|${r.region}|${r.currency}|${r.amount_minor}|${r.event_id}`,
    );

  // 1. Ingest at src, until dst has consumed every event.
  const from = new Date(Date.now() - 1000).toISOString();
  say(`ingest: ${EVENTS} price events of ${PRODUCTS} products at src, ${BATCH} per request, ${IN_FLIGHT} in flight`);
  const t0 = Date.now();
  let next = 0;
  const acknowledged: string[] = [];
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      for (;;) {
        const first = next;
        next += BATCH;
        if (first >= EVENTS) return;
        const events = Array.from({ length: Math.min(BATCH, EVENTS - first) }, (_, j) => ({
          type: EVENT_TYPES.price,
          data: { productId: `R-${(first + j) % PRODUCTS}`, region: 'eu', price: { currency: 'EUR', minor: 100 + ((first + j) % 9973) } },
        }));
        const res = await fetch(`${launcher.gatewayUrl('src')}/v1/events`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify(events),
        });
        if (res.status !== 202) throw new Error(`publish answered ${res.status}: ${await res.text()}`);
        acknowledged.push(...((await res.json()) as { events: { id: string }[] }).events.map((e) => e.id));
      }
    }),
  );
  const publishedMs = Date.now() - t0;
  await waitFor('dst consumed the ingest', async () => (await count(SCHEMAS.dst, 'consumed')) >= EVENTS);
  const ingestMs = Date.now() - t0;
  await waitFor('both stores hold the ingest', async () => {
    const r = await db.query(`SELECT (SELECT count(*) FROM ${SCHEMAS.src}.stored_events) AS src, (SELECT count(*) FROM ${SCHEMAS.dst}.stored_events) AS dst`);
    return Number(r.rows[0].src) >= EVENTS && Number(r.rows[0].dst) >= EVENTS;
  });
  const to = new Date(Date.now() + 1000).toISOString();
  const before = await priceBook(SCHEMAS.src);
  if (before.length !== PRODUCTS) throw new Error(`src's price book has ${before.length} rows, expected ${PRODUCTS}`);
  if (JSON.stringify(await priceBook(SCHEMAS.dst)) !== JSON.stringify(before)) throw new Error("dst's price book differs from src's after the ingest");

  // 2. dst loses its database.
  say("loss: dst's instance stops, its schema is dropped, it starts on an empty database");
  await launcher.stop('dst', 'instance');
  await dropPostgresSchema(DB_URL, SCHEMAS.dst);
  await launcher.start('dst', 'instance');
  if ((await priceBook(SCHEMAS.dst)).length !== 0) throw new Error("dst's price book is not empty after the loss");

  // 3. Replay to dst from the stores (src's; dst's own is gone).
  say(`replay: ${from} .. ${to} to dst`);
  const gatewayPid = pids.get('dst/gateway')!;
  const instancePid = pids.get('dst/instance')!;
  const cpu0 = { gateway: cpuSecondsOf(gatewayPid), instance: cpuSecondsOf(instancePid) };
  const r0 = Date.now();
  const res = await fetch(`${launcher.gatewayUrl('dst')}/v1/replays`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ from, to }),
  });
  if (res.status !== 202) throw new Error(`replay answered ${res.status}: ${await res.text()}`);
  let job = (await res.json()) as ReplayJob;
  await waitFor('the replay job ends', async () => {
    job = (await (await fetch(`${launcher.gatewayUrl('dst')}/v1/replays/${job.id}`, { headers: { authorization: `Bearer ${token}` } })).json()) as ReplayJob;
    return job.state !== 'running';
  });
  if (job.state !== 'done' || job.sent !== EVENTS || job.unreachable.length > 0) throw new Error(`replay ended ${JSON.stringify(job)}`);
  const jobMs = Date.parse(job.finishedAt!) - Date.parse(job.startedAt);
  await waitFor("dst's price book re-applied every event", async () => (await count(SCHEMAS.dst, 'replayed')) >= EVENTS);
  const replayMs = Date.now() - r0;
  const cpu = { gateway: cpuSecondsOf(gatewayPid) - cpu0.gateway, instance: cpuSecondsOf(instancePid) - cpu0.instance };
  const after = await priceBook(SCHEMAS.dst);
  const equal = JSON.stringify(after) === JSON.stringify(before);
  if (!equal) throw new Error(`dst's rebuilt price book (${after.length} rows) differs from src's (${before.length})`);
  const stored = Number((await db.query(`SELECT count(*) AS n FROM ${SCHEMAS.dst}.stored_events`)).rows[0].n);
  const ids = new Set((await db.query(`SELECT event_id FROM ${SCHEMAS.dst}.stored_events`)).rows.map((r: { event_id: string }) => r.event_id as string));
  const missing = acknowledged.filter((id) => !ids.has(id)).length;
  if (missing > 0) throw new Error(`${missing} acknowledged events are not in dst's rebuilt store`);

  const ingestRate = EVENTS / (ingestMs / 1000);
  const jobRate = job.sent / (jobMs / 1000);
  const replayRate = EVENTS / (replayMs / 1000);
  const rows: Array<Array<string | number>> = [
    ['events (price, acknowledged at src)', EVENTS],
    ['ingest: published at src, events/s', round(EVENTS / (publishedMs / 1000))],
    ['ingest: published at src → consumed at dst, events/s', round(ingestRate)],
    ['replay job: read from the stores and re-sent to site.replay, events/s', round(jobRate)],
    ["replay: request → dst's price book re-applied every event, events/s", round(replayRate)],
    ['replay ÷ ingest (end to end)', round(replayRate / ingestRate, 2)],
    ['dst gateway CPU per 1,000 replayed events, ms', round((cpu.gateway * 1e6) / EVENTS)],
    ['dst instance CPU per 1,000 replayed events, ms', round((cpu.instance * 1e6) / EVENTS)],
    ["dst's rebuilt price book equals src's (rows)", `${equal} (${after.length})`],
    ["dst's rebuilt store holds every acknowledged event", `${missing === 0} (${stored})`],
  ];
  process.stdout.write(`\n${table(['replay', 'value'], rows)}\n`);
  mkdirSync(join(REPO_ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(
    join(REPO_ROOT, 'bench', 'results', 'replay.json'),
    `${JSON.stringify({ at: new Date().toISOString(), quick, events: EVENTS, products: PRODUCTS, ingestMs, publishedMs, jobMs, replayMs, cpu, job, rows }, null, 2)}\n`,
  );
} finally {
  await db.end().catch(() => {});
  await launcher.down();
  for (const s of Object.values(SCHEMAS)) await dropPostgresSchema(DB_URL, s).catch(() => {});
}
