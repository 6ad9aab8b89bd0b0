import type { Consumer, Kafka, Message, Producer } from 'kafkajs';
import type { Logger } from 'pino';
import { type MonitoringEvent, monitoringRecord, printable } from '../contract/index.ts';
import { CDC_CONNECTOR, CDC_TOPICS, cdcGroup, DEAD_LETTER_TOPIC, MONITORING_TOPIC } from '../federation/index.ts';
import { mapChange } from './cdc-mapping.ts';
import type { PublishService } from './publish-service.ts';
import type { VerifiedToken } from './verifier.ts';

/** The publisher of captured changes, as the monitoring rows and scopes see it. */
export const CDC_PUBLISHER = { issuer: 'fedgate:cdc', subject: CDC_CONNECTOR } as const;

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
 * The PIS site's gateway reads Debezium's change topics in its own group and
 * publishes each change as a product event. An offset is committed only after
 * its events are acknowledged by Kafka (or dead-lettered), so a change is
 * never lost; one read again after a restart has the same event id and is
 * answered as a duplicate. A change that fails validation goes to the
 * dead-letter topic with its reason, and the stream goes on.
 */
export async function startCdcIngest(deps: CdcIngestDeps): Promise<{ stop(): Promise<void>; consumer: Consumer }> {
  const chunkSize = deps.chunk ?? 500;
  const token: VerifiedToken = {
    raw: '',
    issuer: CDC_PUBLISHER.issuer,
    subject: CDC_PUBLISHER.subject,
    scopes: new Set(['publish:price', 'publish:discount', 'publish:country']),
    expiresAt: Number.MAX_SAFE_INTEGER,
  };
  const consumer = deps.kafka.consumer({ groupId: cdcGroup(deps.site), allowAutoTopicCreation: false, maxBytesPerPartition: 4 * 1024 * 1024 });
  const producer = deps.kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  await consumer.connect();
  await consumer.subscribe({ topics: [...CDC_TOPICS], fromBeginning: true });
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
          const change = mapChange(batch.topic, message.key, message.value);
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
        if (dead.length > 0) await deadLetter(deps, producer, batch.topic, batch.partition, dead);
        resolveOffset(chunk[chunk.length - 1]!.offset);
        await heartbeat();
      }
      await commitOffsetsIfNecessary();
    },
  });
  deps.log.info({ topics: CDC_TOPICS, group: cdcGroup(deps.site) }, 'change capture: publishing the PIS changes');
  return {
    consumer,
    async stop() {
      await consumer.disconnect().catch(() => {});
      await producer.disconnect().catch(() => {});
    },
  };
}

async function deadLetter(deps: CdcIngestDeps, producer: Producer, topic: string, partition: number, dead: DeadLetter[]): Promise<void> {
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
        consumer: 'cdc',
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
        fedgate_dlq_consumer: 'cdc',
        fedgate_dlq_source: `${topic}/${partition}/${d.message.offset}`,
        fedgate_dlq_event_id: eventId,
      },
    });
    deps.log.warn({ topic, partition, offset: d.message.offset, reason: printable(d.reason, 200) }, 'change dead-lettered');
  }
  await producer.sendBatch({
    acks: -1,
    topicMessages: [
      { topic: DEAD_LETTER_TOPIC, messages },
      { topic: MONITORING_TOPIC, messages: monitoring.map(monitoringRecord) },
    ],
  });
}
