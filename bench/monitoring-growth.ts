/**
 * Monitoring at scale: the stats query as a site's monitoring table grows.
 *
 *   node --import tsx bench/monitoring-growth.ts [--quick]
 *
 * Three site schemas on the PostgreSQL server, migrated as the instances
 * migrate them, are filled to 1 M, 3 M and 10 M monitoring rows each
 * (`--quick`: 250 k and 1 M). The rows span the last hour in time order, as
 * measure 7 of `npm run bench` writes them: a site taking that many rows an
 * hour, so the 5-minute window holds a twelfth of them. At each size the
 * three sites' stats are asked at once (the federated view asks its sites in
 * parallel), read from the rows (the old query) and from the per-second
 * rollups (the current one), alternating, and the wall time of the three is
 * recorded. The write side: 200,000 rows through the monitoring consumer's
 * insert (2,000 per statement), with the rollup triggers on and off.
 *
 * Prints a table and writes bench/results/monitoring-growth.json.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { EVENT_TYPES, STAGES } from '../contract/index.ts';
import { dropPostgresSchema, openDatabase } from '../instances/db/database.ts';
import { insertMonitoringRows } from '../instances/monitoring-consumer.ts';
import { stageStats } from '../instances/queries.ts';
import { BENCH_ENV } from './env.ts';

const quick = process.argv.includes('--quick');
const SIZES = quick ? [250_000, 1_000_000] : [1_000_000, 3_000_000, 10_000_000];
const QUERIES = quick ? 20 : 40;
const WRITE_ROWS = quick ? 60_000 : 200_000;
const root = resolve(import.meta.dirname, '..');
const databaseUrl = BENCH_ENV.FEDGATE_BENCH_DATABASE_URL;
const say = (line: string) => process.stderr.write(`[growth] ${line}\n`);
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const run = randomUUID().slice(0, 6);
const schemas = ['a', 'b', 'c'].map((s) => `growth_${run}_${s}`);

async function sql(text: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return await client.query(text, params);
  } finally {
    await client.end();
  }
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const sites = await Promise.all(schemas.map((schemaName) => openDatabase({ url: databaseUrl, dataDir: 'memory://', schemaName })));
// Every row is placed in the hour before T0 and every window ends at T0, however long the loads take.
const T0 = new Date();
const curve: Array<Record<string, unknown>> = [];
let write: Record<string, unknown> = {};
try {
  let have = 0;
  for (const size of SIZES) {
    const add = size - have;
    say(`filling each of the three sites from ${have.toLocaleString('en')} to ${size.toLocaleString('en')} rows`);
    const t0 = performance.now();
    // The same rows as measure 7 (bench/run.ts): four stages per event, latencies 0-40 ms, over the hour before T0 in time
    // order. Each step spreads its rows over the hour again, so the window's density grows with the table. A bulk load
    // builds the secondary indexes after the rows (maintaining them row by row made the 10 M step take over 15 minutes);
    // the rollups come from the insert's own trigger, as for the monitoring consumer's inserts.
    await Promise.all(
      schemas.map(async (schema, i) => {
        const indexes = (
          await sql(
            `select i.indexname, i.indexdef, c.conname from pg_indexes i left join pg_constraint c on c.conname = i.indexname and c.connamespace = $1::text::regnamespace
             where i.schemaname = $1::text and i.tablename = 'monitoring_events' and c.contype is distinct from 'p'`,
            [schema],
          )
        ).rows as Array<{ indexname: string; indexdef: string; conname: string | null }>;
        for (const ix of indexes) await sql(`drop index ${schema}.${ix.indexname}`);
        await sql(
          `insert into ${schema}.monitoring_events (event_id, stage, site, consumer, product_id, event_type, source_site, topic, partition, "offset", at, latency_ms, detail)
           select 'seed-' || ($4::bigint + g) / 4, (array['published','routed','replicated','consumed'])[g % 4 + 1], $1,
                  case when g % 4 = 3 then 'price-book' else '' end, 'seed-sku-' || (g / 4 % 20000), $2, $1, 'fed.price.us', g % 3, g,
                  $5::timestamptz - interval '1 hour' + (g + random() * 50) * (interval '1 hour' / $3::int), (random() * 40)::int, '{}'::jsonb
           from generate_series(0, $3::int - 1) g`,
          [`site-${i}`, EVENT_TYPES.price, add, have, T0.toISOString()],
        );
        for (const ix of indexes) await sql(ix.indexdef);
      }),
    );
    const fillSeconds = (performance.now() - t0) / 1000;
    // What autovacuum would have done over the hour these rows stand for (see measure 7).
    for (const schema of schemas) {
      await sql(`vacuum analyze ${schema}.monitoring_events`);
      await sql(`vacuum analyze ${schema}.monitoring_rollups`);
    }
    have = size;
    const sizes = await sql(
      `select pg_total_relation_size('${schemas[0]}.monitoring_events') as events, pg_total_relation_size('${schemas[0]}.monitoring_rollups') as rollups,
              (select count(*) from ${schemas[0]}.monitoring_rollups) as rollup_rows,
              (select count(*) from ${schemas[0]}.monitoring_events where at >= $1::timestamptz - interval '300 seconds') as window_rows`,
      [T0.toISOString()],
    );
    const times: Record<'rows' | 'rollups', number[]> = { rows: [], rollups: [] };
    const check: [number, number] = [0, 0];
    const rounds = size >= 10_000_000 ? Math.ceil(QUERIES / 4) : QUERIES;
    for (let i = 0; i < rounds + 2; i++) {
      for (const from of i % 2 === 0 ? (['rows', 'rollups'] as const) : (['rollups', 'rows'] as const)) {
        const t = performance.now();
        const answers = await Promise.all(sites.map((s) => stageStats({ db: s.db, windowSeconds: 300, from, now: T0 })));
        if (i >= 2) times[from].push(performance.now() - t);
        const counted = answers[0]!.reduce((a, st) => a + st.count, 0);
        if (from === 'rows') check[0] = counted;
        else check[1] = counted;
        if (answers.some((a) => a.length !== 4)) throw new Error(`${from}: expected 4 stages, got ${answers.map((a) => a.length).join(', ')}`);
      }
    }
    // Both read the same window; the rollups start at the window's first whole second, so they may count up to a second more.
    const perSecond = Number(sizes.rows[0].window_rows) / 300;
    if (check[1] < check[0] || check[1] - check[0] > perSecond * 2 + 10)
      throw new Error(`the rollups counted ${check[1]} rows in the window, the rows ${check[0]}`);
    const summary = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      return { p50Ms: round(percentile(s, 0.5)), p95Ms: round(percentile(s, 0.95)), n: s.length };
    };
    const point = {
      rowsPerSite: size,
      windowRowsPerSite: Number(sizes.rows[0].window_rows),
      rollupRowsPerSite: Number(sizes.rows[0].rollup_rows),
      eventsTableMiB: round(Number(sizes.rows[0].events) / 2 ** 20, 0),
      rollupsTableMiB: round(Number(sizes.rows[0].rollups) / 2 ** 20, 1),
      fillSeconds: round(fillSeconds, 1),
      fromRows: summary(times.rows),
      fromRollups: summary(times.rollups),
    };
    curve.push(point);
    say(
      `${size.toLocaleString('en')} rows per site: rows p95 ${point.fromRows.p95Ms} ms, rollups p95 ${point.fromRollups.p95Ms} ms (window ${point.windowRowsPerSite.toLocaleString('en')} rows, ${point.rollupRowsPerSite.toLocaleString('en')} rollup rows)`,
    );
  }

  // The write side: the monitoring consumer's insert, with the triggers and without.
  const rowsFor = (offset: number) =>
    Array.from({ length: WRITE_ROWS }, (_, i) => ({
      eventId: `w-${offset + Math.floor(i / 4)}`,
      stage: STAGES[i % 4]!,
      site: 'w',
      consumer: i % 4 === 3 ? 'price-book' : '',
      productId: `sku-${i % 1000}`,
      eventType: EVENT_TYPES.price,
      topic: 'fed.price.us',
      partition: i % 3,
      offset: i,
      at: new Date(Date.now() + Math.floor(i / 2)),
      latencyMs: Math.floor(Math.random() * 200),
      detail: null,
    }));
  const writes: Record<string, { rowsPerSecond: number }> = {};
  for (const triggers of ['on', 'off', 'on', 'off'] as const) {
    const schemaName = `growth_${run}_w${triggers}`;
    const database = await openDatabase({ url: databaseUrl, dataDir: 'memory://', schemaName });
    if (triggers === 'off') await sql(`alter table ${schemaName}.monitoring_events disable trigger user`);
    const rows = rowsFor(0);
    const t = performance.now();
    for (let i = 0; i < rows.length; i += 2000) await insertMonitoringRows(database.db, rows.slice(i, i + 2000));
    const seconds = (performance.now() - t) / 1000;
    await database.close();
    await dropPostgresSchema(databaseUrl, schemaName);
    const prev = writes[triggers];
    const rate = WRITE_ROWS / seconds;
    writes[triggers] = { rowsPerSecond: Math.round(prev ? (prev.rowsPerSecond + rate) / 2 : rate) };
  }
  write = {
    rows: WRITE_ROWS,
    chunk: 2000,
    triggersOn: writes.on,
    triggersOff: writes.off,
    ratio: round(writes.on!.rowsPerSecond / writes.off!.rowsPerSecond, 2),
  };
} finally {
  for (const s of sites) await s.close();
  for (const schema of schemas) await dropPostgresSchema(databaseUrl, schema);
}

console.log(`federated stats (three sites asked at once, 5-minute window), PostgreSQL server, ${new Date().toISOString().slice(0, 16)} UTC:`);
console.log('  rows/site   window rows   rollup rows   from rows p50/p95 ms   from rollups p50/p95 ms');
for (const p of curve) {
  const r = p.fromRows as { p50Ms: number; p95Ms: number };
  const u = p.fromRollups as { p50Ms: number; p95Ms: number };
  console.log(
    `  ${String((p.rowsPerSite as number).toLocaleString('en')).padStart(10)}  ${String((p.windowRowsPerSite as number).toLocaleString('en')).padStart(11)}  ${String((p.rollupRowsPerSite as number).toLocaleString('en')).padStart(12)}  ${`${r.p50Ms} / ${r.p95Ms}`.padStart(20)}  ${`${u.p50Ms} / ${u.p95Ms}`.padStart(22)}`,
  );
}
const w = write as { triggersOn: { rowsPerSecond: number }; triggersOff: { rowsPerSecond: number }; ratio: number };
console.log(
  `monitoring insert, ${WRITE_ROWS} rows in statements of 2,000: rollup triggers on ${w.triggersOn.rowsPerSecond} rows/s, off ${w.triggersOff.rowsPerSecond} rows/s (ratio ${w.ratio})`,
);
mkdirSync(join(root, 'bench', 'results'), { recursive: true });
writeFileSync(join(root, 'bench', 'results', 'monitoring-growth.json'), JSON.stringify({ date: new Date().toISOString(), quick, curve, write }, null, 2));
