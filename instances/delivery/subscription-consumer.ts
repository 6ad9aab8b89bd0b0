import type { Consumer, EachBatchPayload, Kafka, KafkaMessage, Producer, TopicMessages } from 'kafkajs';
import type { Logger } from 'pino';
import {
  DecodeError,
  fromKafkaRecord,
  type MonitoringEvent,
  monitoringRecord,
  type ProductEvent,
  printable,
  type SubscriptionStatus,
  selectsEvent,
  siteOfSource,
  subscriptionTarget,
} from '../../contract/index.ts';
import {
  deliveryConsumerName,
  deliveryDeadLetterTopic,
  deliveryGroup,
  MONITORING_TOPIC,
  parseRemoteTopic,
  REPLAY_JOB_HEADER,
  REPLAY_TO_HEADER,
  REPLAY_TOPIC,
  type Subscription,
  selectionOf,
  siteOf,
  subscriptionTopics,
  type Topology,
  upstreamSites,
} from '../../federation/index.ts';
import { selects } from './addressing.ts';
import { backoffMs } from './backoff.ts';
import { DeliveryError, type Sink, structuredCloudEvent } from './sink.ts';

/** What a subscription reports after each batch it has delivered and committed. */
export interface DeliveryMetrics {
  delivery(o: { subscription: string; delivered: number; deadLettered: number; failedAttempts: number; latencySeconds: number[] }): void;
}

export interface SubscriptionConsumerOptions {
  kafka: Kafka;
  /** Shared producer for monitoring events and dead letters (acks=all). */
  producer: Producer;
  topology: Topology;
  site: string;
  subscription: Subscription;
  sink: Sink;
  log: Logger;
  metrics?: DeliveryMetrics;
  now?: () => number;
}

/** The batch was abandoned (the consumer is stopping or lost the partition): nothing after the delivered prefix is committed. */
class Abandoned extends Error {}

interface Outcome {
  event?: ProductEvent;
  message: KafkaMessage;
  /** delivered | dead-lettered | skipped (not selected) */
  result: 'delivered' | 'dead-lettered' | 'skipped';
  attempts: number;
  at: number;
  reason?: string;
  eventId: string;
}

/**
 * One subscription's delivery: its own consumer group over the topics its
 * filter selects at its site (local and copies), so a slow or failing
 * receiver builds lag in its group and nowhere else.
 *
 * Acknowledged means delivered: a batch's offsets are committed only after
 * every event in it was acknowledged by the receiver or dead-lettered (with
 * its last error, on the subscription's dead-letter topic). Per product,
 * events go one at a time in partition order: the next is sent only after
 * the previous was acknowledged. Distinct products go in parallel, up to the
 * sink's concurrency. At least once: a restart resends what was sent but not
 * yet committed, with the same CloudEvent id (the receiver's dedupe key).
 */
export function createSubscriptionConsumer(options: SubscriptionConsumerOptions) {
  const { kafka, producer, topology, site, subscription, sink, log } = options;
  const now = options.now ?? Date.now;
  const name = deliveryConsumerName(subscription);
  const groupId = deliveryGroup(site, subscription.name);
  const selection = selectionOf(siteOf(topology, site), subscription);
  const siteNames = topology.sites.map((s) => s.name);
  // Its routed topics, and the site's replays: a replay job that names this subscription (gateway/replay.ts).
  const topics = [
    ...subscriptionTopics(
      selection,
      upstreamSites(topology, site).map((u) => u.name),
    ),
    REPLAY_TOPIC,
  ];
  const target = subscriptionTarget(subscription.name);
  let consumer: Consumer | null = null;
  // What `status()` reports (since the process started).
  const counts = { delivered: 0, deadLettered: 0, retrying: 0 };
  let lastError: { at: number; message: string } | null = null;
  let lastDeliveredAt: number | null = null;

  async function deliver(
    event: ProductEvent,
    replayJob: string | null,
    running: () => boolean,
    heartbeat: () => Promise<void>,
  ): Promise<Omit<Outcome, 'message' | 'eventId'>> {
    const body = structuredCloudEvent(event, replayJob);
    for (let attempt = 1; ; attempt++) {
      try {
        await sink.send(event, body);
        return { event, result: 'delivered', attempts: attempt, at: now() };
      } catch (err) {
        const reason = err instanceof DeliveryError ? err.message : `unexpected: ${(err as Error).message}`;
        lastError = { at: now(), message: printable(reason, 300) };
        if (attempt >= subscription.retry.attempts) return { event, result: 'dead-lettered', attempts: attempt, at: now(), reason };
        const wait = backoffMs(subscription.retry, attempt, err instanceof DeliveryError ? err.retryAfterMs : undefined);
        log.warn({ subscription: name, eventId: event.id, attempt, waitMs: wait, err: printable(reason, 200) }, 'delivery failed, retrying');
        // Wait in steps, heartbeating, and give up the batch at once when the consumer stops or loses the partition.
        const until = now() + wait;
        counts.retrying++;
        try {
          while (now() < until) {
            if (!running()) throw new Abandoned();
            await heartbeat();
            await new Promise((r) => setTimeout(r, Math.min(500, Math.max(1, until - now()))));
          }
        } finally {
          counts.retrying--;
        }
        if (!running()) throw new Abandoned();
      }
    }
  }

  async function handleBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    if (!isRunning() || isStale() || batch.messages.length === 0) return;
    const running = () => isRunning() && !isStale();
    const local = parseRemoteTopic(batch.topic, siteNames)?.topic ?? batch.topic;
    const topicScope = local.split('.').slice(2).join('.');
    const replay = batch.topic === REPLAY_TOPIC;
    const replayJobs = new Map<KafkaMessage, string>();
    const outcomes = new Map<KafkaMessage, Outcome>();
    // Per product, in partition order.
    const byProduct = new Map<string, { message: KafkaMessage; event: ProductEvent }[]>();
    for (const message of batch.messages) {
      // A replay for another consumer of the site (its effects, another subscription): not ours; its offset is committed.
      if (replay && message.headers?.[REPLAY_TO_HEADER]?.toString() !== target) {
        outcomes.set(message, { message, result: 'skipped', attempts: 0, at: now(), eventId: '' });
        continue;
      }
      let event: ProductEvent;
      try {
        event = fromKafkaRecord(message.value, message.headers);
      } catch (err) {
        const reason = err instanceof DecodeError ? err.message : `undecodable: ${(err as Error).message}`;
        const id = err instanceof DecodeError && err.eventId && /^[\x21-\x7e]{1,128}$/.test(err.eventId) ? err.eventId : null;
        outcomes.set(message, {
          message,
          result: 'dead-lettered',
          attempts: 0,
          at: now(),
          reason,
          eventId: id ?? `poison:${batch.topic}:${batch.partition}:${message.offset}`,
        });
        continue;
      }
      if (replay) replayJobs.set(message, message.headers?.[REPLAY_JOB_HEADER]?.toString() ?? 'unknown');
      if (replay ? !selectsEvent(selection, event) : !selects(selection, event, topicScope)) {
        outcomes.set(message, { message, event, result: 'skipped', attempts: 0, at: now(), eventId: event.id });
        continue;
      }
      const queue = byProduct.get(event.subject) ?? [];
      queue.push({ message, event });
      byProduct.set(event.subject, queue);
    }

    const products = [...byProduct.values()];
    let next = 0;
    let abandoned = false;
    const lanes = Array.from({ length: Math.min(sink.concurrency, products.length) }, async () => {
      while (!abandoned && next < products.length) {
        const queue = products[next++]!;
        for (const { message, event } of queue) {
          if (abandoned) return;
          try {
            outcomes.set(message, { ...(await deliver(event, replayJobs.get(message) ?? null, running, heartbeat)), message, eventId: event.id });
          } catch (err) {
            if (!(err instanceof Abandoned)) throw err;
            abandoned = true;
            return;
          }
        }
      }
    });
    await Promise.all(lanes);

    // What is done, in offset order, up to the first event not done: only that prefix is committed.
    const done: Outcome[] = [];
    for (const message of batch.messages) {
      const o = outcomes.get(message);
      if (!o) break;
      done.push(o);
    }
    const monitoring: MonitoringEvent[][] = [];
    const deadLetters: TopicMessages = { topic: deliveryDeadLetterTopic(subscription.name), messages: [] };
    const latencySeconds: number[] = [];
    let delivered = 0;
    let failedAttempts = 0;
    for (const o of done) {
      if (o.result === 'skipped') continue;
      const base = {
        eventId: o.eventId,
        site,
        consumer: name,
        productId: o.event?.subject ?? null,
        eventType: o.event?.type ?? null,
        sourceSite: o.event ? siteOfSource(o.event.source) : null,
        topic: batch.topic,
        partition: batch.partition,
        offset: Number(o.message.offset),
        at: o.at,
      };
      const replayJob = replayJobs.get(o.message);
      if (o.result === 'delivered' && replayJob) {
        // A replayed event: delivered again long after it was published, so no delivery latency (it would say nothing).
        delivered++;
        failedAttempts += o.attempts - 1;
        monitoring.push([{ ...base, stage: 'delivered', detail: { attempts: o.attempts, protocol: subscription.protocol, replay: replayJob } }]);
      } else if (o.result === 'delivered') {
        delivered++;
        failedAttempts += o.attempts - 1;
        const latencyMs = Math.max(0, o.at - o.event!.publishedat);
        latencySeconds.push(latencyMs / 1000);
        monitoring.push([{ ...base, stage: 'delivered', latencyMs, detail: { attempts: o.attempts, protocol: subscription.protocol } }]);
      } else {
        failedAttempts += o.attempts;
        const detail = { reason: printable(o.reason ?? '', 500), attempts: o.attempts, protocol: subscription.protocol };
        monitoring.push([
          { ...base, stage: 'failed', detail },
          { ...base, stage: 'dead-lettered', detail },
        ]);
        deadLetters.messages.push({
          key: o.message.key,
          value: o.message.value,
          headers: {
            ...o.message.headers,
            fedgate_dlq_reason: printable(o.reason ?? '', 500),
            fedgate_dlq_consumer: name,
            fedgate_dlq_attempts: String(o.attempts),
            fedgate_dlq_source: `${batch.topic}/${batch.partition}/${o.message.offset}`,
            fedgate_dlq_event_id: o.eventId,
          },
        });
        log.warn({ subscription: name, eventId: o.eventId, attempts: o.attempts, reason: printable(o.reason ?? '', 200) }, 'dead-lettered');
      }
    }
    const topicMessages: TopicMessages[] = [];
    if (monitoring.length > 0) topicMessages.push({ topic: MONITORING_TOPIC, messages: monitoring.map(monitoringRecord) });
    if (deadLetters.messages.length > 0) topicMessages.push(deadLetters);
    if (topicMessages.length > 0) await producer.sendBatch({ acks: -1, topicMessages });
    counts.delivered += delivered;
    counts.deadLettered += deadLetters.messages.length;
    if (delivered > 0) lastDeliveredAt = now();
    options.metrics?.delivery({
      subscription: name,
      delivered,
      deadLettered: deadLetters.messages.length,
      failedAttempts,
      latencySeconds,
    });
    const last = done.at(-1);
    // kafkajs commits what is resolved when the batch returns (no commit interval: see start).
    if (last) resolveOffset(last.message.offset);
    if (!abandoned) await heartbeat();
  }

  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    name,
    groupId,
    topics,
    /** Counts since the process started, events waiting for a retry now, the last error. */
    status: (): SubscriptionStatus => ({
      name,
      protocol: subscription.protocol,
      group: groupId,
      ...counts,
      lastError: lastError?.message ?? null,
      lastErrorAt: iso(lastError?.at ?? null),
      lastDeliveredAt: iso(lastDeliveredAt),
    }),
    async start(): Promise<void> {
      consumer = kafka.consumer({ groupId, sessionTimeout: 30_000, heartbeatInterval: 1000, maxBytesPerPartition: 512 * 1024, retry: { retries: 10 } });
      await consumer.connect();
      await consumer.subscribe({ topics, fromBeginning: true });
      // No commit interval: a subscription commits after every batch its receiver acknowledged (kafkajs's
      // default), so a restart resends as little as possible and its lag reads 0 as soon as the receiver
      // has everything. The effect and trail groups commit once a second (patches/kafkajs+2.2.4.patch).
      await consumer.run({ eachBatchAutoResolve: false, partitionsConsumedConcurrently: 3, eachBatch: handleBatch });
      log.info({ subscription: name, groupId, topics: topics.length }, 'subscription started');
    },
    /** Gives up waiting retries, commits what was delivered, leaves the group, closes the sender. */
    async stop(): Promise<void> {
      await consumer?.disconnect();
      consumer = null;
      await sink.close();
    },
  };
}

export type SubscriptionConsumer = ReturnType<typeof createSubscriptionConsumer>;
