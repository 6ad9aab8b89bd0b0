import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { issueToken, SCOPES } from '../../certs/index.ts';
import { createLauncher, ensureSiteTopics, findManaged, type Launcher } from '../../deploy/index.ts';
import { parseTopology, type Topology } from '../../federation/index.ts';
import { BENCH_ENV } from '../env.ts';

export const REPO_ROOT = join(import.meta.dirname, '..', '..');
export const STATE_DIR = join(REPO_ROOT, '.fedgate');

/**
 * The benchmark federation: the same three sites, heaps and flows as
 * `npm start` (topology.json), on their own loopback addresses
 * (127.23x.0.1), with the sites' databases on the PostgreSQL server (its own
 * database, dropped afterwards) so the benchmark can read every monitoring
 * row and load a million of them per site.
 */
/**
 * The benchmark's one publisher offers far more than a site's default
 * per-publisher rate (2,000 events/s, an abuse limit that answers 429), so
 * its sites raise that limit: configuration, as a site with a bulk importer
 * would set it. Authentication, scopes and ACLs are the same as everywhere.
 */
export const BENCH_LIMITS = { publishPerSecond: 10_000_000, publishBurst: 10_000_000 } as const;

export function benchTopology(): Topology {
  const raw = JSON.parse(readFileSync(join(REPO_ROOT, 'topology.json'), 'utf8')) as { federation: string; sites: Array<{ address: string; limits?: object }> };
  raw.federation = 'fedgate-bench';
  raw.sites.forEach((s, i) => {
    s.address = `127.${230 + i}.0.1`;
    s.limits = { ...s.limits, ...BENCH_LIMITS };
  });
  return parseTopology(raw, 'bench topology');
}

/**
 * The publish bench: two sites with brokers only, plus the gateway of `pub`.
 * Nothing consumes what the gateway writes, exactly as nothing consumes the
 * raw kafkajs baseline, so measures 1-4 and 9 compare the publish paths and
 * not the federation's downstream work (that is measures 5-7). `sink` is
 * the target of the MirrorMaker 2 throughput runs (at least once and
 * exactly once; no MM2 node runs otherwise).
 */
export function publishTopology(): Topology {
  const ports = { kafka: 9092, interSite: 9093, controller: 9094, instance: 8081, gateway: 8080, peer: 8443, mm2Rest: 8083 };
  const heap = (JSON.parse(readFileSync(join(REPO_ROOT, 'topology.json'), 'utf8')) as { heap?: unknown }).heap;
  return parseTopology(
    {
      federation: 'fedgate-bench-publish',
      ...(heap ? { heap } : {}),
      // The ACLs of exactly-once MM2 too (transactional ids), for the MM2 benchmark's exactly-once run.
      mm2: { exactlyOnce: true },
      sites: [
        { name: 'pub', regions: ['eu', 'us'], address: '127.235.0.1', ports, limits: BENCH_LIMITS },
        { name: 'sink', regions: ['apac'], address: '127.236.0.1', ports, limits: BENCH_LIMITS },
      ],
    },
    'publish bench topology',
  );
}

/** A one-site federation on its own address, for the benchmarks that need a single broker (and what the launcher starts with it). */
export function oneSiteTopology(federation: string, name: string, address: string): Topology {
  return parseTopology(
    {
      federation,
      sites: [{ name, regions: ['eu'], address, ports: { kafka: 29092, interSite: 29093, controller: 29094, instance: 28081, gateway: 28080, peer: 28443 } }],
    },
    `${federation} topology`,
  );
}

/** A kafkajs client on a site's local listener, as that site's admin (every listener requires a client certificate). */
function benchKafka(launcher: Launcher, site: string): Kafka {
  return new Kafka({ ...launcher.adminKafka(site), clientId: 'bench', logLevel: logLevel.NOTHING });
}

/** A token of `site` with every publish scope, valid for the whole run. */
function benchToken(certsDir: string, topology: Topology, site: string): Promise<string> {
  return issueToken({ secretsDir: certsDir, topology, site, scopes: [...SCOPES], subject: 'bench', ttlSeconds: 6 * 3600 });
}

export interface PublishBench {
  topology: Topology;
  launcher: Launcher;
  runDir: string;
  certsDir: string;
  topologyFile: string;
  local(site: string): Kafka;
  token(): Promise<string>;
  stop(): Promise<void>;
}

export async function startPublishBench(options: { runDir: string; log: (line: string) => void; nodeArgs?: string[] }): Promise<PublishBench> {
  const topology = publishTopology();
  const certsDir = join(options.runDir, 'certs');
  const launcher = createLauncher({
    topology,
    stateDir: STATE_DIR,
    runDir: options.runDir,
    certsDir,
    caKeyDir: join(options.runDir, 'ca-key'),
    log: options.log,
    systemEnv: BENCH_ENV.system,
    nodeArgs: options.nodeArgs,
    env: { LOG_LEVEL: 'warn', FEDGATE_BENCH_ROUTES: '1' },
  });
  const local = (site: string) => benchKafka(launcher, site);
  try {
    await launcher.prepare();
    await Promise.all(topology.sites.map((s) => launcher.start(s.name, 'broker')));
    const admin = local('pub').admin();
    await admin.connect();
    await ensureSiteTopics(admin, topology, 'pub');
    await admin.disconnect();
    await launcher.start('pub', 'gateway');
  } catch (err) {
    await launcher.down();
    throw err;
  }
  let token: string | null = null;
  return {
    topology,
    launcher,
    runDir: options.runDir,
    certsDir,
    topologyFile: join(options.runDir, 'topology.json'),
    local,
    async token() {
      token ??= await benchToken(certsDir, topology, 'pub');
      return token;
    },
    stop: () => launcher.down(),
  };
}

export interface BenchFederation {
  topology: Topology;
  launcher: Launcher;
  runDir: string;
  certsDir: string;
  topologyFile: string;
  databaseUrl: string;
  /** One PostgreSQL schema per site. */
  schemaOf(site: string): string;
  local(site: string): Kafka;
  token(site: string): Promise<string>;
  pids(): number[];
  upSeconds: number;
  /**
   * Stops every process and drops the benchmark database. `hard`: SIGKILL at
   * once (its data is discarded anyway); not when the Node processes must
   * write their CPU profiles on exit.
   */
  stop(options?: { hard?: boolean }): Promise<void>;
}

export const SERVER_URL = BENCH_ENV.FEDGATE_BENCH_DATABASE_URL;
const BENCH_DB = 'fedgate_bench';

export async function withBenchDb<T>(databaseUrl: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function startBenchFederation(options: { runDir: string; log: (line: string) => void; nodeArgs?: string[] }): Promise<BenchFederation> {
  const topology = benchTopology();
  await withBenchDb(SERVER_URL, async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${BENCH_DB} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${BENCH_DB}`);
  });
  const url = new URL(SERVER_URL);
  url.pathname = `/${BENCH_DB}`;
  const databaseUrl = url.toString();
  const certsDir = join(options.runDir, 'certs');
  const launcher = createLauncher({
    topology,
    stateDir: STATE_DIR,
    runDir: options.runDir,
    certsDir,
    caKeyDir: join(options.runDir, 'ca-key'),
    log: options.log,
    systemEnv: BENCH_ENV.system,
    databaseUrl,
    nodeArgs: options.nodeArgs,
    env: { LOG_LEVEL: 'warn', FEDGATE_BENCH_ROUTES: '1' },
  });
  const started = performance.now();
  try {
    await launcher.up();
  } catch (err) {
    await launcher.down();
    throw err;
  }
  const upSeconds = (performance.now() - started) / 1000;
  const tokens = new Map<string, string>();
  return {
    topology,
    launcher,
    runDir: options.runDir,
    certsDir,
    topologyFile: join(options.runDir, 'topology.json'),
    databaseUrl,
    schemaOf: (site) => `site_${site.replace(/-/g, '_')}`,
    local: (site) => benchKafka(launcher, site),
    async token(site) {
      if (!tokens.has(site)) tokens.set(site, await benchToken(certsDir, topology, site));
      return tokens.get(site)!;
    },
    pids: () => findManaged(options.runDir).map((p) => p.pid),
    upSeconds,
    async stop(stopOptions = {}) {
      await launcher.down(stopOptions);
      await withBenchDb(SERVER_URL, (c) => c.query(`DROP DATABASE IF EXISTS ${BENCH_DB} WITH (FORCE)`));
    },
  };
}
