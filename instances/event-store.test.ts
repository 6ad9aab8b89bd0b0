import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completeEvent, decodeHistoryCursor, EVENT_TYPES, type ProductEvent, PublishInputSchema, REPLAY_TARGETS } from '../contract/index.ts';
import { type Database, openDatabase } from './db/database.ts';
import { storedEvents } from './db/schema.ts';
import { CONSUMERS } from './downstream-consumer.ts';
import { STORE_CONSUMER, storedHistory, storeEvents } from './event-store.ts';
import { createReadApi } from './read-api.ts';

/** The event store over an in-memory PGlite: each event once, history for a set of products newest first, paged. */
describe('replay targets', () => {
  it('are exactly the site’s consumer groups that read replays: every effect consumer and the event store', () => {
    expect(REPLAY_TARGETS.filter((t) => t !== 'all').sort()).toEqual([...CONSUMERS.map((c) => c.name), STORE_CONSUMER].sort());
  });
});

describe('event store', () => {
  let database: Database;
  const t0 = Date.parse('2026-12-01T10:00:00Z');
  const event = (id: string, input: { type: 'price' | 'discount' | 'country'; data: Record<string, unknown> }, minute: number, site = 'a'): ProductEvent =>
    completeEvent(
      PublishInputSchema.parse({ id, time: new Date(t0 + minute * 60_000).toISOString(), type: EVENT_TYPES[input.type], data: input.data }),
      site,
      t0 + minute * 60_000 + 5,
    );
  const price = (id: string, product: string, minute: number, amount: string) =>
    event(id, { type: 'price', data: { productId: product, region: 'eu-west', price: { currency: 'EUR', amount } } }, minute);

  beforeAll(async () => {
    database = await openDatabase({ dataDir: 'memory://', schemaName: 'unused' });
  });
  afterAll(async () => {
    await database?.close();
  });

  it('keeps each event once: a redelivered copy or the same event from another topic adds nothing', async () => {
    const e = price('p-1', 'sku-1', 0, '10.00');
    await storeEvents(database.db, [e, e], { topic: 'fed.price.eu-west', partition: 0, offsets: [4, 5] });
    await storeEvents(database.db, [e], { topic: 'a.fed.price.eu-west', partition: 1, offsets: [9] });
    const rows = await database.db.select().from(storedEvents);
    expect(rows.map((r) => [r.eventId, r.productId, r.topic, r.partition, r.offset, r.sourceSite])).toEqual([['p-1', 'sku-1', 'fed.price.eu-west', 0, 4, 'a']]);
    expect(rows[0]!.event).toEqual(e);
  });

  it('answers a set of products newest first with their values, page by page, with no row twice or missed', async () => {
    const all: ProductEvent[] = [
      price('p-2', 'sku-1', 1, '11.00'),
      price('p-3', 'sku-2', 2, '20.5'),
      event('d-1', { type: 'discount', data: { productId: 'sku-2', discountId: 'bf', percent: '15', validTo: '2026-12-31T00:00:00Z' } }, 3, 'b'),
      event('c-1', { type: 'country', data: { productId: 'sku-1', country: 'DE', available: false, reason: 'recall' } }, 4, 'c'),
      event('d-2', { type: 'discount', data: { productId: 'sku-3', discountId: 'x', region: 'us-east', amountOff: { currency: 'USD', minor: 500 } } }, 5),
      // Same time as c-1: the greater id comes first.
      price('p-4', 'sku-1', 4, '12.00'),
    ];
    await storeEvents(database.db, all, { topic: 'fed.price.eu-west', partition: 0, offsets: all.map((_, i) => 10 + i) });

    const first = await storedHistory({ db: database.db, site: 's', filter: { productIds: ['sku-1', 'sku-2'] }, limit: 3 });
    expect(first.items.map((i) => i.eventId)).toEqual(['p-4', 'c-1', 'd-1']);
    expect(first.items[1]!.values).toEqual({ kind: 'country', country: 'DE', available: false, reason: 'recall' });
    expect(first.items[1]!.sourceSite).toBe('c');
    expect(first.items[2]!.values).toEqual({
      kind: 'discount',
      region: '*',
      discountId: 'bf',
      percent: '15',
      amountOff: null,
      active: true,
      validFrom: null,
      validTo: '2026-12-31T00:00:00Z',
    });
    expect(first.next).not.toBeNull();
    const second = await storedHistory({
      db: database.db,
      site: 's',
      filter: { productIds: ['sku-1', 'sku-2'] },
      limit: 3,
      before: decodeHistoryCursor(first.next!)!,
    });
    expect(second.items.map((i) => i.eventId)).toEqual(['p-3', 'p-2', 'p-1']);
    expect(second.items[0]!.values).toEqual({ kind: 'price', region: 'eu-west', currency: 'EUR', amount: '20.50' });
    expect(second.next).toBeNull();

    const usd = await storedHistory({ db: database.db, site: 's', filter: { productIds: ['sku-3', 'sku-none'] }, limit: 10 });
    expect(usd.items.map((i) => [i.eventId, i.values])).toEqual([
      ['d-2', { kind: 'discount', region: 'us-east', discountId: 'x', percent: null, amountOff: 'USD 5.00', active: true, validFrom: null, validTo: null }],
    ]);
  });

  it('answers a time range of event times, with or without products: from included, to not', async () => {
    const t = (minute: number) => t0 + minute * 60_000;
    const range = await storedHistory({ db: database.db, site: 's', filter: { from: t(1), to: t(4) }, limit: 10 });
    expect(range.items.map((i) => i.eventId)).toEqual(['d-1', 'p-3', 'p-2']);
    const paged = await storedHistory({ db: database.db, site: 's', filter: { from: t(1), to: t(4) }, limit: 2 });
    expect(paged.items.map((i) => i.eventId)).toEqual(['d-1', 'p-3']);
    const rest = await storedHistory({ db: database.db, site: 's', filter: { from: t(1), to: t(4) }, limit: 2, before: decodeHistoryCursor(paged.next!)! });
    expect(rest.items.map((i) => i.eventId)).toEqual(['p-2']);
    expect(rest.next).toBeNull();
    const both = await storedHistory({ db: database.db, site: 's', filter: { productIds: ['sku-1'], from: t(1) }, limit: 10 });
    expect(both.items.map((i) => i.eventId)).toEqual(['p-4', 'c-1', 'p-2']);
  });

  it('serves GET /v1/history with problem answers for bad queries', async () => {
    const app = createReadApi({
      db: database.db,
      site: 's',
      log: pino({ level: 'silent' }),
      lag: async () => ({}),
      offsets: async () => ({ ends: {}, heartbeats: {} }),
      kafkaView: async () => ({ value: { groups: {}, offsets: { ends: {}, heartbeats: {} } }, at: 0 }),
      health: async () => ({}),
      secret: 'history-secret',
    });
    const get = (q: string, auth = true) => app.request(`/v1/history${q}`, { headers: auth ? { authorization: 'Bearer history-secret' } : {} });

    const ok = await get('?products=sku-2,sku-2,sku-1&limit=2');
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as { site: string; items: { eventId: string; topic: string }[]; next: string | null };
    expect(body.items.map((i) => i.eventId)).toEqual(['p-4', 'c-1']);
    expect(body.items[0]!.topic).toBe('fed.price.eu-west');
    const next = await get(`?products=sku-1,sku-2&limit=2&before=${body.next}`);
    expect(((await next.json()) as { items: { eventId: string }[] }).items.map((i) => i.eventId)).toEqual(['d-1', 'p-3']);
    const range = await get('?from=2026-12-01T10:03:00Z&to=2026-12-01T10:05:00.000%2B00:00');
    expect(((await range.json()) as { items: { eventId: string }[] }).items.map((i) => i.eventId)).toEqual(['p-4', 'c-1', 'd-1']);

    expect((await get('?products=sku-1', false)).status).toBe(401);
    for (const [q, fragment] of [
      ['', 'give products'],
      ['?from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z', 'from must be before to'],
      ['?from=yesterday', 'from'],
      ['?products=', 'at least one product id'],
      ['?products=bad%20id', 'products'],
      [`?products=${Array.from({ length: 101 }, (_, i) => `sku-${i}`).join(',')}`, 'at most 100'],
      ['?products=sku-1&before=bm90LWEtY3Vyc29y', 'not a cursor'],
    ] as const) {
      const res = await get(q);
      expect(res.status, q).toBe(400);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      const problem = (await res.json()) as { code: string; detail: string };
      expect(problem.code).toBe('invalid-query');
      expect(problem.detail).toContain(fragment);
    }
  });
});
