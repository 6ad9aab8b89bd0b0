import { createHash, randomBytes } from 'node:crypto';
import { stringify } from 'yaml';

/** The user name Prometheus sends to the JMX exporters (its password is the site's metrics secret). */
export const JMX_EXPORTER_USER = 'prometheus';

type Rule = { pattern: string; name: string; type: 'GAUGE' | 'COUNTER'; labels?: Record<string, string>; help?: string };

/**
 * What each JVM exports: only what an operator of fedgate watches, so a
 * scrape stays small and every label set is bounded by the topology
 * (topics, partitions, groups), never by traffic. The agent adds the JVM's
 * own metrics (`jvm_*`, `process_*`).
 */
const RULES: Record<'broker' | 'mm2', Rule[]> = {
  broker: [
    {
      pattern:
        'kafka.server<type=ReplicaManager, name=(UnderReplicatedPartitions|UnderMinIsrPartitionCount|OfflineReplicaCount|PartitionCount|LeaderCount)><>Value:',
      name: 'kafka_server_replicamanager_$1',
      type: 'GAUGE',
    },
    {
      pattern: 'kafka.controller<type=KafkaController, name=(ActiveControllerCount|OfflinePartitionsCount|GlobalPartitionCount)><>Value:',
      name: 'kafka_controller_kafkacontroller_$1',
      type: 'GAUGE',
    },
    // Totals over every topic (the per-topic beans carry a topic key and do not match).
    ...(
      [
        ['MessagesInPerSec', 'kafka_server_messages_in_total'],
        ['BytesInPerSec', 'kafka_server_bytes_in_total'],
        ['BytesOutPerSec', 'kafka_server_bytes_out_total'],
        ['FailedProduceRequestsPerSec', 'kafka_server_failed_produce_requests_total'],
      ] as const
    ).map(([bean, name]): Rule => ({ pattern: `kafka.server<type=BrokerTopicMetrics, name=${bean}><>Count:`, name, type: 'COUNTER' })),
    {
      pattern:
        'kafka.network<type=RequestMetrics, name=RequestsPerSec, request=(Produce|Fetch|FetchConsumer|FetchFollower|Metadata|OffsetCommit), version=(\\d+)><>Count:',
      name: 'kafka_network_requests_total',
      type: 'COUNTER',
      labels: { request: '$1', version: '$2' },
    },
    {
      pattern: 'kafka.network<type=RequestMetrics, name=TotalTimeMs, request=(Produce|FetchConsumer|FetchFollower)><>(50thPercentile|99thPercentile):',
      name: 'kafka_network_request_total_time_ms',
      type: 'GAUGE',
      labels: { request: '$1', quantile: '$2' },
    },
  ],
  mm2: [
    {
      // Per replicated partition: bounded by the routed topics of the flows into the site.
      pattern: 'kafka.connect.mirror<type=MirrorSourceConnector, target=([^,]+), topic=([^,]+), partition=(\\d+)><>(record-count|byte-count):',
      name: 'kafka_connect_mirror_source_connector_$4_total',
      type: 'COUNTER',
      labels: { target: '$1', topic: '$2', partition: '$3' },
    },
    {
      pattern:
        // The newest record's latency and age, and their maxima; rates come from the counters above.
        'kafka.connect.mirror<type=MirrorSourceConnector, target=([^,]+), topic=([^,]+), partition=(\\d+)><>(replication-latency-ms|replication-latency-ms-max|record-age-ms|record-age-ms-max):',
      name: 'kafka_connect_mirror_source_connector_$4',
      type: 'GAUGE',
      labels: { target: '$1', topic: '$2', partition: '$3' },
    },
    {
      pattern:
        'kafka.connect.mirror<type=MirrorCheckpointConnector, source=([^,]+), target=([^,]+), group=([^,]+), topic=([^,]+), partition=(\\d+)><>(checkpoint-latency-ms|checkpoint-latency-ms-max):',
      name: 'kafka_connect_mirror_checkpoint_connector_$6',
      type: 'GAUGE',
      labels: { source: '$1', target: '$2', group: '$3', topic: '$4', partition: '$5' },
    },
    {
      pattern: 'kafka.connect<type=connect-worker-metrics><>(connector-count|task-count|connector-startup-failure-total|task-startup-failure-total):',
      name: 'kafka_connect_worker_$1',
      type: 'GAUGE',
    },
  ],
};

/**
 * The MBeans each exporter reads at all: the ones its rules match, so a
 * scrape does not walk every bean of the JVM (a broker has a few per topic
 * and partition, and walking them all took a loaded broker past
 * Prometheus's 2 s scrape timeout in CI). A pattern without a trailing `,*`
 * matches beans with exactly those keys: the broker's totals, not the
 * per-topic beans beside them.
 */
const INCLUDE: Record<'broker' | 'mm2', string[]> = {
  broker: [
    'kafka.server:type=ReplicaManager,name=*',
    'kafka.controller:type=KafkaController,name=*',
    'kafka.server:type=BrokerTopicMetrics,name=*',
    'kafka.network:type=RequestMetrics,name=RequestsPerSec,request=*,version=*',
    'kafka.network:type=RequestMetrics,name=TotalTimeMs,request=*',
  ],
  mm2: [
    'kafka.connect.mirror:type=MirrorSourceConnector,*',
    'kafka.connect.mirror:type=MirrorCheckpointConnector,*',
    'kafka.connect:type=connect-worker-metrics',
  ],
};

/**
 * The rules alone, for an exporter whose HTTP server someone else runs: Strimzi's
 * `metricsConfig` (deploy/k8s/render.ts) takes a ConfigMap with exactly this.
 */
export function renderJmxExporterRules(component: 'broker' | 'mm2'): string {
  return stringify(
    { lowercaseOutputName: true, lowercaseOutputLabelNames: true, includeObjectNames: INCLUDE[component], rules: RULES[component] },
    { aliasDuplicateObjects: false },
  );
}

/** SHA-256(salt:password) in the exporter's own form (hex of a BigInteger: lower case, no leading zeros). */
export function jmxPasswordHash(salt: string, password: string): string {
  return createHash('sha256').update(`${salt}:${password}`).digest('hex').replace(/^0+/, '');
}

/**
 * The JMX exporter agent's configuration for one JVM: its rules, and HTTP
 * basic authentication with the site's metrics secret, stored salted and
 * hashed (the secret itself is not written into the run folder).
 */
export function renderJmxExporterConfig(component: 'broker' | 'mm2', metricsSecret: string, salt = randomBytes(12).toString('base64url')): string {
  return stringify(
    {
      httpServer: {
        authentication: { basic: { username: JMX_EXPORTER_USER, algorithm: 'SHA-256', salt, passwordHash: jmxPasswordHash(salt, metricsSecret) } },
      },
      lowercaseOutputName: true,
      lowercaseOutputLabelNames: true,
      includeObjectNames: INCLUDE[component],
      rules: RULES[component],
    },
    { aliasDuplicateObjects: false },
  );
}
