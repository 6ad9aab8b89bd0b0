import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { EVENT_TYPES, type Problem, type ProductEvent } from '../contract/index.ts';
import { parseTopology } from '../federation/index.ts';
import { type CatalogEntry, createEnricher } from './enrichment.ts';
import { createPublishService } from './publish-service.ts';

const catalog = new Map<string, CatalogEntry>([['P1', { name: 'Kettle', brand: 'Acme', category: 'kitchen' }]]);

describe('enrichment', () => {
  it('looks up what is not cached, caches known and unknown products for the TTL, and looks up again after it', async () => {
    let t = 0;
    const asked: string[][] = [];
    const e = createEnricher({
      lookup: async (ids) => {
        asked.push(ids);
        return new Map([...catalog].filter(([id]) => ids.includes(id)));
      },
      ttlMs: 1000,
      unknownProduct: 'pass',
      now: () => t,
    });
    expect(await e.catalogOf(['P1', 'P2', 'P1'])).toEqual(
      new Map([
        ['P1', { status: 'enriched', name: 'Kettle', brand: 'Acme', category: 'kitchen' }],
        ['P2', { status: 'unenriched', reason: 'unknown-product' }],
      ]),
    );
    t = 999;
    await e.catalogOf(['P1', 'P2']);
    expect(asked).toEqual([['P1', 'P2']]);
    t = 1000;
    await e.catalogOf(['P2']);
    expect(asked).toEqual([['P1', 'P2'], ['P2']]);
    expect(e.stats()).toMatchObject({ hits: 2, misses: 3, lookups: 2 });
  });

  it('marks events unenriched when the catalog does not answer, and does not cache that', async () => {
    let up = false;
    const e = createEnricher({
      lookup: async () => {
        if (!up) throw new Error('down');
        return catalog;
      },
      ttlMs: 60_000,
      unknownProduct: 'dead-letter',
    });
    expect((await e.catalogOf(['P1'])).get('P1')).toEqual({ status: 'unenriched', reason: 'catalog-unavailable' });
    up = true;
    expect((await e.catalogOf(['P1'])).get('P1')).toMatchObject({ status: 'enriched', name: 'Kettle' });
  });

  describe('in the publish service', () => {
    const topology = parseTopology(JSON.parse(readFileSync(new URL('../topology.json', import.meta.url), 'utf8')));
    const token = { raw: '', issuer: 'i', subject: 's', scopes: new Set(['publish:price']), expiresAt: Number.MAX_SAFE_INTEGER };
    const price = (productId: string) => ({ type: EVENT_TYPES.price, data: { productId, region: 'eu', price: { currency: 'EUR', amount: '1.00' } } });
    const service = (unknownProduct: 'pass' | 'dead-letter', written: ProductEvent[]) =>
      createPublishService({
        topology,
        site: 'cloud-a',
        log: pino({ level: 'silent' }),
        submit: async (events) => void written.push(...events),
        failover: async () => {
          throw new Error('no peer');
        },
        seen: new Map(),
        maxFutureSkewMs: 60_000,
        enrich: createEnricher({ lookup: async () => catalog, ttlMs: 60_000, unknownProduct }),
      });

    it('writes each event with its catalog data; under "pass" an unknown product goes on, marked', async () => {
      const written: ProductEvent[] = [];
      await service('pass', written)({ input: { events: [price('P1'), price('P9')], token } });
      expect(written.map((e) => e.data.catalog)).toEqual([
        { status: 'enriched', name: 'Kettle', brand: 'Acme', category: 'kitchen' },
        { status: 'unenriched', reason: 'unknown-product' },
      ]);
    });

    it('under "dead-letter" refuses an unknown product: the whole HTTP batch, or just that event where the caller dead-letters', async () => {
      const written: ProductEvent[] = [];
      const publish = service('dead-letter', written);
      await expect(publish({ input: { events: [price('P1'), price('P9')], token } })).rejects.toMatchObject({
        code: 'unknown-product',
        extra: { productId: 'P9', index: 1 },
      });
      expect(written).toEqual([]);
      const refused: Array<[number, Problem]> = [];
      const result = await publish({ input: { events: [price('P9'), price('P1')], token, onInvalid: (i, p) => refused.push([i, p]) } });
      expect(refused.map(([i, p]) => [i, p.code])).toEqual([[0, 'unknown-product']]);
      expect(result.events).toHaveLength(1);
      expect(written.map((e) => e.subject)).toEqual(['P1']);
    });
  });
});
