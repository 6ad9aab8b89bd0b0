import { type ServerType, serve } from '@hono/node-server';
import { type Admin, Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import type { Logger } from 'pino';
import {
  type ClientTls,
  deliveryConsumerName,
  isRoutedTopic,
  type LagSummary,
  localKafkaConfig,
  MONITORING_TOPIC,
  nodeBindAddress,
  type PartitionOffsets,
  parseRemoteTopic,
  type SiteOffsets,
  siteOf,
  siteTopicPlan,
  storedTopics,
  summarizeLag,
  type Topology,
} from '../federation/index.ts';
import type { Database } from './db/database.ts';
import { createDelivery } from './delivery/index.ts';
import type { SubscriptionConsumer } from './delivery/subscription-consumer.ts';
import { CONSUMERS, createDownstreamConsumer, type DownstreamConsumer } from './downstream-consumer.ts';
import { STORE_CONSUMER, STORE_FETCH, storeEvents } from './event-store.ts';
import { createLinkMonitor } from './link-monitor.ts';
import { createInstanceMetrics } from './metrics.ts';
import { createMonitoringConsumer } from './monitoring-consumer.ts';
import { createReadApi } from './read-api.ts';
import { createRetentionMonitor } from './retention-monitor.ts';
import { createRowRetention } from './row-retention.ts';
import { createSharedReading } from './shared-reading.ts';

export interface InstanceDeps {
  topology: Topology;
  site: string;
  database: Database;
  log: Logger;
  /** Every read API route but /v1/health requires it (certs/read-api-secret.ts). */
  readApiSecret: string;
  /** The site's scrape credential: GET /metrics answers only to it (certs/metrics-secret.ts). */
  metricsSecret: string;
  /** The instance's client certificate for its site's Kafka. */
  kafkaTls: ClientTls;
  /** A webhook subscription's live signing secrets, newest first (certs/webhook-secret.ts). */
  webhookSecrets: (subscription: string) => string[];
  /**
   * Which of the site's workers this is (default 1). Every worker consumes in
   * the site's groups; only worker 1 serves the read API and runs the link and
   * retention monitors, whose state the read API reports.
   */
  worker?: number;
}

type TopicEnds = Map<string, Awaited<ReturnType<Admin['fetchTopicOffsets']>>>;

/** Low and high offsets of each topic, every topic asked once; the round trips go out in parallel. */
async function topicEnds(admin: Admin, topics: Iterable<string>): Promise<TopicEnds> {
  return new Map(await Promise.all([...new Set(topics)].map(async (t) => [t, await admin.fetchTopicOffsets(t)] as const)));
}

/** Consumer lag of each group over the topics it reads, against `ends` (read here when not given). */
export async function groupLag(admin: Admin, groups: { groupId: string; topics: string[] }[], given?: TopicEnds): Promise<Record<string, LagSummary>> {
  const [ends, committed] = await Promise.all([
    given ??
      topicEnds(
        admin,
        groups.flatMap((g) => g.topics),
      ),
    Promise.all(groups.map((g) => admin.fetchOffsets({ groupId: g.groupId, topics: g.topics }))),
  ]);
  const out: Record<string, LagSummary> = {};
  groups.forEach(({ groupId }, i) => {
    const rows: PartitionOffsets[] = [];
    for (const t of committed[i]!) {
      for (const p of t.partitions) {
        const end = ends.get(t.topic)?.find((e) => e.partition === p.partition);
        if (end) rows.push({ topic: t.topic, partition: p.partition, end: Number(end.high), start: Number(end.low), position: Number(p.offset) });
      }
    }
    out[groupId] = summarizeLag(rows);
  });
  return out;
}

/**
 * One site's event system: topics, downstream consumers, the monitoring
 * consumer into the site DB, and the read API.
 */
export function createInstance(deps: InstanceDeps) {
  const { topology, site, database, log } = deps;
  const worker = deps.worker ?? 1;
  const serves = worker === 1;
  const siteCfg = siteOf(topology, site);
  const kafka = new Kafka({
    ...localKafkaConfig(siteCfg, worker === 1 ? `fedgate-instance-${site}` : `fedgate-instance-${site}-${worker}`, deps.kafkaTls),
    logLevel: logLevel.WARN,
    retry: { retries: 8, initialRetryTime: 200 },
  });
  let producer: Producer | null = null;
  let admin: Admin | null = null;
  let server: ServerType | null = null;
  let consumers: DownstreamConsumer[] = [];
  let subscriptions: SubscriptionConsumer[] = [];
  let startedAt = 0;
  const kafkaView = createSharedReading(readKafka, { freshMs: 1000, staleMs: 10_000 });
  const metrics = createInstanceMetrics({
    site,
    consumers: [...CONSUMERS.map((c) => c.name), STORE_CONSUMER],
    subscriptions: siteCfg.delivery.subscriptions.map(deliveryConsumerName),
    lag: async () => (await kafkaView()).value.groups,
  });
  const monitoringConsumer = createMonitoringConsumer({ kafka, db: database.db, site, log, metrics });
  const linkMonitor = createLinkMonitor({ kafka, topology, site, log });
  const retentionMonitor = createRetentionMonitor({ kafka, topology, site, log });
  // Old rows leave the site's database (worker 1 only: the workers share it).
  const rowRetention = createRowRetention({
    db: database.db,
    storedEventsDays: siteCfg.retention.storedEventsDays,
    monitoringDays: siteCfg.retention.monitoringDays,
    log,
  });
  const siteNames = topology.sites.map((s) => s.name);
  // Local routed topics and their copies from upstream sites: what flow lag compares.
  const offsetTopics = siteTopicPlan(topology, site)
    .map((t) => t.topic)
    .filter((t) => isRoutedTopic(t) || isRoutedTopic(parseRemoteTopic(t, siteNames)?.topic ?? ''));

  const groups = () => [
    ...consumers.map((c) => ({ groupId: c.groupId, topics: c.topics })),
    ...subscriptions.map((c) => ({ groupId: c.groupId, topics: c.topics })),
    { groupId: monitoringConsumer.groupId, topics: [MONITORING_TOPIC] },
  ];

  async function offsets(given?: TopicEnds): Promise<SiteOffsets> {
    const ends: Record<string, number[]> = {};
    if (admin) {
      const read = given ?? (await topicEnds(admin, offsetTopics));
      for (const topic of offsetTopics) ends[topic] = [...(read.get(topic) ?? [])].sort((a, b) => a.partition - b.partition).map((p) => Number(p.high));
    }
    return { ends, heartbeats: linkMonitor.heartbeats(), retentionLoss: retentionMonitor.losses() };
  }

  /** Consumer lag and flow offsets from one read of every topic involved. */
  async function readKafka(): Promise<{ groups: Record<string, LagSummary>; offsets: SiteOffsets }> {
    if (!admin) return { groups: {}, offsets: await offsets() };
    const gs = groups();
    const ends = await topicEnds(admin, [...gs.flatMap((g) => g.topics), ...offsetTopics]);
    const [lag, offs] = await Promise.all([groupLag(admin, gs, ends), offsets(ends)]);
    return { groups: lag, offsets: offs };
  }

  const api = createReadApi({
    db: database.db,
    site,
    log,
    secret: deps.readApiSecret,
    lag: async () => (admin ? groupLag(admin, groups()) : {}),
    offsets,
    // The federated view asks every site for this on each dashboard poll, from
    // every gateway, and Prometheus on each scrape: one reading (~70 Kafka requests) per second is shared.
    kafkaView,
    metrics: { secret: deps.metricsSecret, render: metrics.render },
    subscriptions: () => subscriptions.map((c) => c.status()),
    health: async () => ({
      db: database.kind,
      consumers: consumers.map((c) => c.name),
      subscriptions: subscriptions.map((c) => c.name),
      upSeconds: startedAt ? Math.round((Date.now() - startedAt) / 1000) : 0,
    }),
  });

  return {
    async start(): Promise<void> {
      admin = kafka.admin();
      await admin.connect();
      producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false, maxInFlightRequests: 5 });
      await producer.connect();
      consumers = [
        ...CONSUMERS.map((c) =>
          createDownstreamConsumer({ kafka, producer: producer!, db: database.db, topology, site, name: c.name, kind: c.kind, log, metrics }),
        ),
        // The event store: every event the site holds, with its payload (history reads it; instances/event-store.ts).
        createDownstreamConsumer({
          kafka,
          producer,
          db: database.db,
          topology,
          site,
          name: STORE_CONSUMER,
          topics: storedTopics(topology, site),
          apply: storeEvents,
          reportApplied: false,
          fetch: STORE_FETCH,
          log,
          metrics,
        }),
      ];
      subscriptions = createDelivery({ kafka, producer, topology, site, log, metrics, webhookSecrets: deps.webhookSecrets });
      await Promise.all([
        ...consumers.map((c) => c.start()),
        ...subscriptions.map((c) => c.start()),
        monitoringConsumer.start(),
        ...(serves ? [linkMonitor.start(), retentionMonitor.start()] : []),
      ]);
      if (serves) {
        rowRetention.start();
        const host = nodeBindAddress(siteCfg, 'instance');
        server = serve({ fetch: api.fetch, hostname: host, port: siteCfg.ports.instance });
        log.info({ url: `http://${host}:${siteCfg.ports.instance}` }, 'read API listening');
      } else {
        log.info({ worker }, 'worker consuming (worker 1 serves the read API)');
      }
      startedAt = Date.now();
    },
    /**
     * Drain: stop taking new work (leave the groups after the batch in flight,
     * committing its offsets), flush the producer, close the API and the DB.
     */
    async stop(): Promise<void> {
      await Promise.all([...consumers, ...subscriptions].map((c) => c.stop()));
      await monitoringConsumer.stop();
      if (serves) {
        await rowRetention.stop();
        await linkMonitor.stop();
        await retentionMonitor.stop();
      }
      await producer?.disconnect();
      await admin?.disconnect();
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      await database.close();
      log.info('instance stopped');
    },
  };
}
