import { sql } from 'drizzle-orm';
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { parseMonitoringRecord, printable } from '../contract/index.ts';
import { consumerGroup, MONITORING_TOPIC } from '../federation/index.ts';
import type { SiteDb } from './db/database.ts';
import { monitoringEvents } from './db/schema.ts';
import { type BulkColumn, bulkInsert, isoOrNull } from './db/unnest.ts';
import type { MonitoringMetrics } from './metrics.ts';

const CHUNK = 2000;

/**
 * The monitoring topic gets several records per event (accepted, stored,
 * applied, copied...), each its own Produce. With Kafka's fetch defaults every
 * one of them ends this group's held fetch, so the group fetched, inserted and
 * committed once per record (~35 fetches a second at 20 events/s). The trail
 * is read by people (dashboard, trace), not by the delivery path: the broker
 * holds each fetch until 256 KiB are there or a second has passed, so the
 * group fetches about once a second under any load below that, and once a
 * second when idle instead of once per 5 s (kafkajs's default wait).
 */
const MONITORING_FETCH = { minBytes: 256 * 1024, maxWaitTimeInMs: 1000 } as const;

type MonitoringRow = Omit<typeof monitoringEvents.$inferInsert, 'id'> & { at: Date };

const MONITORING_COLUMNS: readonly BulkColumn<MonitoringRow>[] = [
  ['event_id', 'text', (r) => r.eventId],
  ['stage', 'text', (r) => r.stage],
  ['site', 'text', (r) => r.site],
  ['consumer', 'text', (r) => r.consumer ?? ''],
  ['product_id', 'text', (r) => r.productId ?? null],
  ['event_type', 'text', (r) => r.eventType ?? null],
  ['source_site', 'text', (r) => r.sourceSite ?? null],
  ['topic', 'text', (r) => r.topic ?? null],
  ['partition', 'int', (r) => r.partition ?? null],
  ['offset', 'bigint', (r) => r.offset ?? null],
  ['at', 'timestamptz', (r) => isoOrNull(r.at)],
  ['latency_ms', 'int', (r) => r.latencyMs ?? null],
  ['detail', 'jsonb', (r) => (r.detail == null ? null : JSON.stringify(r.detail))],
];

/** One statement per chunk, whatever its size (instances/db/unnest.ts). The unique key (event, stage, site, consumer) keeps it idempotent. */
export async function insertMonitoringRows(db: SiteDb, rows: MonitoringRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db.execute(bulkInsert(monitoringEvents, MONITORING_COLUMNS, rows, sql`ON CONFLICT DO NOTHING`));
}

/**
 * Reads the site's monitoring topic into the site DB. Inserts are batched
 * (one statement per chunk of a Kafka batch) and idempotent: the unique key
 * (event, stage, site, consumer) with ON CONFLICT DO NOTHING means a record
 * delivered twice, by MM2 or after a crash before the offset commit, never
 * adds a second row. Offsets are committed only after the rows are written.
 */
export function createMonitoringConsumer(options: { kafka: Kafka; db: SiteDb; site: string; log: Logger; metrics?: MonitoringMetrics }) {
  const { kafka, db, site, log } = options;
  const groupId = consumerGroup(site, 'monitoring');
  let consumer: Consumer | null = null;

  async function handleBatch({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }: EachBatchPayload): Promise<void> {
    if (!isRunning() || isStale()) return;
    const rows: MonitoringRow[] = [];
    for (const message of batch.messages) {
      let parsed: ReturnType<typeof parseMonitoringRecord> | null;
      try {
        parsed = parseMonitoringRecord(JSON.parse(message.value?.toString('utf8') ?? 'null'));
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
      const chunk = rows.slice(i, i + CHUNK);
      await insertMonitoringRows(db, chunk);
      options.metrics?.rows(chunk.length);
      await heartbeat();
    }
    for (const message of batch.messages) resolveOffset(message.offset);
    await commitOffsetsIfNecessary();
  }

  return {
    groupId,
    async start(): Promise<void> {
      consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1000, maxBytesPerPartition: 2 * 1024 * 1024, ...MONITORING_FETCH });
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
