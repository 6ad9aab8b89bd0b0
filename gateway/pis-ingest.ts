import type { Consumer, Kafka, KafkaMessage, Message, Producer } from 'kafkajs';
import type { Logger } from 'pino';
import { type MonitoringEvent, monitoringRecord, printable } from '../contract/index.ts';
import { CDC_CONNECTOR, CDC_TOPICS, cdcGroup, DEAD_LETTER_TOPIC, MONITORING_TOPIC, principalOf, SOURCE_TOPIC, sourceGroup } from '../federation/index.ts';
import { type CdcChange, mapChange } from './cdc-mapping.ts';
import type { PublishService } from './publish-service.ts';
import { mapSourceRecord } from './source-event.ts';
import type { VerifiedToken } from './verifier.ts';

/**
 * A Kafka topic the PIS site's gateway publishes from: Debezium's change
 * topics, or the PIS's own source topic. `name` labels dead letters and logs.
 */
export interface IngestSource {
  name: 'cdc' | 'source';
  topics: string[];
  group: string;
  /** The publisher the monitoring rows record. */
  publisher: { issuer: string; subject: string };
  map(topic: string, partition: number, message: KafkaMessage): CdcChange;
}

/** Debezium's change topics: each row change is one event. */
export const cdcSource = (site: string): IngestSource => ({
  name: 'cdc',
  topics: [...CDC_TOPICS],
  group: cdcGroup(site),
  publisher: { issuer: 'fedgate:cdc', subject: CDC_CONNECTOR },
  map: (topic, _partition, m) => mapChange(topic, m.key, m.value),
});

/** The PIS's own source topic (PEMX `product-event`), written by `<site>.pis.fedgate`. */
export const productEventSource = (site: string): IngestSource => ({
  name: 'source',
  topics: [SOURCE_TOPIC],
  group: sourceGroup(site),
  publisher: { issuer: 'fedgate:kafka', subject: principalOf(site, 'pis').slice('User:'.length) },
  map: (_topic, partition, m) => mapSourceRecord(partition, m.offset, m.value),
});

export interface CdcIngestDeps {
  /** A client of the site's Kafka with patient retries: the change topics are read and dead letters written with it. */
  kafka: Kafka;
  site: string;
  /** The site's publish service: the same validation, routing, monitoring and idempotency as an HTTP publish. */
  publish: PublishService;
  log: Logger;
  /** Events per publish call. */
  chunk?: number;
}

interface DeadLetter {
  message: Message & { offset: string };
  reason: string;
  id: string | null;
  productId: string | null;
}

/**
 * The PIS site's gateway reads a source's topics in its own group and
 * publishes each record as a product event. An offset is committed only after
 * its events are acknowledged by Kafka (or dead-lettered), so a change is
 * never lost; one read again after a restart has the same event id and is
 * answered as a duplicate. A change that fails validation goes to the
 * dead-letter topic with its reason, and the stream goes on.
 */
export async function startIngest(deps: CdcIngestDeps, source: IngestSource): Promise<{ stop(): Promise<void>; consumer: Consumer }> {
  const chunkSize = deps.chunk ?? 500;
  const token: VerifiedToken = {
    raw: '',
    issuer: source.publisher.issuer,
    subject: source.publisher.subject,
    scopes: new Set(['publish:price', 'publish:discount', 'publish:country']),
    expiresAt: Number.MAX_SAFE_INTEGER,
  };
  const consumer = deps.kafka.consumer({ groupId: source.group, allowAutoTopicCreation: false, maxBytesPerPartition: 4 * 1024 * 1024 });
  const producer = deps.kafka.producer({ allowAutoTopicCreation: false });
  try {
    await producer.connect();
    await consumer.connect();
    await consumer.subscribe({ topics: source.topics, fromBeginning: true });
  } catch (err) {
    // Nothing half-started is left behind: the caller tries again.
    await consumer.disconnect().catch(() => {});
    await producer.disconnect().catch(() => {});
    throw err;
  }
  await consumer.run({
    autoCommit: true,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }) => {
      for (let from = 0; from < batch.messages.length; from += chunkSize) {
        if (!isRunning() || isStale()) return;
        const chunk = batch.messages.slice(from, from + chunkSize);
        const inputs: unknown[] = [];
        const sources: Array<(typeof chunk)[number]> = [];
        const dead: DeadLetter[] = [];
        const ids = new Set<string>();
        for (const message of chunk) {
          const change = source.map(batch.topic, batch.partition, message);
          if (change.kind === 'skip') continue;
          if (change.kind === 'invalid') {
            dead.push({ message, reason: change.reason, id: change.id, productId: change.productId });
            continue;
          }
          // A change Debezium sent twice (after a restart) can sit twice in one fetch: publish it once.
          if (ids.has(change.id)) continue;
          ids.add(change.id);
          inputs.push(change.input);
          sources.push(message);
        }
        if (inputs.length > 0) {
          await deps.publish({
            input: {
              events: inputs,
              token,
              onInvalid: (i, problem) => {
                const message = sources[i]!;
                const input = inputs[i] as { id: string; data?: { productId?: string } };
                dead.push({ message, reason: `${problem.code}: ${problem.detail}`, id: input.id, productId: input.data?.productId ?? null });
              },
            },
          });
        }
        if (dead.length > 0) await deadLetter(deps, source.name, producer, batch.topic, batch.partition, dead);
        resolveOffset(chunk[chunk.length - 1]!.offset);
        await heartbeat();
      }
      await commitOffsetsIfNecessary();
    },
  });
  deps.log.info({ topics: source.topics, group: source.group }, `${source.name}: publishing what the PIS writes`);
  return {
    consumer,
    async stop() {
      await consumer.disconnect().catch(() => {});
      await producer.disconnect().catch(() => {});
    },
  };
}

async function deadLetter(deps: CdcIngestDeps, consumerName: string, producer: Producer, topic: string, partition: number, dead: DeadLetter[]): Promise<void> {
  const at = Date.now();
  const monitoring: MonitoringEvent[][] = [];
  const messages: Message[] = [];
  for (const d of dead) {
    const eventId = d.id ?? `${topic}/${partition}/${d.message.offset}`;
    const detail = { reason: printable(d.reason, 500), valuePreview: printable(d.message.value?.toString('utf8') ?? '', 200) };
    monitoring.push([
      {
        eventId,
        stage: 'dead-lettered',
        site: deps.site,
        consumer: consumerName,
        productId: d.productId,
        eventType: null,
        sourceSite: deps.site,
        topic,
        partition,
        offset: Number(d.message.offset),
        at,
        detail,
      },
    ]);
    messages.push({
      key: d.message.key,
      value: d.message.value,
      headers: {
        fedgate_dlq_reason: printable(d.reason, 500),
        fedgate_dlq_consumer: consumerName,
        fedgate_dlq_source: `${topic}/${partition}/${d.message.offset}`,
        fedgate_dlq_event_id: eventId,
      },
    });
    deps.log.warn({ topic, partition, offset: d.message.offset, reason: printable(d.reason, 200) }, `${consumerName}: dead-lettered`);
  }
  await producer.sendBatch({
    acks: -1,
    topicMessages: [
      { topic: DEAD_LETTER_TOPIC, messages },
      { topic: MONITORING_TOPIC, messages: monitoring.map(monitoringRecord) },
    ],
  });
}
