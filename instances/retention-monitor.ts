import type { Consumer, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import {
  consumerGroup,
  createRetentionGapTracker,
  decodeOffsetSync,
  isRoutedTopic,
  offsetSyncsTopic,
  type RetentionLoss,
  type Topology,
  upstreamSites,
} from '../federation/index.ts';

/**
 * Watches every flow into this site for records lost to retention: it reads
 * MM2's offset syncs here (`mm2-offset-syncs.<upstream>.internal`) from the
 * start, in order, and counts the upstream offsets MM2 jumped over
 * (federation/offset-syncs.ts). It commits nothing, so each start reads the
 * whole history again (the topic is compacted: an old gap survives until
 * compaction removes the syncs around it, and every gap is logged once seen).
 */
export function createRetentionMonitor(options: { kafka: Kafka; topology: Topology; site: string; log: Logger }) {
  const upstream = upstreamSites(options.topology, options.site).map((s) => s.name);
  const trackers = new Map(upstream.map((u) => [offsetSyncsTopic(u), { upstream: u, tracker: createRetentionGapTracker() }]));
  let consumer: Consumer | null = null;
  return {
    /** Upstream site -> topic -> partition -> records lost to retention. Flows without loss are left out. */
    losses(): Record<string, RetentionLoss> {
      const out: Record<string, RetentionLoss> = {};
      for (const { upstream: u, tracker } of trackers.values()) {
        const lost = tracker.lost();
        if (Object.keys(lost).length > 0) out[u] = lost;
      }
      return out;
    },
    async start(): Promise<void> {
      if (upstream.length === 0) return;
      consumer = options.kafka.consumer({ groupId: consumerGroup(options.site, 'retention-monitor'), sessionTimeout: 10_000, heartbeatInterval: 1000 });
      await consumer.connect();
      await consumer.subscribe({ topics: [...trackers.keys()], fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ topic, message }) => {
          const flow = trackers.get(topic);
          if (!flow || !message.key || !message.value) return;
          // Only the routed topics: the gateways write them without transactions, so their offsets are dense. MM2 also
          // copies `heartbeats`, which an exactly-once MM2 node writes in transactions: its commit markers are no gap.
          let sync: ReturnType<typeof decodeOffsetSync>;
          try {
            sync = decodeOffsetSync(message.key, message.value);
          } catch (err) {
            options.log.warn({ topic, offset: message.offset, err: (err as Error).message }, 'unreadable MM2 offset sync skipped');
            return;
          }
          if (!isRoutedTopic(sync.topic)) return;
          const lost = flow.tracker.add(sync);
          if (lost > 0)
            options.log.error(
              { flow: `${flow.upstream}->${options.site}`, topic: sync.topic, partition: sync.partition, lost, resumedAt: sync.upstreamOffset },
              'records lost to retention: the source deleted them before MM2 copied them',
            );
        },
      });
    },
    async stop(): Promise<void> {
      await consumer?.disconnect();
    },
  };
}
