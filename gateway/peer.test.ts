import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { completeEvent, type ProductEvent, type Publisher, PublishInputSchema } from '../contract/index.ts';
import { parseTopology, type Site } from '../federation/index.ts';
import { createIdempotencyStore } from './idempotency.ts';
import { createPeerAccept } from './peer-accept.ts';
import { createPeerFailover } from './peer-failover.ts';
import type { AcceptedEvent } from './publish-service.ts';
import { TokenError } from './verifier.ts';

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
      call: async <T>(peer: Site, _method: string, _path: string, _deadline: number, body: unknown) => {
        asked.push(peer.name);
        expect(body).toMatchObject({ publisherToken: 'publisher-token' });
        if (peer.name === 'cloud-b') throw new Error('connect ECONNREFUSED');
        return { status: 200, body: { writtenAt: peer.name } as T };
      },
    });
    expect(await failover([event('e1')], 'publisher-token')).toBe('onprem');
    expect(asked).toEqual(['cloud-b', 'onprem']);
  });

  it('rejects with every peer’s reason when none acknowledged (the caller answers 503)', async () => {
    const failover = createPeerFailover({ topology, site: 'cloud-a', call: async <T>() => ({ status: 503, body: {} as T }) });
    await expect(failover([event('e1')], 'publisher-token')).rejects.toThrow('no peer accepted: cloud-b: 503; onprem: 503');
  });
});

describe('peer accept (the receiving side)', () => {
  /** Tokens "price" and "country" verify (with those publish scopes); anything else does not. */
  const verify = async (token: string) => {
    if (token !== 'price' && token !== 'country') throw new TokenError('the signature does not verify with the issuer’s keys');
    return { raw: token, issuer: 'urn:fedgate:site:cloud-a', subject: 'pis', scopes: new Set([`publish:${token}`]), expiresAt: 0 };
  };
  const setup = (fail = false) => {
    const written: ProductEvent[][] = [];
    const publishers: Publisher[] = [];
    const seen = createIdempotencyStore<AcceptedEvent>({ maxEntries: 100, ttlMs: 60_000 });
    const accept = createPeerAccept({
      site: 'onprem',
      maxBatchEvents: 2,
      verify,
      seen,
      log,
      submit: async (events, publisher) => {
        if (fail) throw new Error('broker down');
        written.push(events);
        publishers.push(publisher);
      },
    });
    return { accept, written, seen, publishers };
  };

  it('writes complete events here, once per id, says where, and hands on who published them', async () => {
    const { accept, written, publishers } = setup();
    expect(await accept({ events: [event('e1')], publisherToken: 'price' }, 'cloud-a')).toEqual({ writtenAt: 'onprem', accepted: 1 });
    expect(await accept({ events: [event('e1'), event('e2')], publisherToken: 'price' }, 'cloud-a')).toEqual({ writtenAt: 'onprem', accepted: 1 });
    expect(written.flat().map((e) => e.id)).toEqual(['e1', 'e2']);
    expect(publishers).toEqual([
      { iss: 'urn:fedgate:site:cloud-a', sub: 'pis' },
      { iss: 'urn:fedgate:site:cloud-a', sub: 'pis' },
    ]);
  });

  it('refuses a write with a missing or forged publisher token, with a token lacking the event’s scope, or from a gateway claiming another site’s events', async () => {
    const { accept, written } = setup();
    await expect(accept({ events: [event('e1')] }, 'cloud-a')).rejects.toMatchObject({ code: 'invalid-event' });
    await expect(accept({ events: [event('e1')], publisherToken: 'forged' }, 'cloud-a')).rejects.toMatchObject({ code: 'invalid-token' });
    await expect(accept({ events: [event('e1')], publisherToken: 'country' }, 'cloud-a')).rejects.toMatchObject({ code: 'insufficient-scope' });
    await expect(accept({ events: [event('e1')], publisherToken: 'price' }, 'cloud-b')).rejects.toMatchObject({ code: 'insufficient-scope' });
    expect(written).toEqual([]);
  });

  it('refuses what is not a batch of complete events, and writes nothing', async () => {
    const { accept, written } = setup();
    for (const body of [
      null,
      { events: [], publisherToken: 'price' },
      { events: [{ type: 'com.fedgate.pim.price.updated' }], publisherToken: 'price' },
      { events: [event('a'), event('b'), event('c')], publisherToken: 'price' },
    ]) {
      await expect(accept(body, 'cloud-a')).rejects.toMatchObject({ code: 'invalid-event' });
    }
    expect(written).toEqual([]);
  });

  it('answers kafka-unavailable when this site’s Kafka does not acknowledge either, and remembers nothing', async () => {
    const { accept, seen } = setup(true);
    await expect(accept({ events: [event('e1')], publisherToken: 'price' }, 'cloud-a')).rejects.toMatchObject({ code: 'kafka-unavailable' });
    expect(seen.get('e1')).toBeUndefined();
  });
});
