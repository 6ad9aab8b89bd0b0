import type { Consumer, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { consumerGroup, remoteTopic, type Topology, upstreamSites } from '../federation/index.ts';

/**
 * Tracks the newest heartbeat MM2 has copied here from each upstream site
 * (`<upstream>.heartbeats`; the record timestamp is when the upstream wrote
 * it). Its age says how far behind a link is while records are pending.
 */
export function createLinkMonitor(options: { kafka: Kafka; topology: Topology; site: string; log: Logger }) {
  const upstream = upstreamSites(options.topology, options.site).map((s) => s.name);
  const newest: Record<string, number | null> = Object.fromEntries(upstream.map((u) => [u, null]));
  let consumer: Consumer | null = null;
  return {
    heartbeats: () => ({ ...newest }),
    async start(): Promise<void> {
      if (upstream.length === 0) return;
      consumer = options.kafka.consumer({ groupId: consumerGroup(options.site, 'link-monitor'), sessionTimeout: 10_000, heartbeatInterval: 1000 });
      await consumer.connect();
      await consumer.subscribe({ topics: upstream.map((u) => remoteTopic(u, 'heartbeats')), fromBeginning: false });
      // Only the newest heartbeat matters: its offsets are committed every 5 s, not after every batch (patches/kafkajs+2.2.4.patch).
      await consumer.run({
        autoCommitInterval: 5000,
        eachMessage: async ({ topic, message }) => {
          const source = topic.slice(0, -'.heartbeats'.length);
          const ts = Number(message.timestamp);
          if (source in newest && (newest[source] ?? 0) < ts) newest[source] = ts;
        },
      });
    },
    async stop(): Promise<void> {
      await consumer?.disconnect();
    },
  };
}
