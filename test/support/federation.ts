import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type Consumer, Kafka, type KafkaConfig, logLevel, Partitioners, type Producer } from 'kafkajs';
import { inject } from 'vitest';
import { type CertRole, certPaths } from '../../certs/index.ts';
import { createLauncher, findManaged, type Launcher, readTopicToEnd } from '../../deploy/index.ts';
import { type ClientTls, interSiteKafkaConfig, parseTopology, type Site, siteOf, type Topology } from '../../federation/index.ts';
import { TEST_ENV } from './env.ts';
import { STATE_DIR } from './paths.ts';

export { REPO, STATE_DIR } from './paths.ts';

/** This vitest run's folder (from global setup); global teardown checks it for orphans. */
export function testRunRoot(): string {
  return inject('testRunRoot');
}

export interface SiteSpec {
  name: string;
  regions: string[];
  countries?: string[];
  /** The site's downstream delivery (federation/delivery.ts). */
  delivery?: unknown;
  /** Instance workers of the site (more than one needs a PostgreSQL server). */
  workers?: number;
}

/**
 * A topology for one test file: its own loopback addresses (127.<octet+i>.0.1
 * never collides with `npm start`'s 127.0.x.1). No flows are written: they
 * are derived, full mesh, each carrying exactly what its target serves.
 */
export function testTopology(
  octet: number,
  specs: SiteSpec[],
  options: {
    exactlyOnce?: boolean;
    brokers?: 1 | 3;
    pisSite?: string;
    pisDatabase?: { host: string; port: number; name: string; sslmode?: 'verify-full' | 'disable'; sslrootcert?: string };
  } = {},
): Topology {
  const sites = specs.map((s, i) => ({
    name: s.name,
    regions: s.regions,
    countries: s.countries ?? [],
    ...(s.delivery ? { delivery: s.delivery } : {}),
    ...(s.workers ? { workers: s.workers } : {}),
    address: `127.${octet + i}.0.1`,
    ...(options.brokers ? { brokers: options.brokers } : {}),
    ports: {
      kafka: 19092,
      interSite: 19093,
      controller: 19094,
      instance: 18081,
      gateway: 18080,
      peer: 18443,
      brokerMetrics: 19404,
      mm2Metrics: 19405,
      ...(options.exactlyOnce ? { mm2Rest: 18083 } : {}),
    },
  }));
  return parseTopology({
    federation: `test-${octet}`,
    sites,
    heap: { broker: '256m', mm2: '256m' },
    ...(options.exactlyOnce ? { mm2: { exactlyOnce: true } } : {}),
    ...(options.pisSite
      ? {
          pis: {
            site: options.pisSite,
            databasePort: 15442,
            connectPort: 18093,
            connectHeap: '256m',
            ...(options.pisDatabase ? { database: options.pisDatabase } : {}),
          },
        }
      : {}),
  });
}

export interface TestFederation {
  topology: Topology;
  launcher: Launcher;
  runDir: string;
  certsDir: string;
  site(name: string): Site;
  /** A kafkajs client on the site-local listener. */
  local(site: string): Kafka;
  /** A kafkajs client on the inter-site mTLS listener, with `tls` (default: the site's gateway certificate). */
  interSite(site: string, tls?: ClientTls | null): Kafka;
  clientTls(site: string, role: CertRole): ClientTls;
  /** Every pid the launcher started, for the "nothing left running" check. */
  startedPids(): number[];
  /** Stops every process and removes the run folder. */
  stop(): Promise<void>;
}

export function createTestFederation(
  name: string,
  topology: Topology,
  options: { databaseUrl?: string; embeddedDatabases?: boolean; env?: Record<string, string>; netns?: Record<string, string> } = {},
): TestFederation {
  const runDir = join(testRunRoot(), `${name}-${randomUUID().slice(0, 8)}`);
  const certsDir = join(runDir, 'certs');
  const pids = new Set<number>();
  const log = TEST_ENV.FEDGATE_TEST_VERBOSE ? (l: string) => console.log(`[${name}] ${l}`) : () => {};
  const launcher = createLauncher({
    topology,
    stateDir: STATE_DIR,
    runDir,
    certsDir,
    caKeyDir: join(runDir, 'ca-key'),
    log,
    systemEnv: TEST_ENV.system,
    onSpawn: (pid) => pids.add(pid),
    databaseUrl: options.databaseUrl,
    embeddedDatabases: options.embeddedDatabases,
    env: options.env,
    netns: options.netns,
  });
  const certs = certPaths(certsDir);

  const kafka = (config: KafkaConfig) => new Kafka({ ...config, logLevel: logLevel.NOTHING, retry: { retries: 3, initialRetryTime: 200 } });
  const clientTls = (site: string, role: CertRole): ClientTls => {
    const files = certs.role(site, role);
    return { ca: readFileSync(certs.caCert, 'utf8'), cert: readFileSync(files.cert, 'utf8'), key: readFileSync(files.key, 'utf8') };
  };

  return {
    topology,
    launcher,
    runDir,
    certsDir,
    site: (n) => siteOf(topology, n),
    local: (n) => kafka({ ...launcher.adminKafka(n), clientId: `test-${name}` }),
    interSite: (n, tls) => {
      const site = siteOf(topology, n);
      if (tls === null) {
        // Trusts the CA but offers no client certificate.
        const config = interSiteKafkaConfig(site, `test-${name}`, clientTls(n, 'gateway'));
        return kafka({ ...config, ssl: { ca: [readFileSync(certs.caCert, 'utf8')], servername: undefined } });
      }
      return kafka(interSiteKafkaConfig(site, `test-${name}`, tls ?? clientTls(n, 'gateway')));
    },
    clientTls,
    startedPids: () => [...pids],
    async stop() {
      await launcher.down();
      if (findManaged(runDir).length === 0 && !TEST_ENV.FEDGATE_KEEP_TEST_RUNS) rmSync(runDir, { recursive: true, force: true });
    },
  };
}

export function newProducer(kafka: Kafka): Producer {
  return kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
}

/** Reads `topic` from the beginning with a fresh group until `done` says so or the deadline passes. */
export async function consumeUntil<T>(
  kafka: Kafka,
  topic: string,
  map: (m: { key: string | null; value: string | null; headers: Record<string, string> }) => T,
  done: (seen: T[]) => boolean,
  timeoutMs: number,
): Promise<T[]> {
  const seen: T[] = [];
  const consumer: Consumer = kafka.consumer({ groupId: `test-${randomUUID()}`, sessionTimeout: 10_000, heartbeatInterval: 1000 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let resolveDone!: () => void;
  const finished = new Promise<void>((r) => (resolveDone = r));
  await consumer.run({
    eachMessage: async ({ message }) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
      seen.push(map({ key: message.key?.toString() ?? null, value: message.value?.toString() ?? null, headers }));
      if (done(seen)) resolveDone();
    },
  });
  const timer = setTimeout(resolveDone, timeoutMs);
  await finished;
  clearTimeout(timer);
  await consumer.disconnect();
  return seen;
}

/** Waits until `topic` exists at the cluster and holds at least `count` records. */
export async function waitForRecords(kafka: Kafka, topic: string, count: number, timeoutMs: number): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  const started = Date.now();
  try {
    for (;;) {
      try {
        const topics = await admin.listTopics();
        if (topics.includes(topic)) {
          const offsets = await admin.fetchTopicOffsets(topic);
          const total = offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
          if (total >= count) return Date.now() - started;
        }
      } catch (err) {
        // A topic MM2 has just created may not have a leader yet.
        if (!(err as { retriable?: boolean }).retriable) throw err;
      }
      if (Date.now() - started > timeoutMs) throw new Error(`${topic}: fewer than ${count} records after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await admin.disconnect();
  }
}

/** The records a committed reader gets from `topic` up to its end offsets now (transaction markers take offsets but are no records). */
export async function countRecords(kafka: Kafka, topic: string): Promise<number> {
  let records = 0;
  await readTopicToEnd(kafka, topic, () => void records++);
  return records;
}

export async function topicsOf(kafka: Kafka): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.listTopics()).sort();
  } finally {
    await admin.disconnect();
  }
}

export async function createTopics(kafka: Kafka, topics: string[], partitions = 3): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ waitForLeaders: true, topics: topics.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 1 })) });
  } finally {
    await admin.disconnect();
  }
}

/** The PostgreSQL server the integration tests use (trust auth on this project's machines). */
export const TEST_DATABASE_URL = TEST_ENV.FEDGATE_TEST_DATABASE_URL;
