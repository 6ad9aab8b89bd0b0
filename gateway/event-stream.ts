import { randomUUID } from 'node:crypto';
import type { Admin, Kafka } from 'kafkajs';
import { DecodeError, fromKafkaRecord, type ProductEvent, selects } from '../contract/index.ts';
import { parseRemoteTopic, type Selection, streamGroupPrefix } from '../federation/index.ts';
import { encodeCursor, type Positions, startPositions } from './stream-cursor.ts';

export interface StreamEvent {
  /** The SSE id: the cursor just after this event. */
  cursor: string;
  event: ProductEvent;
}

export interface StreamGap {
  topic: string;
  partition: number;
  /** Offsets [from, to) were deleted by retention before the client came back. */
  from: number;
  to: number;
}

export interface OpenStream {
  /** The cursor of the starting point (before any event). */
  cursor: string;
  gaps: StreamGap[];
  /** Reads until `signal` aborts; `onEvent` is awaited, so a slow client slows the reading (backpressure). */
  run(onEvent: (e: StreamEvent) => Promise<void>, signal: AbortSignal): Promise<void>;
}

/**
 * Business events of one site, read from Kafka for a subscribe stream: the
 * site's local topics and the copies MM2 wrote here, per the selection.
 * Each stream is a throwaway consumer group (`fedgate-stream.<site>.<uuid>`)
 * that never commits: its position lives in the client's cursor.
 */
export function createEventStreams(options: { kafka: Kafka; site: string; siteNames: readonly string[] }) {
  let admin: Admin | null = null;

  async function ends(topics: string[]) {
    if (!admin) {
      const a = options.kafka.admin();
      await a.connect();
      admin = a;
    }
    const out: Record<string, { partition: number; low: number; high: number }[]> = {};
    await Promise.all(
      topics.map(async (t) => {
        out[t] = (await admin!.fetchTopicOffsets(t)).map((p) => ({ partition: p.partition, low: Number(p.low), high: Number(p.high) }));
      }),
    );
    return out;
  }

  /** Throws when Kafka cannot be asked (the route answers 503 before any stream starts). */
  async function open(topics: string[], selection: Selection, from: Positions | null): Promise<OpenStream> {
    const { start, gaps } = startPositions(await ends(topics), from);
    const positions: Positions = structuredClone(start);
    return {
      cursor: encodeCursor(positions),
      gaps,
      async run(onEvent, signal) {
        if (signal.aborted) return;
        const consumer = options.kafka.consumer({
          groupId: `${streamGroupPrefix(options.site)}${randomUUID()}`,
          sessionTimeout: 10_000,
          heartbeatInterval: 1000,
          maxBytesPerPartition: 256 * 1024,
          retry: { retries: 5 },
        });
        const stopped = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        // Every partition starts at the stream's position: kafkajs applies a seek before its next fetch and drops
        // what a fetch in flight brings for a partition with a pending seek. Again after any rejoin.
        const seekAll = () => {
          for (const [topic, partitions] of Object.entries(positions)) {
            for (const [partition, offset] of Object.entries(partitions)) consumer.seek({ topic, partition: Number(partition), offset: String(offset) });
          }
        };
        consumer.on(consumer.events.GROUP_JOIN, seekAll);
        try {
          await consumer.connect();
          await consumer.subscribe({ topics, fromBeginning: false });
          await consumer.run({
            autoCommit: false,
            eachMessage: async ({ topic, partition, message }) => {
              if (signal.aborted) return;
              const offset = Number(message.offset);
              // Never what the client already has.
              if (offset < (positions[topic]?.[partition] ?? 0)) return;
              positions[topic]![partition] = offset + 1;
              let event: ProductEvent;
              try {
                event = fromKafkaRecord(message.value, message.headers);
              } catch (err) {
                if (err instanceof DecodeError) return; // the instance dead-letters it; the stream moves on
                throw err;
              }
              const scope = (parseRemoteTopic(topic, options.siteNames)?.topic ?? topic).split('.').slice(2).join('.');
              if (!selects(selection, event, scope)) return;
              await onEvent({ cursor: encodeCursor(positions), event });
            },
          });
          await stopped;
        } finally {
          await consumer.disconnect().catch(() => {});
        }
      },
    };
  }

  return {
    open,
    async close() {
      await admin?.disconnect().catch(() => {});
      admin = null;
    },
  };
}

export type EventStreams = ReturnType<typeof createEventStreams>;
