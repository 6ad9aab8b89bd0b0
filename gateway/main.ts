import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { hostname } from 'node:os';
import { serve } from '@hono/node-server';
import { Kafka, logLevel, type Message, Partitioners } from 'kafkajs';
import pg from 'pg';
import { pino } from 'pino';
import {
  audienceOf,
  certificateExpiries,
  certPaths,
  clientTls,
  ensureSigningKeys,
  issuerOf,
  metricsSecret,
  publicJwks,
  readApiAuthorization,
  readApiSecret,
  siteSecret,
  withKafkaCa,
} from '../certs/index.ts';
import type { ProductEvent, Publisher } from '../contract/index.ts';
import {
  CATALOG_ROLE,
  IDEMPOTENCY_TOPIC,
  instanceEndpoint,
  isKnownLag,
  isPisSite,
  loadTopology,
  localKafkaConfig,
  nodeBindAddress,
  PIS_SECRET_FILES,
  pisDatabaseUrl,
  REPLAY_TOPIC,
  siteOf,
} from '../federation/index.ts';
import { createApp, createPeerApp } from './app.ts';
import { createBatcher } from './batcher.ts';
import type { GatewayDeps } from './deps.ts';
import { createDistributor } from './distributor.ts';
import { keyWindowRecord, replayWindowRecord, startWindowReader } from './durable-window.ts';
import { type CatalogEntry, type CatalogLookup, createEnricher } from './enrichment.ts';
import { readGatewayEnv } from './env.ts';
import { createEventStreams } from './event-stream.ts';
import { createFederatedView } from './federated-view.ts';
import { createIdempotencyStore } from './idempotency.ts';
import { createPromMetrics } from './metrics.ts';
import { createPeerAccept } from './peer-accept.ts';
import { createPeerClient } from './peer-client.ts';
import { createPeerFailover } from './peer-failover.ts';
import { cdcSource, type IngestSource, productEventSource, startIngest } from './pis-ingest.ts';
import { type AcceptedEvent, createPublishService, type PublishResult } from './publish-service.ts';
import { createRateLimiter } from './rate-limit.ts';
import { createReplays, type StoredReplay } from './replay.ts';
import { createVerifier } from './verifier.ts';

// Load config, build the dependencies, start, drain on SIGTERM.
const env = readGatewayEnv();
const topology = loadTopology(env.FEDGATE_TOPOLOGY);
const site = siteOf(topology, env.FEDGATE_SITE);
const log = pino({ level: env.LOG_LEVEL, base: { site: site.name, component: 'gateway' } });
const instanceAt = instanceEndpoint(site);
const instanceUrl = `http://${instanceAt.host}:${instanceAt.port}`;
const instanceHeaders = readApiAuthorization(readApiSecret(env.FEDGATE_CERTS_DIR, site.name));
await ensureSigningKeys(env.FEDGATE_CERTS_DIR, site.name);
// The gateway's certificate for its site's Kafka; the listener's CA is the federation CA unless told otherwise.
const kafkaTls = withKafkaCa(clientTls(env.FEDGATE_CERTS_DIR, site.name, 'gateway'), env.FEDGATE_KAFKA_CA_FILE);

// Short retries: a dead local broker must turn into a failover in about a second, not after kafkajs' 30 s default.
const kafka = new Kafka({
  ...localKafkaConfig(site, `fedgate-gateway-${site.name}`, kafkaTls),
  logLevel: logLevel.NOTHING,
  connectionTimeout: 1000,
  requestTimeout: 5000,
  retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 },
});
// The subscribe streams read with a client of their own: patient retries, unlike the publish path's.
const streams = createEventStreams({
  kafka: new Kafka({
    ...localKafkaConfig(site, `fedgate-gateway-stream-${site.name}`, kafkaTls),
    logLevel: logLevel.NOTHING,
    retry: { retries: 5, initialRetryTime: 300 },
  }),
  site: site.name,
  siteNames: topology.sites.map((s) => s.name),
});
const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
let connected = false;
producer.on(producer.events.CONNECT, () => (connected = true));
producer.on(producer.events.DISCONNECT, () => (connected = false));
/** One acks=all write of the gateway's own records (the window, replays), connecting first when needed. */
const sendAcked = async (topic: string, messages: Message[]) => {
  if (!connected) await producer.connect();
  await producer.send({ topic, acks: -1, timeout: 5000, messages });
};
const distribute = createDistributor({ producer, topology, monitorSite: site.name, timeoutMs: 5000, window: true });
const peers = createPeerClient({ topology, site: site.name, certsDir: env.FEDGATE_CERTS_DIR });

const view = createFederatedView({ topology, site: site.name, peers, instanceUrl, instanceHeaders, deadlineMs: env.PEER_DEADLINE_MS });
let metrics: ReturnType<typeof createPromMetrics>;
const batcher = createBatcher<{ event: ProductEvent; publisher: Publisher }>({
  async send(items) {
    if (!connected) await producer.connect();
    const publishers = new Map(items.map((i) => [i.event.id, i.publisher]));
    await distribute(
      items.map((i) => i.event),
      (e) => publishers.get(e.id),
    );
  },
  maxBatch: env.KAFKA_BATCH_EVENTS,
  maxQueued: env.MAX_IN_FLIGHT_EVENTS,
  onBatch: (n) => metrics?.batch(n),
});
const pendingEvents = () => {
  const { queued, inFlight } = batcher.load();
  return queued + inFlight;
};
metrics = createPromMetrics({
  site: site.name,
  inFlight: pendingEvents,
  flowsIn: async () => (await view.flows()).filter(isKnownLag).filter((f) => f.to === site.name),
  certificates: () => certificateExpiries(env.FEDGATE_CERTS_DIR, site.name),
});

// The idempotency window: in memory for lookups, durable in site.idempotency (read back before serving).
const windowMs = site.limits.idempotencyWindowSeconds * 1000;
const seen = createIdempotencyStore<AcceptedEvent>({ maxEntries: 500_000, ttlMs: windowMs });
const keyAnswers = createIdempotencyStore<PublishResult>({ maxEntries: 100_000, ttlMs: windowMs });
// Replay jobs are kept in the window too: their records, in the topic's order, are buffered until the replays below
// exist, then observed as they come (every gateway of the site follows every job, and agrees on who runs it).
let replayRecords: StoredReplay[] | null = [];
let observeReplay: ((record: StoredReplay) => void) | null = null;
const windowStarted = performance.now();
const windowReader = await startWindowReader({
  kafka,
  site: site.name,
  index: { events: seen, keys: keyAnswers, replays: { set: (_id, record) => (observeReplay ? observeReplay(record) : replayRecords?.push(record)) } },
  log,
  loadTimeoutMs: 20_000,
});
const windowLoadMs = performance.now() - windowStarted;
const requestKeys = {
  get: keyAnswers.get,
  async set(key: string, result: PublishResult) {
    keyAnswers.set(key, result);
    try {
      await sendAcked(IDEMPOTENCY_TOPIC, [keyWindowRecord(key, result)]);
    } catch (err) {
      // The events are accepted either way; only a retry of this key after a restart would not see the answer.
      log.warn({ err: (err as Error).message }, 'Idempotency-Key answer not recorded in the window');
    }
  },
};
const submit = (events: ProductEvent[], publisher: Publisher) => batcher.submit(events.map((event) => ({ event, publisher })));

const verify = createVerifier({
  audience: audienceOf(topology),
  issuers: new Map(
    topology.sites.map((s) => [
      issuerOf(s.name),
      s.name === site.name
        ? () => publicJwks(env.FEDGATE_CERTS_DIR, site.name)
        : async () => {
            // A peer's public keys, fetched from the peer itself over mTLS.
            const res = await peers.call<{ keys: unknown[] }>(s, 'GET', '/.well-known/jwks.json', 2000);
            if (res.status !== 200 || !Array.isArray(res.body?.keys)) throw new Error(`${s.name} did not serve its JWKS`);
            return res.body as never;
          },
    ]),
  ),
});

// Enrichment (the federation has a PIS): the PIS site's gateway reads the catalog from the PIS database with a
// SELECT-only role; every other gateway asks it over the peer listener (mTLS). Both cache per gateway.
const catalogPool = isPisSite(topology, site.name)
  ? new pg.Pool({
      connectionString: pisDatabaseUrl(
        topology,
        CATALOG_ROLE,
        siteSecret(env.FEDGATE_CERTS_DIR, site.name, PIS_SECRET_FILES.catalog),
        certPaths(env.FEDGATE_CERTS_DIR).caCert,
      ),
      max: 2,
      connectionTimeoutMillis: 2000,
    })
  : null;
catalogPool?.on('error', (err) => log.warn({ err: err.message }, 'PIS catalog connection lost'));
const catalogLookup: CatalogLookup | undefined = catalogPool
  ? async (ids) => {
      const rows = await catalogPool.query<{ product_id: string; name: string; brand: string | null; category: string | null }>(
        'SELECT product_id, name, brand, category FROM products WHERE product_id = ANY($1)',
        [ids],
      );
      return new Map(
        rows.rows.map((r) => [r.product_id, { name: r.name, ...(r.brand ? { brand: r.brand } : {}), ...(r.category ? { category: r.category } : {}) }]),
      );
    }
  : undefined;
const enrich = topology.pis
  ? createEnricher({
      ttlMs: topology.pis.enrichment.cacheSeconds * 1000,
      unknownProduct: topology.pis.enrichment.unknownProduct,
      lookup:
        catalogLookup ??
        (async (ids) => {
          const res = await peers.call<{ entries: Record<string, CatalogEntry> }>(siteOf(topology, topology.pis!.site), 'POST', '/peer/v1/catalog', 2000, {
            ids,
          });
          if (res.status !== 200 || !res.body?.entries) throw new Error(`the PIS site's gateway answered ${res.status}`);
          return new Map(Object.entries(res.body.entries));
        }),
    })
  : undefined;

// Replays to this site: stored history from every site's store, re-sent through the site's replay topic; each job's
// state is recorded in the window (before its 202, after each page), and a restart resumes the running ones.
const replays = createReplays({
  site: site.name,
  topology,
  history: view.history,
  send: (messages) => sendAcked(REPLAY_TOPIC, messages),
  save: (record) => sendAcked(IDEMPOTENCY_TOPIC, [replayWindowRecord(record)]),
  // Stable across this gateway's restarts (its jobs resume at once), distinct from the site's other gateways (pods).
  gateway: `${site.name}@${hostname()}`,
  log,
});
const restored = replays.restore(replayRecords ?? []);
replayRecords = null;
observeReplay = (record) => replays.observe(record);
if (restored.listed > 0) log.info(restored, 'replay jobs read back from the window');
// Heartbeats of the jobs running here, and the takeover of running jobs no gateway holds (this one's before a restart
// at once, another's after the lease or its drain).
const replayTicks = async () => {
  try {
    const resumed = await replays.tick();
    if (resumed.length > 0) log.info({ jobs: resumed }, 'replay jobs resumed here');
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'replay tick failed');
  }
};
void replayTicks();
const replayTimer = setInterval(() => void replayTicks(), 5000);
replayTimer.unref();

const deps: GatewayDeps = {
  topology,
  site: site.name,
  log,
  verify,
  publish: createPublishService({
    topology,
    site: site.name,
    log,
    submit,
    failover: createPeerFailover({ topology, site: site.name, call: peers.call }),
    maxFutureSkewMs: site.limits.maxFutureSkewSeconds * 1000,
    seen,
    onOutcome: (o, n) => metrics.published(o, n),
    enrich,
  }),
  catalogLookup,
  view,
  jwks: () => publicJwks(env.FEDGATE_CERTS_DIR, site.name),
  metrics,
  metricsSecret: metricsSecret(env.FEDGATE_CERTS_DIR, site.name),
  requestKeys,
  limits: { maxBodyBytes: env.MAX_BODY_BYTES, maxBatchEvents: env.MAX_BATCH_EVENTS, liveStreamsPerClient: site.limits.liveStreamsPerClient },
  publishLimiter: createRateLimiter({ perSecond: site.limits.publishPerSecond, burst: site.limits.publishBurst }),
  acceptFromPeer: createPeerAccept({ site: site.name, maxBatchEvents: env.MAX_BATCH_EVENTS, verify, submit, seen, log }),
  benchRoutes: env.FEDGATE_BENCH_ROUTES === '1',
  streams,
  replays,
  instanceFetch: (path) => fetch(`${instanceUrl}/v1${path}`, { headers: instanceHeaders, signal: AbortSignal.timeout(env.PEER_DEADLINE_MS) }),
};

const certs = certPaths(env.FEDGATE_CERTS_DIR);
const own = certs.role(site.name, 'gateway');
const publicServer = serve({ fetch: createApp(deps).fetch, hostname: nodeBindAddress(site, 'gateway'), port: site.ports.gateway });
const peerServer = serve({
  fetch: createPeerApp(deps).fetch,
  hostname: nodeBindAddress(site, 'peer'),
  port: site.ports.peer,
  createServer: createHttpsServer,
  serverOptions: { key: readFileSync(own.key), cert: readFileSync(own.cert), ca: readFileSync(certs.caCert), requestCert: true, rejectUnauthorized: true },
});
producer.connect().catch((err) => log.warn({ err: err.message }, 'local Kafka not reachable at start; publishes will fail over'));

// At the PIS's site: every change Debezium captures, and every event the PIS writes to its source topic, is published
// through the same service as an HTTP publish. It never fails over to a peer: they wait in this site's Kafka until it
// acknowledges them.
const ingestState = { stopping: false };
function startPisIngests() {
  const ingestDeps = {
    kafka: new Kafka({
      ...localKafkaConfig(site, `fedgate-gateway-pis-${site.name}`, kafkaTls),
      logLevel: logLevel.NOTHING,
      retry: { retries: 8, initialRetryTime: 300, maxRetryTime: 5000 },
    }),
    site: site.name,
    log,
    publish: createPublishService({
      topology,
      site: site.name,
      log,
      submit,
      failover: async () => {
        throw new Error('what the PIS writes to this site is published only here');
      },
      maxFutureSkewMs: site.limits.maxFutureSkewSeconds * 1000,
      seen,
      onOutcome: (o, n) => metrics.published(o, n),
      enrich,
    }),
  };
  // Each ingest starts once the site's Kafka answers, retried every 5 s until then (or until the gateway stops).
  const startWhenKafkaAnswers = async (source: IngestSource) => {
    for (let attempt = 1; !ingestState.stopping; attempt++) {
      try {
        return await startIngest(ingestDeps, source);
      } catch (err) {
        log.warn({ err: (err as Error).message, source: source.name, attempt }, 'PIS ingest could not start yet; retrying in 5 s');
        await new Promise((r) => setTimeout(r, 5000));
      }
    }
    return null;
  };
  return [cdcSource(site.name), productEventSource(site.name)].map(startWhenKafkaAnswers);
}
const ingests = isPisSite(topology, site.name) ? startPisIngests() : [];
log.info(
  {
    url: `http://${nodeBindAddress(site, 'gateway')}:${site.ports.gateway}`,
    peer: `https://${nodeBindAddress(site, 'peer')}:${site.ports.peer}`,
    // Where a start's time went: the process's age (module loading included) and the window's load.
    startMs: Math.round(process.uptime() * 1000),
    windowLoadMs: Math.round(windowLoadMs),
  },
  'gateway listening',
);

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'draining');
    publicServer.close();
    peerServer.close();
    // Change capture stops first: the batch it is publishing finishes and is committed.
    ingestState.stopping = true;
    for (const ingest of await Promise.all(ingests)) await ingest?.stop();
    // Replays running here stop after their page in flight and are released: another gateway of the site goes on at once.
    clearInterval(replayTimer);
    await replays.release();
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && pendingEvents() > 0) await new Promise((r) => setTimeout(r, 50));
    await producer.disconnect().catch(() => {});
    await windowReader.stop();
    await streams.close();
    peers.close();
    await catalogPool?.end().catch(() => {});
    process.exit(0);
  });
}
