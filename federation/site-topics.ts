import type { ITopicConfig } from 'kafkajs';
import { deliveryDeadLetterTopic } from './delivery.ts';
import { offsetSyncsTopic } from './offset-syncs.ts';
import { CDC_TOPICS, CONNECT_TOPICS, isPisSite, SOURCE_TOPIC } from './pis.ts';
import {
  allRoutedTopics,
  DEAD_LETTER_TOPIC,
  type EventKind,
  IDEMPOTENCY_TOPIC,
  MONITORING_TOPIC,
  REPLAY_TOPIC,
  remoteTopic,
  routedTopicsForSite,
} from './topics.ts';
import { replicationOf, siteOf, type Topology, upstreamSites } from './topology.ts';

/**
 * The topics one site needs, all derived from the topology (brokers keep
 * auto-create off):
 * - every routed topic, since an event for any scope may be published here;
 * - the copies MM2 will write here (`<upstream>.<topic>`) for what the site
 *   serves, created up front so consumers can subscribe before the first copy;
 * - the monitoring, replay and dead-letter streams;
 * - the gateways' idempotency window (compacted, kept for the site's window);
 * - one dead-letter topic per delivery subscription.
 */
export function siteTopicPlan(topology: Topology, siteName: string): ITopicConfig[] {
  const site = siteOf(topology, siteName);
  const partitions = topology.partitions;
  // With three brokers, every topic has three copies and min.insync.replicas=2 (broker default; see deploy/broker-config.ts).
  const replicationFactor = replicationOf(site).factor;
  const served = routedTopicsForSite(site);
  const topics: ITopicConfig[] = allRoutedTopics(topology).map((topic) => ({ topic, numPartitions: partitions, replicationFactor }));
  for (const upstream of upstreamSites(topology, siteName)) {
    // MM2 copies each upstream's `heartbeats` topic here; the link monitor reads it.
    topics.push({ topic: remoteTopic(upstream.name, 'heartbeats'), numPartitions: 1, replicationFactor });
    // MM2's offset syncs of the flow from `upstream` (location=target), as MM2 itself creates them; the
    // retention monitor reads them from the start, so they exist before the node first runs.
    topics.push({
      topic: offsetSyncsTopic(upstream.name),
      numPartitions: 1,
      replicationFactor,
      configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
    });
    for (const t of served) {
      topics.push({
        topic: remoteTopic(upstream.name, t),
        numPartitions: partitions,
        replicationFactor,
        // The broker stamps each copy when it lands, so a copy's timestamp is
        // the replication time (the original publish time travels in ce_publishedat).
        configEntries: [{ name: 'message.timestamp.type', value: 'LogAppendTime' }],
      });
    }
  }
  topics.push(
    { topic: MONITORING_TOPIC, numPartitions: partitions, replicationFactor },
    // Replays to this site's consumers, keyed by product id.
    { topic: REPLAY_TOPIC, numPartitions: partitions, replicationFactor },
    { topic: DEAD_LETTER_TOPIC, numPartitions: 1, replicationFactor },
    {
      topic: IDEMPOTENCY_TOPIC,
      numPartitions: partitions,
      replicationFactor,
      configEntries: windowTopicConfig(site.limits.idempotencyWindowSeconds),
    },
    // Each subscription's dead letters: what it gave up on, with the last error.
    ...site.delivery.subscriptions.map((s) => ({ topic: deliveryDeadLetterTopic(s.name), numPartitions: 1, replicationFactor })),
  );
  if (isPisSite(topology, siteName)) {
    const compact = [{ name: 'cleanup.policy', value: 'compact' }];
    topics.push(
      // Kafka Connect's own topics (as the worker would create them: compacted, one partition for configs).
      { topic: CONNECT_TOPICS.configs, numPartitions: 1, replicationFactor, configEntries: compact },
      { topic: CONNECT_TOPICS.offsets, numPartitions: partitions, replicationFactor, configEntries: compact },
      { topic: CONNECT_TOPICS.status, numPartitions: 1, replicationFactor, configEntries: compact },
      // Debezium's change topics, keyed by the row's primary key: one row's changes stay in order.
      ...CDC_TOPICS.map((topic) => ({ topic, numPartitions: partitions, replicationFactor })),
      // The PIS's own source topic, keyed by product id.
      { topic: SOURCE_TOPIC, numPartitions: partitions, replicationFactor },
    );
  }
  return topics;
}

/** The routed topics, local and replicated, that carry `kind` events this site serves. */
export function consumedTopics(topology: Topology, siteName: string, kind: EventKind): string[] {
  const site = siteOf(topology, siteName);
  const served = routedTopicsForSite(site).filter((t) => t.startsWith(`fed.${kind}.`));
  return [...served, ...upstreamSites(topology, siteName).flatMap((u) => served.map((t) => remoteTopic(u.name, t)))];
}

/**
 * What a site's event store reads: every routed topic here (an event for any
 * scope may be published here, and only here is it in that topic) and the
 * copies MM2 brings of what the site serves. Together: each event the site
 * holds, once per topic it was written to.
 */
export function storedTopics(topology: Topology, siteName: string): string[] {
  const served = routedTopicsForSite(siteOf(topology, siteName));
  return [...allRoutedTopics(topology), ...upstreamSites(topology, siteName).flatMap((u) => served.map((t) => remoteTopic(u.name, t)))];
}

/**
 * The window topic keeps the latest record per key (compaction) and drops
 * whole segments older than the window (deletion); segments roll at a
 * quarter of the window so they can age out.
 */
export function windowTopicConfig(windowSeconds: number): { name: string; value: string }[] {
  const ms = windowSeconds * 1000;
  return [
    { name: 'cleanup.policy', value: 'compact,delete' },
    { name: 'retention.ms', value: String(ms) },
    { name: 'segment.ms', value: String(Math.max(60_000, Math.floor(ms / 4))) },
  ];
}
