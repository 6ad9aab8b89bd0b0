/**
 * Change capture, measured: two sites, the PIS at `hub` (its own PostgreSQL,
 * Debezium on a Connect worker, hub's gateway publishing each change), MM2 to
 * `far`, both sites' databases on the PostgreSQL server.
 *
 *   npm run bench:cdc [-- --quick]
 *
 * 1. Steady: M single-row transactions at 100 a second, half priced for
 *    hub's region and half for far's. Latency from the COMMIT returning to
 *    the PIS client to the change's `consumed` row at each site (the price
 *    book applied it), p50 and p99.
 * 2. Burst: N row changes in transactions of 100, committed as fast as the
 *    database takes them. Rates: committed, published by hub's gateway, and
 *    applied at far, each as events/s over the run, and the gateway's CPU
 *    time per 1,000 changes (its process, from /proc) next to its CPU time
 *    per 1,000 HTTP events in the same run (a batch of 100 per request).
 *
 * 3. Enrichment, in this process: the publish service (validation, scopes,
 *    routing) over 50,000 price events in batches of 100, with and without the
 *    enrichment step on a warm catalog cache, alternating rounds; CPU time per
 *    event and the ratio.
 *
 * Prints a table and writes bench/results/cdc.json. Never part of `npm test`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { issueToken, SCOPES } from '../certs/index.ts';
import { EVENT_TYPES } from '../contract/index.ts';
import { createLauncher, pisOwnerUrl } from '../deploy/index.ts';
import { parseTopology } from '../federation/index.ts';
import { createEnricher } from '../gateway/enrichment.ts';
import { createPublishService } from '../gateway/publish-service.ts';
import { dropPostgresSchema } from '../instances/db/database.ts';
import { BENCH_ENV } from './env.ts';
import { BENCH_LIMITS, REPO_ROOT, STATE_DIR } from './lib/federation.ts';
import { cpuSecondsOf } from './lib/proc.ts';
import { table } from './lib/report.ts';

const quick = process.argv.includes('--quick');
const STEADY = quick ? 600 : 3000;
const STEADY_RATE = 100;
const BURST = quick ? 5000 : 20_000;
const PER_TX = 100;
const say = (line: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const percentile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
const ports = { kafka: 29292, interSite: 29293, controller: 29294, instance: 28281, gateway: 28280, peer: 28643 };
const topology = parseTopology(
  {
    federation: 'fedgate-bench-cdc',
    pis: { site: 'hub', databasePort: 25442, connectPort: 28293 },
    sites: [
      { name: 'hub', regions: ['eu'], countries: ['DE'], address: '127.238.0.1', ports, limits: BENCH_LIMITS },
      { name: 'far', regions: ['us'], countries: ['US'], address: '127.239.0.1', ports, limits: BENCH_LIMITS },
    ],
  },
  'cdc bench topology',
);
const runDir = join(STATE_DIR, 'bench-runs', `cdc-${Date.now()}`);
const pids = new Map<string, number>();
const launcher = createLauncher({
  topology,
  stateDir: STATE_DIR,
  runDir,
  certsDir: join(runDir, 'certs'),
  caKeyDir: join(runDir, 'ca-key'),
  log: say,
  systemEnv: BENCH_ENV.system,
  databaseUrl: BENCH_ENV.FEDGATE_BENCH_DATABASE_URL,
  env: { LOG_LEVEL: 'warn' },
  onSpawn: (pid, role) => pids.set(role, pid),
});
const schemas = ['site_hub', 'site_far'];

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 600_000): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** CPU microseconds per event of the publish service, without and with enrichment (warm cache), alternating rounds. */
async function enrichmentCost(): Promise<{ plainUs: number; enrichedUs: number }> {
  const token = { raw: '', issuer: 'bench', subject: 'bench', scopes: new Set(['publish:price']), expiresAt: Number.MAX_SAFE_INTEGER };
  const service = (withEnrichment: boolean) =>
    createPublishService({
      topology,
      site: 'hub',
      log: pino({ level: 'silent' }),
      submit: async () => {},
      failover: async () => {
        throw new Error('none');
      },
      seen: { get: () => undefined, set: () => {} },
      maxFutureSkewMs: 60_000,
      ...(withEnrichment
        ? {
            enrich: createEnricher({
              lookup: async (ids) => new Map(ids.map((id) => [id, { name: `Product ${id}`, brand: 'Acme', category: 'kitchen' }])),
              ttlMs: 3_600_000,
              unknownProduct: 'pass',
            }),
          }
        : {}),
    });
  const batches = Array.from({ length: 500 }, (_, b) =>
    Array.from({ length: 100 }, (_, i) => ({
      type: EVENT_TYPES.price,
      data: { productId: `sku-${(b * 100 + i) % 2000}`, region: 'eu', price: { currency: 'EUR', amount: '9.99' } },
    })),
  );
  const run = async (publish: ReturnType<typeof createPublishService>) => {
    const cpu = process.cpuUsage();
    for (const events of batches) await publish({ input: { events, token } });
    const used = process.cpuUsage(cpu);
    return (used.user + used.system) / 50_000;
  };
  const plain = service(false);
  const enriched = service(true);
  await run(plain);
  await run(enriched);
  const times = { plain: [] as number[], enriched: [] as number[] };
  for (let round = 0; round < 5; round++) {
    times.plain.push(await run(plain));
    times.enriched.push(await run(enriched));
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return { plainUs: median(times.plain), enrichedUs: median(times.enriched) };
}

say('enrichment: the publish service with and without it, in this process');
const enrichment = await enrichmentCost();
for (const s of schemas) await dropPostgresSchema(BENCH_ENV.FEDGATE_BENCH_DATABASE_URL, s);
const db = new pg.Client({ connectionString: BENCH_ENV.FEDGATE_BENCH_DATABASE_URL });
let pis: pg.Client | null = null;
try {
  await launcher.up();
  await db.connect();
  pis = new pg.Client({ connectionString: pisOwnerUrl(topology, join(runDir, 'certs')) });
  await pis.connect();
  const consumedAt = async (schema: string, prefix: string) =>
    new Map(
      (
        await db.query(
          `SELECT product_id, min(extract(epoch from at) * 1000) AS at FROM ${schema}.monitoring_events WHERE stage = 'consumed' AND product_id LIKE $1 GROUP BY product_id`,
          [`${prefix}%`],
        )
      ).rows.map((r: { product_id: string; at: string }) => [r.product_id, Number(r.at)]),
    );

  // 1. Steady: one row per transaction, at STEADY_RATE.
  say(`steady: ${STEADY} single-row transactions at ${STEADY_RATE}/s`);
  const committed = new Map<string, number>();
  const t0 = Date.now();
  for (let i = 0; i < STEADY; i++) {
    const due = t0 + (i * 1000) / STEADY_RATE;
    if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
    const product = `S-${i}`;
    await pis.query("INSERT INTO prices VALUES ($1, $2, 'EUR', 10.50)", [product, i % 2 === 0 ? 'eu' : 'us']);
    committed.set(product, Date.now());
  }
  const latencies: Record<string, number[]> = { hub: [], far: [], published: [] };
  for (const [site, schema, parity] of [
    ['hub', 'site_hub', 0],
    ['far', 'site_far', 1],
  ] as const) {
    const want = [...committed.keys()].filter((p) => Number(p.slice(2)) % 2 === parity);
    let got = new Map<string, number>();
    await waitFor(`${site} applied the steady changes`, async () => {
      got = await consumedAt(schema, 'S-');
      return want.every((p) => got.has(p));
    });
    latencies[site] = want.map((p) => Math.max(0, got.get(p)! - committed.get(p)!)).sort((a, b) => a - b);
  }
  const publishedAt = new Map(
    (
      await db.query(
        `SELECT product_id, min(extract(epoch from at) * 1000) AS at FROM site_hub.monitoring_events WHERE stage = 'published' AND product_id LIKE 'S-%' GROUP BY product_id`,
      )
    ).rows.map((r: { product_id: string; at: string }) => [r.product_id, Number(r.at)]),
  );
  latencies.published = [...committed]
    .filter(([p]) => publishedAt.has(p))
    .map(([p, at]) => Math.max(0, publishedAt.get(p)! - at))
    .sort((a, b) => a - b);

  // 2. Burst: transactions of PER_TX rows as fast as the database takes them; then the same number of HTTP events.
  const gatewayPid = pids.get('hub/gateway')!;
  say(`burst: ${BURST} row changes in transactions of ${PER_TX}`);
  const cpu0 = cpuSecondsOf(gatewayPid);
  const b0 = Date.now();
  for (let i = 0; i < BURST; i += PER_TX) {
    await pis.query(
      "INSERT INTO prices SELECT 'B-' || g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END, 'USD', 1 + g % 100 FROM generate_series($1::int, $2::int) g",
      [i, i + PER_TX - 1],
    );
  }
  const committedMs = Date.now() - b0;
  let farDone = 0;
  await waitFor('far applied the burst', async () => {
    const r = await db.query(
      `SELECT count(DISTINCT product_id) AS n, max(extract(epoch from at) * 1000) AS last FROM site_far.monitoring_events WHERE stage = 'consumed' AND product_id LIKE 'B-%'`,
    );
    farDone = Number(r.rows[0].last);
    return Number(r.rows[0].n) >= BURST / 2;
  });
  const published = await db.query(
    `SELECT max(extract(epoch from at) * 1000) AS last FROM site_hub.monitoring_events WHERE stage = 'published' AND product_id LIKE 'B-%'`,
  );
  const publishedMs = Number(published.rows[0].last) - b0;
  const cdcCpu = cpuSecondsOf(gatewayPid) - cpu0;

  // The same gateway's cost per HTTP event, for comparison: batches of 100 price events.
  const token = await issueToken({ secretsDir: join(runDir, 'certs'), topology, site: 'hub', scopes: [...SCOPES], subject: 'bench', ttlSeconds: 3600 });
  const cpu1 = cpuSecondsOf(gatewayPid);
  for (let i = 0; i < BURST; i += PER_TX) {
    const events = Array.from({ length: PER_TX }, (_, j) => ({
      type: EVENT_TYPES.price,
      data: { productId: `H-${i + j}`, region: (i + j) % 2 === 0 ? 'eu' : 'us', price: { currency: 'USD', amount: '2.00' } },
    }));
    const res = await fetch(`${launcher.gatewayUrl('hub')}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(events),
    });
    if (res.status !== 202) throw new Error(`HTTP publish answered ${res.status}: ${await res.text()}`);
  }
  const httpCpu = cpuSecondsOf(gatewayPid) - cpu1;

  const rows: Array<Array<string | number>> = [
    [
      "steady: commit → published by hub's gateway (Debezium, Connect, the ingest), p50 / p99 ms",
      `${percentile(latencies.published!, 0.5)} / ${percentile(latencies.published!, 0.99)}`,
    ],
    ['steady: commit → applied at hub (the PIS site), p50 / p99 ms', `${percentile(latencies.hub!, 0.5)} / ${percentile(latencies.hub!, 0.99)}`],
    ['steady: commit → applied at far (MM2 hop), p50 / p99 ms', `${percentile(latencies.far!, 0.5)} / ${percentile(latencies.far!, 0.99)}`],
    ['burst: committed, changes/s', Math.round(BURST / (committedMs / 1000))],
    ['burst: published by hub, changes/s', Math.round(BURST / (publishedMs / 1000))],
    ['burst: applied at far, changes/s (its half of the burst)', Math.round(BURST / 2 / ((farDone - b0) / 1000))],
    [
      'publish service CPU per event, without / with enrichment (warm cache), µs',
      `${enrichment.plainUs.toFixed(1)} / ${enrichment.enrichedUs.toFixed(1)} (${(enrichment.enrichedUs / enrichment.plainUs).toFixed(2)}×)`,
    ],
    [
      'hub gateway CPU per 1,000 changes (CDC) / per 1,000 HTTP events, ms',
      `${Math.round(cdcCpu * 1000 * (1000 / BURST))} / ${Math.round(httpCpu * 1000 * (1000 / BURST))}`,
    ],
  ];
  process.stdout.write(`\n${table(['change capture', 'value'], rows)}\n`);
  mkdirSync(join(REPO_ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(
    join(REPO_ROOT, 'bench', 'results', 'cdc.json'),
    `${JSON.stringify({ at: new Date().toISOString(), steady: STEADY, burst: BURST, enrichment, latencies: { hub: latencies.hub!.length, far: latencies.far!.length }, rows }, null, 2)}\n`,
  );
} finally {
  await pis?.end().catch(() => {});
  await db.end().catch(() => {});
  await launcher.down();
  for (const s of schemas) await dropPostgresSchema(BENCH_ENV.FEDGATE_BENCH_DATABASE_URL, s).catch(() => {});
}
