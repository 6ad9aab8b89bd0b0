import { interSiteBootstraps, localBootstraps } from './kafka-endpoints.ts';
import { type Properties, renderProperties } from './properties.ts';
import { groupPrefix } from './topics.ts';
import type { Topology } from './topology.ts';
import { escapeRegex, replicationOf, siteOf, upstreamSites } from './topology.ts';

/** Files an MM2 node reads; they come from `certs/` and the launcher. */
export interface Mm2Paths {
  /** The federation CA, PEM. */
  caFile: string;
  /** This site's MM2 client key and certificate chain in one PEM file. */
  keystoreFile: string;
}

/**
 * MM2's producer linger. None: MM2's producer keeps one request in flight
 * (acks=all), so the records that arrive while it waits go out together
 * anyway. linger.ms=5 only delayed every copy at low rates (MM2 hop p50
 * 11 -> 4 ms at 20 events/s).
 */
export const MM2_PRODUCER_LINGER_MS = 0;

/**
 * MM2's producer buffer per flow. Kafka's default is 32 MB, which a source
 * task fills when it copies a backlog faster than the target acknowledges:
 * with two upstream flows, each holding a 16 MB fetch and a full 32 MB
 * buffer, an MM2 node with fedgate's 256 MB heap died of
 * `OutOfMemoryError: Java heap space` while catching up a 100,000-event
 * backlog (site-outage drill, 2026-12-06). One acks=all request in flight
 * needs far less: 8 MB.
 */
export const MM2_PRODUCER_BUFFER_BYTES = 8 * 1024 * 1024;

/**
 * How long a Java consumer of Kafka Connect or MM2 lets the broker hold a
 * fetch that finds no data (Kafka's default 500 ms; kafkajs's 5000 ms). With
 * `fetch.min.bytes` 1 the broker answers as soon as one record arrives, so a
 * longer wait costs no latency; it only sets how often an idle reader asks
 * again. An idle MM2 node keeps about ten such readers busy: per flow, the
 * Connect worker's offsets, status and config logs (they take the worker's
 * own settings) and the checkpoint task's offset-syncs reader, plus the
 * source task's consumer at each upstream site. At 500 ms they were ~18 of
 * the ~40 requests a second an idle site's broker served (README,
 * Performance). A `readToEnd` of a Connect log wakes its reader at once, so
 * config and offset reads are not held up.
 */
export const IDLE_FETCH_WAIT_MS = 5000;

/**
 * MM2's consumer of each upstream site. With Kafka's defaults (1 MB per
 * partition per fetch) a dedicated MM2 node's source task waited in the
 * consumer's fetch with its JVM idle (JFR); larger fetches keep it busy
 * (README, "A second MM2 finding", has the figures). The response cap bounds
 * the buffered fetches per upstream site to 16 MB of the node's heap.
 */
export const MM2_SOURCE_CONSUMER = {
  'max.partition.fetch.bytes': 4 * 1024 * 1024,
  'fetch.max.bytes': 16 * 1024 * 1024,
  'fetch.max.wait.ms': IDLE_FETCH_WAIT_MS,
} as const;

const POLICIES = {
  default: 'org.apache.kafka.connect.mirror.DefaultReplicationPolicy',
  identity: 'org.apache.kafka.connect.mirror.IdentityReplicationPolicy',
} as const;

/** The consumer groups MM2 checkpoints at `upstream` (a Java regex): that site's own groups. */
export const checkpointedGroups = (upstream: string) => `${escapeRegex(groupPrefix(upstream))}.*`;

/** Settings of one site's MirrorMaker 2, grouped by where they apply; both the native node and Strimzi's KafkaMirrorMaker2 render from it. */
export interface Mm2Tuning {
  /** Every connector of every flow. */
  connectors: Record<string, string | number | boolean>;
  /** MirrorSourceConnector: the copies and the offset syncs. */
  source: Record<string, string | number | boolean>;
  /** MirrorCheckpointConnector: consumer-group checkpoints and their translation. */
  checkpoint: Record<string, string | number | boolean>;
  /** MirrorHeartbeatConnector. */
  heartbeat: Record<string, string | number | boolean>;
  /** Each flow's Connect worker: its internal topics' replication. */
  workerStorage: Record<string, string | number | boolean>;
  /** Each flow's Connect worker: rebalancing and source-offset flushing. */
  worker: Record<string, string | number | boolean>;
  /** The producer that writes the copies at this site. */
  producer: Record<string, string | number | boolean>;
  /** The consumer that reads each upstream site. */
  sourceConsumer: Record<string, string | number | boolean>;
}

/** Pure: the settings of the MirrorMaker 2 that copies into `siteName`. */
export function mm2Tuning(topology: Topology, siteName: string): Mm2Tuning {
  const self = siteOf(topology, siteName);
  // The Connect topics and MM2's own topics live at this site: as many copies as its routed topics.
  const rf = replicationOf(self).factor;
  const iv = topology.mm2;
  return {
    connectors: { 'replication.policy.class': POLICIES[topology.replicationPolicy], 'tasks.max': 1 },
    source: {
      'replication.factor': rf,
      'offset-syncs.topic.replication.factor': rf,
      // Offset syncs at the target (KIP-716): a site's MM2 node writes nothing at its sources.
      'offset-syncs.topic.location': 'target',
      'refresh.topics.interval.seconds': iv.refreshSeconds,
      'offset.lag.max': iv.offsetLagMax,
      'sync.topic.acls.enabled': false,
    },
    // Drill-friendly intervals: seconds, not the WAN defaults of 60-600 s.
    checkpoint: {
      'checkpoints.topic.replication.factor': rf,
      'emit.checkpoints.enabled': true,
      'emit.checkpoints.interval.seconds': iv.checkpointSeconds,
      'sync.group.offsets.enabled': true,
      'sync.group.offsets.interval.seconds': iv.syncGroupOffsetsSeconds,
      'refresh.groups.interval.seconds': iv.refreshSeconds,
      // The checkpoint connector reads the offset syncs where the source connector writes them.
      'offset-syncs.topic.location': 'target',
    },
    heartbeat: { 'heartbeats.topic.replication.factor': rf, 'emit.heartbeats.interval.seconds': iv.heartbeatSeconds },
    workerStorage: { 'offset.storage.replication.factor': rf, 'status.storage.replication.factor': rf, 'config.storage.replication.factor': rf },
    worker: {
      // Each flow's Connect group has a single worker. When the local broker (its
      // group coordinator) dies, the worker loses membership, and incremental
      // cooperative rebalancing holds its "lost" tasks for this long (300000 ms by
      // default) before handing them back: five minutes without replication after
      // the broker returns. Nobody else could take them, so hand them back at once.
      'scheduled.rebalance.max.delay.ms': 0,
      // A restarted source task resumes from the last flushed source offsets and
      // re-copies what came after (at-least-once). Flushing every 5 s instead of
      // Connect's 60 s keeps that replay short. Duplicates are harmless downstream
      // (idempotent effects and monitoring), and drills count them.
      'offset.flush.interval.ms': 5000,
      // Every plugin on the classpath (Kafka's own) ships ServiceLoader manifests, so the reflective scan of all
      // 107 jars that the default (hybrid_warn) adds finds nothing more: it cost each flow's worker 5-14 s of CPU
      // at start (one scan per node and one per flow, on cores shared with the site's other JVMs).
      'plugin.discovery': 'service_load',
      // The worker's internal logs and the checkpoint task's offset-syncs reader (IDLE_FETCH_WAIT_MS).
      'fetch.max.wait.ms': IDLE_FETCH_WAIT_MS,
    },
    producer: { 'linger.ms': MM2_PRODUCER_LINGER_MS, 'buffer.memory': MM2_PRODUCER_BUFFER_BYTES },
    sourceConsumer: { ...MM2_SOURCE_CONSUMER },
  };
}

/**
 * The mm2.properties of one site's MirrorMaker 2 node, run with
 * `--clusters <site>`: it consumes every upstream site over mTLS (with this
 * site's MM2 client certificate) and produces into the local cluster through
 * the site-local listener.
 *
 * Pure: the same topology and paths always render the same text.
 */
export function renderMm2Properties(topology: Topology, siteName: string, paths: Mm2Paths): string {
  const self = siteOf(topology, siteName);
  const upstream = upstreamSites(topology, siteName);

  // Every cluster, local or upstream, over mTLS with this site's MM2 certificate; hostname
  // verification stays on (a broker certificate's SAN is its address).
  const mtls = (alias: string): Array<readonly [string, string]> => [
    [`${alias}.security.protocol`, 'SSL'],
    [`${alias}.ssl.keystore.type`, 'PEM'],
    [`${alias}.ssl.keystore.location`, paths.keystoreFile],
    [`${alias}.ssl.truststore.type`, 'PEM'],
    [`${alias}.ssl.truststore.location`, paths.caFile],
    [`${alias}.ssl.endpoint.identification.algorithm`, 'https'],
  ];
  const t = mm2Tuning(topology, siteName);
  const props: Array<readonly [string, string | number | boolean]> = [
    ['clusters', [self.name, ...upstream.map((s) => s.name)].join(', ')],
    // MirrorMakerConfig builds a plugin registry of its own from the top-level settings (config providers),
    // before each flow's worker builds one from the target's prefix (t.worker): both without the reflective scan.
    ['plugin.discovery', t.worker['plugin.discovery']!],
    // Top-level settings reach every connector of every flow, and each flow's Connect worker.
    ...Object.entries({ ...t.connectors, ...t.source, ...t.checkpoint, ...t.heartbeat, ...t.workerStorage }),

    // The local cluster, through the site-local listener.
    [`${self.name}.bootstrap.servers`, localBootstraps(self).join(',')],
    ...mtls(self.name),
    ...Object.entries(t.producer).map(([k, v]) => [`${self.name}.producer.${k}`, v] as const),
    // MM2 builds a flow's worker config from the *target* cluster's prefix.
    ...Object.entries(t.worker).map(([k, v]) => [`${self.name}.${k}`, v] as const),
  ];

  for (const source of upstream) {
    const flow = source.flows.find((f) => f.to === self.name);
    if (!flow) continue;
    props.push(
      [`${source.name}.bootstrap.servers`, interSiteBootstraps(source).join(',')],
      ...mtls(source.name),
      ...Object.entries(t.sourceConsumer).map(([k, v]) => [`${source.name}.consumer.${k}`, v] as const),
      [`${source.name}->${self.name}.enabled`, true],
      [`${source.name}->${self.name}.topics`, flow.topics],
      // Checkpoint only the upstream site's own consumer groups, the ones this node may describe there. With
      // the default (every group), the checkpoint connector's group scan fails on the first group the ACLs
      // hide from it (a gateway's window group, an operator's console group), and it stops checkpointing.
      [`${source.name}->${self.name}.groups`, checkpointedGroups(source.name)],
      // Flows out of this site run on the downstream sites' nodes, not here.
      [`${self.name}->${source.name}.enabled`, false],
    );
  }

  if (topology.mm2.exactlyOnce) {
    // KIP-618 in dedicated mode (Kafka 3.5+): each flow's worker runs its source
    // task with a transactional producer that commits the copies and the source
    // offsets together, and the leader fences zombie tasks through the internal
    // REST server (KIP-710). That server serves only Connect's internal
    // endpoints, whose requests are signed with the group's session key; it
    // binds the site-local address.
    props.push(
      ['dedicated.mode.enable.internal.rest', true],
      ['listeners', `http://${self.address}:${self.ports.mm2Rest}`],
      [`${self.name}.exactly.once.source.support`, 'enabled'],
    );
    // MirrorSourceConnector supports exactly-once only when it reads its sources committed.
    for (const source of upstream) props.push([`${source.name}.consumer.isolation.level`, 'read_committed']);
  }

  return renderProperties(
    `MirrorMaker 2 node of site ${self.name} (federation ${topology.federation}).\n` +
      `Generated by fedgate from the topology file; edit the topology, not this file.\n` +
      `Run: org.apache.kafka.connect.mirror.MirrorMaker <this file> --clusters ${self.name}`,
    props as Properties,
  );
}
