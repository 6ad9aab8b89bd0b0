import { readFileSync } from 'node:fs';
import type { Producer } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { completeEvent } from '../contract/index.ts';
import { parseTopology } from '../federation/index.ts';
import { createDistributor } from './distributor.ts';
import { applyWindowRecord, eventWindowRecord, keyWindowRecord, replayWindowRecord } from './durable-window.ts';
import { createIdempotencyStore } from './idempotency.ts';
import type { AcceptedEvent, PublishResult } from './publish-service.ts';
import type { StoredReplay } from './replay.ts';

const topology = parseTopology(JSON.parse(readFileSync(new URL('../topology.json', import.meta.url), 'utf8')));

describe('durable idempotency window (records and their read-back)', () => {
  const fresh = (now: () => number) => ({
    events: createIdempotencyStore<AcceptedEvent>({ maxEntries: 100, ttlMs: 60_000, now }),
    keys: createIdempotencyStore<PublishResult>({ maxEntries: 100, ttlMs: 60_000, now }),
  });
  const read = (m: { key?: unknown; value?: unknown }, timestampMs: number) => ({ key: String(m.key), value: String(m.value), timestampMs });

  it('reads back an accepted event and a key answer exactly as they were first given', () => {
    const index = fresh(() => 10_000);
    const accepted: AcceptedEvent = { id: 'e-1', type: 'com.fedgate.pim.price.updated', routedTo: ['cloud-a', 'onprem'], writtenAt: 'cloud-a' };
    const result: PublishResult = { events: [accepted] };
    expect(applyWindowRecord(index, read(eventWindowRecord({ ...accepted, duplicate: true }), 9000))).toBe(true);
    expect(applyWindowRecord(index, read(keyWindowRecord('iss|sub|key-1', result), 9000))).toBe(true);
    expect(index.events.get('e-1')).toEqual(accepted);
    expect(index.keys.get('iss|sub|key-1')).toEqual(result);
  });

  it('reads back the last record of each replay job, and ignores replay records where no one keeps them', () => {
    const kept = new Map<string, StoredReplay>();
    const index = { ...fresh(() => 0), replays: { set: (id: string, r: StoredReplay) => void kept.set(id, r) } };
    const job = { id: 'replay-1', state: 'running', sent: 2 } as unknown as StoredReplay['job'];
    expect(applyWindowRecord(index, read(replayWindowRecord({ job, resume: { before: '3' } }), 1))).toBe(true);
    expect(applyWindowRecord(index, read(replayWindowRecord({ job: { ...job, sent: 4 }, resume: { before: '6' } }), 2))).toBe(true);
    expect(kept.get('replay-1')).toEqual({ job: { ...job, sent: 4 }, resume: { before: '6' } });
    expect(
      applyWindowRecord(
        fresh(() => 0),
        read(replayWindowRecord({ job, resume: { before: null } }), 3),
      ),
    ).toBe(false);
  });

  it('keeps a read-back record only for the rest of its window, counted from when it was written', () => {
    let now = 100_000;
    const index = fresh(() => now);
    const accepted: AcceptedEvent = { id: 'old', type: 't', routedTo: [], writtenAt: 'cloud-a' };
    applyWindowRecord(index, read(eventWindowRecord(accepted), now - 61_000));
    expect(index.events.get('old')).toBeUndefined();
    applyWindowRecord(index, read(eventWindowRecord({ ...accepted, id: 'recent' }), now - 59_000));
    expect(index.events.get('recent')).toBeDefined();
    now += 2000;
    expect(index.events.get('recent')).toBeUndefined();
  });

  it('skips records it cannot read instead of failing', () => {
    const index = fresh(() => 0);
    expect(applyWindowRecord(index, { key: 'event:x', value: '{not json', timestampMs: 0 })).toBe(false);
    expect(applyWindowRecord(index, { key: 'other:x', value: '{}', timestampMs: 0 })).toBe(false);
    expect(applyWindowRecord(index, { key: null, value: '{}', timestampMs: 0 })).toBe(false);
    expect(index.events.size()).toBe(0);
  });

  it('writes each event’s window record in the same Kafka request as the event', async () => {
    const calls: Array<{ topicMessages: Array<{ topic: string; messages: Array<{ key?: unknown; value?: unknown }> }> }> = [];
    const producer = { sendBatch: async (b: (typeof calls)[number]) => void calls.push(b) } as unknown as Producer;
    const distribute = createDistributor({ producer, topology, monitorSite: 'cloud-a', window: true });
    const event = completeEvent(
      { type: 'com.fedgate.pim.price.updated', id: 'w-1', data: { productId: 'p', region: 'us', price: { currency: 'USD', minor: 100 } } },
      'cloud-a',
      Date.now(),
    );
    await distribute([event]);
    expect(calls).toHaveLength(1);
    const window = calls[0]!.topicMessages.find((t) => t.topic === 'site.idempotency')!;
    expect(window.messages).toHaveLength(1);
    expect(window.messages[0]!.key).toBe('event:w-1');
    expect(JSON.parse(String(window.messages[0]!.value))).toEqual({
      id: 'w-1',
      type: 'com.fedgate.pim.price.updated',
      routedTo: ['cloud-b'],
      writtenAt: 'cloud-a',
    });
    expect(calls[0]!.topicMessages.map((t) => t.topic).sort()).toEqual(['fed.price.us', 'site.idempotency', 'site.monitoring']);
  });
});
