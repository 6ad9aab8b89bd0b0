import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { completeEvent, type ProductEvent, PublishInputSchema } from '../contract/index.ts';
import { parseTopology, type Site } from '../federation/index.ts';
import { createIdempotencyStore } from './idempotency.ts';
import { createPeerAccept } from './peer-accept.ts';
import { createPeerFailover } from './peer-failover.ts';
import type { AcceptedEvent } from './publish-service.ts';

const topology = parseTopology(JSON.parse(readFileSync(new URL('../topology.json', import.meta.url), 'utf8')));
const event = (id: string): ProductEvent =>
  completeEvent(
    PublishInputSchema.parse({
      type: 'com.fedgate.pim.price.updated',
      id,
      data: { productId: 'sku-1', region: 'eu', price: { currency: 'EUR', amount: '1.00' } },
    }),
    'cloud-a',
  );
const log = pino({ level: 'silent' });

describe('peer failover (the writing side)', () => {
  it('writes through the first peer that acknowledges, in topology order, and never chains further', async () => {
    const asked: string[] = [];
    const failover = createPeerFailover({
      topology,
      site: 'cloud-a',
      call: async <T>(peer: Site) => {
        asked.push(peer.name);
        if (peer.name === 'cloud-b') throw new Error('connect ECONNREFUSED');
        return { status: 200, body: { writtenAt: peer.name } as T };
      },
    });
    expect(await failover([event('e1')])).toBe('onprem');
    expect(asked).toEqual(['cloud-b', 'onprem']);
  });

  it('rejects with every peer’s reason when none acknowledged (the caller answers 503)', async () => {
    const failover = createPeerFailover({ topology, site: 'cloud-a', call: async <T>() => ({ status: 503, body: {} as T }) });
    await expect(failover([event('e1')])).rejects.toThrow('no peer accepted: cloud-b: 503; onprem: 503');
  });
});

describe('peer accept (the receiving side)', () => {
  const setup = (fail = false) => {
    const written: ProductEvent[][] = [];
    const seen = createIdempotencyStore<AcceptedEvent>({ maxEntries: 100, ttlMs: 60_000 });
    const accept = createPeerAccept({
      site: 'onprem',
      maxBatchEvents: 2,
      seen,
      log,
      submit: async (events) => {
        if (fail) throw new Error('broker down');
        written.push(events);
      },
    });
    return { accept, written, seen };
  };

  it('writes complete events here, once per id, and says where', async () => {
    const { accept, written } = setup();
    expect(await accept({ events: [event('e1')] }, 'cloud-a')).toEqual({ writtenAt: 'onprem', accepted: 1 });
    expect(await accept({ events: [event('e1'), event('e2')] }, 'cloud-a')).toEqual({ writtenAt: 'onprem', accepted: 1 });
    expect(written.flat().map((e) => e.id)).toEqual(['e1', 'e2']);
  });

  it('refuses what is not a batch of complete events, and writes nothing', async () => {
    const { accept, written } = setup();
    for (const body of [null, { events: [] }, { events: [{ type: 'com.fedgate.pim.price.updated' }] }, { events: [event('a'), event('b'), event('c')] }]) {
      await expect(accept(body, 'cloud-a')).rejects.toMatchObject({ code: 'invalid-event' });
    }
    expect(written).toEqual([]);
  });

  it('answers kafka-unavailable when this site’s Kafka does not acknowledge either, and remembers nothing', async () => {
    const { accept, seen } = setup(true);
    await expect(accept({ events: [event('e1')] }, 'cloud-a')).rejects.toMatchObject({ code: 'kafka-unavailable' });
    expect(seen.get('e1')).toBeUndefined();
  });
});
