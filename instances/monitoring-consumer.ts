import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { MonitoringRecordSchema, printable } from '../contract/index.ts';
import { consumerGroup, MONITORING_TOPIC } from '../federation/index.ts';
import type { SiteDb } from './db/database.ts';
import { monitoringEvents } from './db/schema.ts';

const CHUNK = 1000;

/**
 * Reads the site's monitoring topic into the site DB. Inserts are batched
 * (one statement per chunk of a Kafka batch) and idempotent: the unique key
 * (event, stage, site, consumer) with ON CONFLICT DO NOTHING means a record
 * delivered twice, by MM2 or after a crash before the offset commit, never
 * adds a second row. Offsets are committed only after the rows are written.
 */
export function createMonitoringConsumer(options: { kafka: Kafka; db: SiteDb; site: string; log: Logger }) {
  const { kafka, db, site, log } = options;
  const groupId = consumerGroup(site, 'monitoring');
  let consumer: Consumer | null = null;

  async function handleBatch({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }: EachBatchPayload): Promise<void> {
    if (!isRunning() || isStale()) return;
    const rows = [];
    for (const message of batch.messages) {
      let parsed: ReturnType<typeof MonitoringRecordSchema.safeParse> | null;
      try {
        parsed = MonitoringRecordSchema.safeParse(JSON.parse(message.value?.toString('utf8') ?? 'null'));
      } catch {
        parsed = null;
      }
      if (!parsed?.success) {
        log.warn({ offset: message.offset, value: printable(message.value?.toString('utf8') ?? '', 120) }, 'skipping a malformed monitoring record');
        continue;
      }
      for (const m of parsed.data) {
        rows.push({
          eventId: m.eventId,
          stage: m.stage,
          site: m.site,
          consumer: m.consumer,
          productId: m.productId ?? null,
          eventType: m.eventType ?? null,
          sourceSite: m.sourceSite ?? null,
          topic: m.topic ?? null,
          partition: m.partition ?? null,
          offset: m.offset ?? null,
          at: new Date(m.at),
          latencyMs: m.latencyMs ?? null,
          detail: m.detail ?? null,
        });
      }
    }
    for (let i = 0; i < rows.length; i += CHUNK) {
      await db
        .insert(monitoringEvents)
        .values(rows.slice(i, i + CHUNK))
        .onConflictDoNothing();
      await heartbeat();
    }
    for (const message of batch.messages) resolveOffset(message.offset);
    await commitOffsetsIfNecessary();
  }

  return {
    groupId,
    async start(): Promise<void> {
      consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1000, maxBytesPerPartition: 2 * 1024 * 1024 });
      await consumer.connect();
      await consumer.subscribe({ topics: [MONITORING_TOPIC], fromBeginning: true });
      await consumer.run({ eachBatchAutoResolve: false, autoCommitInterval: 1000, partitionsConsumedConcurrently: 1, eachBatch: handleBatch });
      log.info({ groupId }, 'monitoring consumer started');
    },
    async stop(): Promise<void> {
      await consumer?.disconnect();
      consumer = null;
    },
  };
}
