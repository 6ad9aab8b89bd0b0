import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { clientTls, metricsSecret, readApiSecret, webhookSecrets, withKafkaCa } from '../certs/index.ts';
import { loadTopology, siteOf } from '../federation/index.ts';
import { openDatabase } from './db/database.ts';
import { readInstanceEnv } from './env.ts';
import { createInstance } from './instance.ts';

// Load config, build the dependencies, start, drain on SIGTERM.
const env = readInstanceEnv();
const topology = loadTopology(env.FEDGATE_TOPOLOGY);
const site = siteOf(topology, env.FEDGATE_SITE).name;
const log = pino({ level: env.LOG_LEVEL, base: { site, component: 'instance', ...(env.FEDGATE_WORKER > 1 ? { worker: env.FEDGATE_WORKER } : {}) } });
if (env.FEDGATE_WORKER > 1 && !env.DATABASE_URL) {
  log.fatal("the site's instance workers share one database: set DATABASE_URL to a PostgreSQL server");
  process.exit(1);
}
const database = await openDatabase({
  url: env.DATABASE_URL,
  dataDir: join(env.FEDGATE_RUN_DIR, site, 'pglite'),
  schemaName: env.FEDGATE_DB_SCHEMA ?? `site_${site.replace(/-/g, '_')}`,
});
log.info({ db: database.where }, 'database ready');
const instance = createInstance({
  topology,
  site,
  database,
  log,
  readApiSecret: readApiSecret(env.FEDGATE_CERTS_DIR, site),
  metricsSecret: metricsSecret(env.FEDGATE_CERTS_DIR, site),
  kafkaTls: withKafkaCa(clientTls(env.FEDGATE_CERTS_DIR, site, 'instance'), env.FEDGATE_KAFKA_CA_FILE),
  webhookSecrets: cachedSecrets((subscription) => webhookSecrets(env.FEDGATE_CERTS_DIR, site, subscription), 5000),
  worker: env.FEDGATE_WORKER,
});
await instance.start();
// A worker without the read API tells the launcher it consumes through this file (its pid); worker 1's health URL says so.
if (env.FEDGATE_READY_FILE) writeFileSync(env.FEDGATE_READY_FILE, `${process.pid}\n`);
log.info('instance ready');

/** Secrets read from their files at most every `ms` (a rotation is picked up within it, without a read per request). */
function cachedSecrets(read: (key: string) => string[], ms: number): (key: string) => string[] {
  const cache = new Map<string, { at: number; value: string[] }>();
  return (key) => {
    const hit = cache.get(key);
    if (hit && Date.now() - hit.at < ms) return hit.value;
    const value = read(key);
    cache.set(key, { at: Date.now(), value });
    return value;
  };
}

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'draining');
    if (env.FEDGATE_READY_FILE) rmSync(env.FEDGATE_READY_FILE, { force: true });
    instance.stop().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'drain failed');
        process.exit(1);
      },
    );
  });
}
