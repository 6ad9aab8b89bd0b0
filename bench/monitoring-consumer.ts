/**
 * Monitoring-consumer throughput: N monitoring records already on the topic,
 * then the consumer drains them into the site DB. Rows per second for
 * PGlite (embedded) and the PostgreSQL server, side by side in one run, on
 * the same broker and the same records.
 *
 *   node --import tsx bench/monitoring-consumer.ts [--quick]
 *
 * Prints a table and writes bench/results/monitoring-consumer.json.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { pino } from 'pino';
import { createLauncher, ensureSiteTopics } from '../deploy/index.ts';
import { MONITORING_TOPIC } from '../federation/index.ts';
import { dropPostgresSchema, openDatabase } from '../instances/db/database.ts';
import { createMonitoringConsumer } from '../instances/monitoring-consumer.ts';
import { countRows } from '../instances/queries.ts';
import { BENCH_ENV } from './env.ts';
import { oneSiteTopology } from './lib/federation.ts';

const quick = process.argv.includes('--quick');
const N = quick ? 20_000 : 100_000;
const root = resolve(import.meta.dirname, '..');
const runDir = join(root, '.fedgate', 'bench-runs', randomUUID().slice(0, 8));
const databaseUrl = BENCH_ENV.FEDGATE_BENCH_DATABASE_URL;
const topology = oneSiteTopology('bench', 'bench', '127.200.0.1');
const site = topology.sites[0]!;
const log = pino({ level: 'warn' });
const say = (line: string) => process.stderr.write(`[bench] ${line}\n`);

const launcher = createLauncher({
  topology,
  stateDir: join(root, '.fedgate'),
  runDir,
  certsDir: join(runDir, 'certs'),
  caKeyDir: join(runDir, 'ca-key'),
  log: say,
  systemEnv: BENCH_ENV.system,
});
const results: Record<string, unknown>[] = [];
try {
  await launcher.start('bench', 'broker');
  const kafka = new Kafka({ ...launcher.adminKafka(site.name), clientId: 'bench', logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await ensureSiteTopics(admin, topology, 'bench');
  await admin.disconnect();

  say(`producing ${N} monitoring records`);
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const now = Date.now();
  for (let i = 0; i < N; i += 5000) {
    const messages = Array.from({ length: Math.min(5000, N - i) }, (_, j) => {
      const id = `bench-${i + j}`;
      return {
        key: id,
        value: JSON.stringify({
          eventId: id,
          stage: 'consumed',
          site: 'bench',
          consumer: 'price-book',
          productId: `sku-${(i + j) % 1000}`,
          eventType: 'com.fedgate.pim.price.updated',
          topic: 'fed.price.eu',
          partition: 0,
          offset: i + j,
          at: now + j,
          latencyMs: 5,
          detail: { processingMs: 1 },
        }),
      };
    });
    await producer.send({ topic: MONITORING_TOPIC, acks: -1, messages });
  }
  await producer.disconnect();

  for (const kind of ['pglite', 'postgres'] as const) {
    const schema = `bench_${randomUUID().slice(0, 8)}`;
    const database = await openDatabase({ url: kind === 'postgres' ? databaseUrl : undefined, dataDir: join(runDir, 'pglite'), schemaName: schema });
    const consumer = createMonitoringConsumer({ kafka, db: database.db, site: `bench-${kind}-${schema}`, log });
    const started = performance.now();
    const cpu = process.cpuUsage();
    await consumer.start();
    let rows = 0;
    while (rows < N) {
      await new Promise((r) => setTimeout(r, 200));
      rows = await countRows({ db: database.db });
      if (performance.now() - started > 600_000) throw new Error(`${kind}: only ${rows} rows after 10 minutes`);
    }
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    await consumer.stop();
    await database.close();
    if (kind === 'postgres') await dropPostgresSchema(databaseUrl, schema);
    results.push({
      db: kind,
      rows: N,
      seconds: Math.round(seconds * 10) / 10,
      rowsPerSecond: Math.round(N / seconds),
      consumerCpuUsPerRow: Math.round((used.user + used.system) / N),
    });
  }
} finally {
  await launcher.down();
  rmSync(runDir, { recursive: true, force: true });
}

const pglite = results.find((r) => r.db === 'pglite')!;
const postgres = results.find((r) => r.db === 'postgres')!;
console.log(
  `monitoring consumer, ${N} records already on the topic, drained into the site DB (${new Date().toISOString().slice(0, 10)}, ${process.platform}, 2 cores):`,
);
console.log('  db        rows/s   seconds   consumer CPU µs/row');
for (const r of results)
  console.log(
    `  ${String(r.db).padEnd(8)} ${String(r.rowsPerSecond).padStart(7)} ${String(r.seconds).padStart(9)} ${String(r.consumerCpuUsPerRow).padStart(12)}`,
  );
console.log(`  ratio PGlite / PostgreSQL server: ${(Number(pglite.rowsPerSecond) / Number(postgres.rowsPerSecond)).toFixed(2)}`);
mkdirSync(join(root, 'bench', 'results'), { recursive: true });
writeFileSync(join(root, 'bench', 'results', 'monitoring-consumer.json'), JSON.stringify({ date: new Date().toISOString(), quick, results }, null, 2));
