import { randomUUID } from 'node:crypto';
import type { Kafka, Message } from 'kafkajs';
import type { Logger } from 'pino';
import { IDEMPOTENCY_TOPIC, windowGroupPrefix } from '../federation/index.ts';
import type { AcceptedEvent, PublishResult } from './accepted.ts';
import type { StoredReplay } from './replay-record.ts';

/**
 * The durable idempotency window of a site: every accepted event id and every
 * Idempotency-Key answer is also a record of the site's `site.idempotency`
 * topic (compacted by key, deleted after the window). Event records go in
 * the same Produce request as the events themselves (distributor.ts), so
 * they are acknowledged together; a key's answer is written before the 202
 * that carries it. Each gateway reads the whole window at start, before it
 * serves, and then follows the topic, so a gateway that restarts, or another
 * gateway of the same site, answers a retry as the first answer was.
 */
export interface WindowIndex<V> {
  set(key: string, value: V, at?: number): void;
}

const EVENT = 'event:';
const KEY = 'key:';
const REPLAY = 'replay:';

export function eventWindowRecord(accepted: AcceptedEvent): Message {
  const { duplicate: _d, ...first } = accepted;
  return { key: `${EVENT}${accepted.id}`, value: JSON.stringify(first) };
}

export function keyWindowRecord(scopedKey: string, result: PublishResult): Message {
  return { key: `${KEY}${scopedKey}`, value: JSON.stringify(result) };
}

/** A replay job's state (gateway/replay.ts): the site's gateways keep their jobs in the window too, the last record per job. */
export function replayWindowRecord(record: StoredReplay): Message {
  return { key: `${REPLAY}${record.job.id}`, value: JSON.stringify(record) };
}

/** Puts one record read back from the window into the in-memory indexes (pure); false for a record it does not know. */
export interface WindowIndexes {
  events: WindowIndex<AcceptedEvent>;
  keys: WindowIndex<PublishResult>;
  replays?: WindowIndex<StoredReplay>;
}

export function applyWindowRecord(index: WindowIndexes, record: { key: string | null; value: string | null; timestampMs: number }): boolean {
  if (!record.key || record.value === null) return false;
  try {
    if (record.key.startsWith(EVENT)) {
      index.events.set(record.key.slice(EVENT.length), JSON.parse(record.value) as AcceptedEvent, record.timestampMs);
      return true;
    }
    if (record.key.startsWith(KEY)) {
      index.keys.set(record.key.slice(KEY.length), JSON.parse(record.value) as PublishResult, record.timestampMs);
      return true;
    }
    if (record.key.startsWith(REPLAY) && index.replays) {
      index.replays.set(record.key.slice(REPLAY.length), JSON.parse(record.value) as StoredReplay, record.timestampMs);
      return true;
    }
  } catch {
    // A record this version cannot read is skipped, never fatal.
  }
  return false;
}

export interface WindowReader {
  /** Records read back by the time the start-up load finished (or gave up). */
  loaded: number;
  /** False when the load gave up at its deadline (Kafka unreachable at start): the reader goes on in the background. */
  caughtUp: boolean;
  stop(): Promise<void>;
}

/**
 * Every accepted event adds a window record, and with Kafka's fetch defaults
 * each one ends the reader's held fetch: one fetch per event per gateway. The
 * gateway that accepted an event already knows it (publish-service.ts); the
 * reader brings what other gateways of the site accepted, so the broker holds
 * each fetch until 64 KiB are there or half a second has passed: a retry at
 * another gateway within that half second is the window this leaves.
 */
const WINDOW_FETCH = { minBytes: 64 * 1024, maxWaitTimeInMs: 500 } as const;

/**
 * Reads the window from its beginning up to the end offsets it finds at
 * start (waiting at most `loadTimeoutMs`), then keeps following it. Each
 * process reads in a consumer group of its own, since every gateway needs
 * every record.
 */
export async function startWindowReader(options: {
  kafka: Kafka;
  site: string;
  index: WindowIndexes;
  log: Logger;
  loadTimeoutMs: number;
}): Promise<WindowReader> {
  const { kafka, index, log } = options;
  const consumer = kafka.consumer({
    groupId: `${windowGroupPrefix(options.site)}${randomUUID()}`,
    sessionTimeout: 30_000,
    heartbeatInterval: 3000,
    ...WINDOW_FETCH,
  });
  let loaded = 0;
  let resolveLoaded!: () => void;
  const loadedAll = new Promise<void>((r) => (resolveLoaded = r));
  let stopped = false;
  const attempt = async () => {
    const admin = kafka.admin();
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(IDEMPOTENCY_TOPIC).finally(() => admin.disconnect());
    const remaining = new Map(ends.filter((p) => Number(p.high) > Number(p.low)).map((p) => [p.partition, Number(p.high)]));
    if (remaining.size === 0) resolveLoaded();
    await consumer.connect();
    await consumer.subscribe({ topic: IDEMPOTENCY_TOPIC, fromBeginning: true });
    // Nothing is committed: every start reads the window from its beginning, and no offsets are left behind.
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        if (
          applyWindowRecord(index, { key: message.key?.toString() ?? null, value: message.value?.toString() ?? null, timestampMs: Number(message.timestamp) })
        ) {
          loaded++;
        }
        const end = remaining.get(partition);
        if (end !== undefined && Number(message.offset) + 1 >= end) {
          remaining.delete(partition);
          if (remaining.size === 0) resolveLoaded();
        }
      },
    });
  };
  void (async () => {
    while (!stopped) {
      try {
        await attempt();
        return;
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'idempotency window not readable yet; trying again in 2 s');
        await consumer.disconnect().catch(() => {});
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  })();
  const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), options.loadTimeoutMs).unref());
  const outcome = await Promise.race([loadedAll.then(() => 'loaded' as const), timer]);
  const reader: WindowReader = {
    loaded,
    caughtUp: outcome === 'loaded',
    stop: async () => {
      stopped = true;
      await consumer.disconnect().catch(() => {});
    },
  };
  if (outcome === 'loaded') log.info({ records: loaded }, 'idempotency window loaded');
  else log.warn({ records: loaded, waitedMs: options.loadTimeoutMs }, 'idempotency window not fully loaded at start; serving, and still reading it');
  return reader;
}
