import { setTimeout as sleep } from 'node:timers/promises';
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage, Message, Producer, TopicMessages } from 'kafkajs';
import type { Logger } from 'pino';
import {
  DecodeError,
  fromKafkaRecord,
  KIND_OF_TYPE,
  type MonitoringEvent,
  monitoringRecord,
  type ProductEvent,
  printable,
  siteOfSource,
} from '../contract/index.ts';
import {
  consumedTopics,
  consumerGroup,
  DEAD_LETTER_TOPIC,
  type EventKind,
  MONITORING_TOPIC,
  parseRemoteTopic,
  REPLAY_JOB_HEADER,
  REPLAY_TO_HEADER,
  REPLAY_TOPIC,
  type Topology,
} from '../federation/index.ts';
import type { SiteDb } from './db/database.ts';
import { EFFECTS } from './effects.ts';
import type { ReadFrom } from './event-store.ts';
import type { ConsumerMetrics } from './metrics.ts';

export interface RetryPolicy {
  attempts: number;
  baseMs: number;
  maxMs: number;
}

interface ConsumerBase {
  kafka: Kafka;
  /** Shared producer for monitoring events and dead letters (acks=all). */
  producer: Producer;
  db: SiteDb;
  topology: Topology;
  site: string;
  /** `price-book`, `availability`, `discounts` or `event-store`. */
  name: string;
  log: Logger;
  metrics?: ConsumerMetrics;
  now?: () => number;
  /**
   * Whether each applied event gets its `consumed` (and a copy's `replicated`)
   * monitoring row; default true. The event store does not: it stores every
   * event the site holds, and a `consumed` row means "reached a downstream system here".
   * Dead letters are reported either way.
   */
  reportApplied?: boolean;
  /**
   * How long the broker may hold a fetch for more data (kafkajs `minBytes`,
   * `maxWaitTimeInMs`). Unset: a fetch returns with the first record, which
   * is what an effect consumer wants; a reader off the delivery path trades
   * a bounded delay for one fetch per interval instead of one per record.
   */
  fetch?: { minBytes: number; maxWaitTimeInMs: number };
}

/**
 * A downstream consumer applies one kind's effects (instances/effects.ts) from
 * the topics of that kind the site serves, local and copies; any other reader
 * (the event store) names its topics and what it does with a batch.
 */
export type DownstreamConsumerOptions = ConsumerBase & ({ kind: EventKind } | { kind?: undefined; topics: string[]; apply: ApplyBatch });

/** Applies one batch read from one topic partition (`from.offsets[i]` is the offset of `events[i]`). */
export type ApplyBatch = (db: SiteDb, events: ProductEvent[], from: ReadFrom) => Promise<void>;

/** Database errors worth retrying: lost connections, serialization conflicts, resource limits. */
export function isRetriable(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string') return true; // network-level (ECONNRESET…) or unknown: try again
  if (/^E[A-Z]+$/.test(code)) return true; // Node socket errors
  return /^(08|40|53|57P)/.test(code);
}

export const CONSUMERS: ReadonlyArray<{ name: string; kind: EventKind }> = [
  { name: 'price-book', kind: 'price' },
  { name: 'availability', kind: 'country' },
  { name: 'discounts', kind: 'discount' },
];

interface Failure {
  message: KafkaMessage;
  reason: string;
  eventId: string;
  event?: ProductEvent;
}

/**
 * A downstream consumer group of one site: reads its kind's local and
 * replicated topics, applies the effects to the site DB, and reports every
 * event on the monitoring topic.
 *
 * Delivery: at least once. Effects are idempotent upserts and monitoring rows
 * are unique per (event, stage, site, consumer), so a redelivery after a crash
 * changes nothing. Offsets are resolved only after the effects are written and
 * the monitoring events and dead letters are acknowledged by Kafka.
 *
 * A poison message never stalls a partition: undecodable records and events
 * whose effect fails for good go to the dead-letter topic with the reason,
 * and the partition moves on.
 */
export function createDownstreamConsumer(options: DownstreamConsumerOptions) {
  const { kafka, producer, db, topology, site, name, log } = options;
  const retry: RetryPolicy = { attempts: 5, baseMs: 100, maxMs: 2000 };
  const now = options.now ?? Date.now;
  const groupId = consumerGroup(site, name);
  const { topics: own, apply }: { topics: string[]; apply: ApplyBatch } = options.kind
    ? { topics: consumedTopics(topology, site, options.kind), apply: EFFECTS[options.kind] }
    : options;
  // Every consumer also reads the site's replays and takes the ones for it (gateway/replay.ts).
  const topics = [...own, REPLAY_TOPIC];
  const kind = options.kind;
  const replayIsFor = (message: KafkaMessage) => {
    const to = message.headers?.[REPLAY_TO_HEADER]?.toString();
    return to === 'all' || to === name;
  };
  const siteNames = topology.sites.map((s) => s.name);
  const reportApplied = options.reportApplied ?? true;
  let consumer: Consumer | null = null;

  async function applyWithRetry(events: ProductEvent[], from: ReadFrom, heartbeat: () => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await apply(db, events, from);
        return;
      } catch (err) {
        if (!isRetriable(err) || attempt >= retry.attempts) throw Object.assign(err as Error, { attempts: attempt });
        options.metrics?.retried(name);
        const wait = Math.min(retry.maxMs, retry.baseMs * 2 ** (attempt - 1));
        log.warn({ consumer: name, attempt, waitMs: wait, err: (err as Error).message }, 'effect failed, retrying');
        await heartbeat();
        await sleep(wait);
      }
    }
  }

  async function handleBatch({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }: EachBatchPayload): Promise<void> {
    if (!isRunning() || isStale() || batch.messages.length === 0) return;
    const startedAt = now();
    const remote = parseRemoteTopic(batch.topic, siteNames);
    const replay = batch.topic === REPLAY_TOPIC;
    const decoded: { message: KafkaMessage; event: ProductEvent }[] = [];
    const failures: Failure[] = [];
    const readFrom = (ds: typeof decoded): ReadFrom => ({ topic: batch.topic, partition: batch.partition, offsets: ds.map((d) => Number(d.message.offset)) });

    for (const message of batch.messages) {
      // A replay for another consumer of the site: not ours (its offset is still committed below).
      if (replay && !replayIsFor(message)) continue;
      try {
        const event = fromKafkaRecord(message.value, message.headers);
        // A replay for all of the site's consumers: each effect takes its own kind.
        if (replay && kind && KIND_OF_TYPE[event.type] !== kind) continue;
        decoded.push({ message, event });
      } catch (err) {
        const reason = err instanceof DecodeError ? err.message : `undecodable: ${(err as Error).message}`;
        const id = err instanceof DecodeError && err.eventId && /^[\x21-\x7e]{1,128}$/.test(err.eventId) ? err.eventId : null;
        failures.push({ message, reason, eventId: id ?? `poison:${batch.topic}:${batch.partition}:${message.offset}` });
      }
    }

    const applied: { message: KafkaMessage; event: ProductEvent }[] = [];
    try {
      await applyWithRetry(
        decoded.map((d) => d.event),
        readFrom(decoded),
        heartbeat,
      );
      applied.push(...decoded);
    } catch (batchError) {
      // Find the poison: one event at a time, so the good ones still land.
      for (const d of decoded) {
        try {
          await applyWithRetry([d.event], readFrom([d]), heartbeat);
          applied.push(d);
        } catch (err) {
          const attempts = (err as { attempts?: number }).attempts ?? 1;
          failures.push({
            message: d.message,
            event: d.event,
            eventId: d.event.id,
            reason: `${isRetriable(err) ? `retries exhausted after ${attempts} attempts` : 'not retriable'}: ${(err as Error).message}`,
          });
        }
      }
      log.warn(
        { consumer: name, topic: batch.topic, failed: decoded.length - applied.length, err: (batchError as Error).message },
        'batch effect failed; isolated the failing events',
      );
    }

    const doneAt = now();
    const processingMs = doneAt - startedAt;
    // One monitoring record per message: a copy's `replicated` and `consumed` go together.
    const monitoring: MonitoringEvent[][] = [];
    for (const { message, event } of reportApplied ? applied : []) {
      const base = {
        eventId: event.id,
        site,
        productId: event.subject,
        eventType: event.type,
        sourceSite: siteOfSource(event.source),
        topic: batch.topic,
        partition: batch.partition,
        offset: Number(message.offset),
      };
      if (replay) {
        // Applied again from a replay: its own stage, no latency (it says nothing about the event's path).
        monitoring.push([
          {
            ...base,
            stage: 'replayed',
            consumer: name,
            at: doneAt,
            latencyMs: null,
            detail: { job: message.headers?.[REPLAY_JOB_HEADER]?.toString() ?? null, processingMs },
          },
        ]);
        continue;
      }
      const consumed: MonitoringEvent = {
        ...base,
        stage: 'consumed',
        consumer: name,
        at: doneAt,
        latencyMs: Math.max(0, doneAt - event.publishedat),
        detail: { processingMs, batchSize: batch.messages.length },
      };
      if (remote) {
        // The copy's timestamp is when it landed here (LogAppendTime on replicated topics).
        const landed = Number(message.timestamp);
        monitoring.push([
          { ...base, stage: 'replicated', consumer: '', at: landed, latencyMs: Math.max(0, landed - event.publishedat), detail: { from: remote.source } },
          consumed,
        ]);
      } else {
        monitoring.push([consumed]);
      }
    }
    const deadLetters: Message[] = [];
    for (const f of failures) {
      const base = {
        eventId: f.eventId,
        site,
        consumer: name,
        productId: f.event?.subject ?? f.message.key?.toString('utf8').slice(0, 64) ?? null,
        eventType: f.event?.type ?? null,
        sourceSite: f.event ? siteOfSource(f.event.source) : (remote?.source ?? site),
        topic: batch.topic,
        partition: batch.partition,
        offset: Number(f.message.offset),
        at: doneAt,
      };
      const detail = { reason: printable(f.reason, 500), valuePreview: printable(f.message.value?.toString('utf8') ?? '', 200) };
      monitoring.push([
        { ...base, stage: 'failed', detail },
        { ...base, stage: 'dead-lettered', detail },
      ]);
      deadLetters.push({
        key: f.message.key,
        value: f.message.value,
        headers: {
          ...f.message.headers,
          fedgate_dlq_reason: printable(f.reason, 500),
          fedgate_dlq_consumer: name,
          fedgate_dlq_source: `${batch.topic}/${batch.partition}/${f.message.offset}`,
          fedgate_dlq_event_id: f.eventId,
        },
      });
      log.warn({ consumer: name, topic: batch.topic, partition: batch.partition, offset: f.message.offset, reason: printable(f.reason, 200) }, 'dead-lettered');
    }

    const topicMessages: TopicMessages[] = [];
    if (monitoring.length > 0) topicMessages.push({ topic: MONITORING_TOPIC, messages: monitoring.map(monitoringRecord) });
    if (deadLetters.length > 0) topicMessages.push({ topic: DEAD_LETTER_TOPIC, messages: deadLetters });
    if (topicMessages.length > 0) await producer.sendBatch({ acks: -1, topicMessages });
    options.metrics?.batch({
      consumer: name,
      applied: applied.length,
      deadLettered: failures.length,
      effectLatencySeconds: replay ? [] : applied.map(({ event }) => Math.max(0, doneAt - event.publishedat) / 1000),
    });

    for (const message of batch.messages) resolveOffset(message.offset);
    await commitOffsetsIfNecessary();
    await heartbeat();
  }

  return {
    name,
    groupId,
    topics,
    async start(): Promise<void> {
      consumer = kafka.consumer({
        groupId,
        sessionTimeout: 10_000,
        heartbeatInterval: 1000,
        maxBytesPerPartition: 1024 * 1024,
        retry: { retries: 10 },
        ...options.fetch,
      });
      await consumer.connect();
      await consumer.subscribe({ topics, fromBeginning: true });
      await consumer.run({ eachBatchAutoResolve: false, autoCommitInterval: 1000, partitionsConsumedConcurrently: 1, eachBatch: handleBatch });
      log.info({ consumer: name, groupId, topics: topics.length }, 'consumer started');
    },
    /** Finishes the batch in flight, commits its offsets and leaves the group. */
    async stop(): Promise<void> {
      await consumer?.disconnect();
      consumer = null;
    },
  };
}

export type DownstreamConsumer = ReturnType<typeof createDownstreamConsumer>;
