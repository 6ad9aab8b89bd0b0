import { describe, expect, it } from 'vitest';
import {
  completeEvent,
  DecodeError,
  EVENT_TYPES,
  fastProductEvent,
  fastPublishInput,
  formatMinor,
  fromKafkaRecord,
  MoneySchema,
  newTraceparent,
  ProductEventSchema,
  PublishInputSchema,
  toKafkaRecord,
} from './event-model.ts';

const price = (amount: unknown, currency = 'EUR') =>
  PublishInputSchema.safeParse({ type: EVENT_TYPES.price, data: { productId: 'sku-1', region: 'eu', price: { currency, amount } } });

describe('event model', () => {
  it('normalises decimal strings and minor units to minor units, by the currency digits', () => {
    expect(MoneySchema.parse({ currency: 'EUR', amount: '19.9' })).toEqual({ currency: 'EUR', minor: 1990 });
    expect(MoneySchema.parse({ currency: 'JPY', amount: '1500' })).toEqual({ currency: 'JPY', minor: 1500 });
    expect(MoneySchema.parse({ currency: 'KWD', amount: '1.234' })).toEqual({ currency: 'KWD', minor: 1234 });
    expect(MoneySchema.parse({ currency: 'USD', minor: 250 })).toEqual({ currency: 'USD', minor: 250 });
    expect(formatMinor({ currency: 'EUR', minor: 5 })).toBe('0.05');
  });

  it('refuses floats, too many decimals, unknown currencies and both or neither amount forms', () => {
    expect(price(19.99).success).toBe(false);
    expect(price('1.999').success).toBe(false);
    expect(price('10', 'XXY').error?.issues[0]?.message).toContain('not an ISO 4217 currency');
    expect(MoneySchema.safeParse({ currency: 'EUR', minor: 1.5 }).success).toBe(false);
    expect(MoneySchema.safeParse({ currency: 'EUR' }).success).toBe(false);
    expect(MoneySchema.safeParse({ currency: 'EUR', minor: 1, amount: '1' }).success).toBe(false);
  });

  it('checks ISO 3166 countries and refuses NUL characters', () => {
    const country = (c: string) => PublishInputSchema.safeParse({ type: EVENT_TYPES.country, data: { productId: 'sku-1', country: c, available: true } });
    expect(country('DE').success).toBe(true);
    expect(country('XX').error?.issues[0]?.message).toContain('not an ISO 3166-1 country');
    expect(country('de').success).toBe(false);
    const nul = PublishInputSchema.safeParse({ type: EVENT_TYPES.discount, data: { productId: 'sku-1', discountId: 'a\u0000b', percent: '10' } });
    expect(nul.error?.issues[0]?.message).toContain('NUL');
  });

  it('round-trips through the CloudEvents Kafka binary binding with the product id as key', () => {
    const event = completeEvent(
      PublishInputSchema.parse({ type: EVENT_TYPES.discount, data: { productId: 'sku-9', discountId: 'bf', percent: '15.5' } }),
      'cloud-a',
      1_700_000_000_000,
    );
    const record = toKafkaRecord(event);
    expect(record.key).toBe('sku-9');
    expect(record.headers).toMatchObject({
      ce_specversion: '1.0',
      ce_type: EVENT_TYPES.discount,
      ce_source: '/fedgate/sites/cloud-a',
      ce_subject: 'sku-9',
      'content-type': 'application/json',
    });
    expect(record.headers.ce_traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const headers = Object.fromEntries(Object.entries(record.headers).map(([k, v]) => [k, Buffer.from(v)]));
    expect(fromKafkaRecord(Buffer.from(record.value), headers)).toEqual(event);
    expect(ProductEventSchema.safeParse(event).success).toBe(true);
  });

  it('keeps a client-given id, time and traceparent', () => {
    const e = completeEvent(
      PublishInputSchema.parse({
        type: EVENT_TYPES.price,
        id: 'pis-123',
        time: '2026-01-01T00:00:00+01:00',
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        data: { productId: 'sku-1', region: 'eu', price: { currency: 'EUR', amount: '1' } },
      }),
      'onprem',
    );
    expect(e).toMatchObject({
      id: 'pis-123',
      time: '2026-01-01T00:00:00+01:00',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      subject: 'sku-1',
    });
    expect(ProductEventSchema.safeParse(e).success).toBe(true);
  });

  it('gives every event its own well-formed traceparent, across refills of the random pool', () => {
    const ids = Array.from({ length: 1000 }, () => newTraceparent());
    for (const t of ids) expect(t).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(new Set(ids).size).toBe(1000);
    expect(new Set(ids.map((t) => t.slice(3, 35))).size).toBe(1000);
  });

  it('explains why a record cannot be decoded', () => {
    expect(() => fromKafkaRecord(Buffer.from('{'), { ce_id: Buffer.from('x') })).toThrow(DecodeError);
    expect(() => fromKafkaRecord(Buffer.from('{}'), { ce_id: Buffer.from('x') })).toThrow(/not a valid product event/);
  });
});

describe('the decode fast path', () => {
  const base = {
    specversion: '1.0',
    id: 'a1b2c3',
    source: '/fedgate/sites/cloud-a',
    time: '2026-12-07T10:11:12.345Z',
    subject: 'sku-1',
    datacontenttype: 'application/json',
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    publishedat: 1_796_000_000_000,
  };
  const valid: Record<string, unknown>[] = [
    { ...base, type: EVENT_TYPES.price, data: { productId: 'sku-1', region: 'eu', price: { currency: 'EUR', minor: 1999 } } },
    {
      ...base,
      datacontenttype: undefined,
      type: EVENT_TYPES.price,
      data: {
        catalog: { category: 'tools', status: 'enriched', name: 'Widget', brand: 'Acme' },
        price: { minor: 0, currency: 'JPY' },
        region: 'us',
        productId: 'sku-1',
      },
    },
    {
      ...base,
      type: EVENT_TYPES.price,
      data: { productId: 'sku-1', region: 'eu', price: { currency: 'KWD', minor: 5 }, catalog: { status: 'unenriched', reason: 'unknown-product' } },
    },
    { ...base, type: EVENT_TYPES.country, data: { productId: 'sku-1', country: 'DE', available: false } },
    {
      ...base,
      type: EVENT_TYPES.country,
      data: { productId: 'sku-1', country: 'US', available: true, reason: 'recall', catalog: { status: 'enriched', name: 'W' } },
    },
  ];
  // Taken by the schema alone: the fast path must say null, and the schema decides.
  const discount = { ...base, type: EVENT_TYPES.discount, data: { productId: 'sku-1', discountId: 'bf', percent: '10' } };
  const odd: unknown[] = [
    undefined,
    null,
    '',
    'x'.repeat(33),
    'x'.repeat(101),
    'x'.repeat(201),
    'a\u0000b',
    0,
    -1,
    1.5,
    2 ** 53,
    true,
    {},
    [],
    'EUR',
    'XXX',
    'eur',
    'DE',
    'XX',
    'sku-2',
    '2028-02-29T00:00:00.000Z',
    '2026-02-29T00:00:00.000Z',
    '2026-13-01T00:00:00.000Z',
    '2026-01-01T24:00:00.000Z',
    '2026-01-01T00:00:00Z',
    '2026-01-01T00:00:00.000+01:00',
    '+012026-01-01T00:00:00.000Z',
    'application/json',
    'text/plain',
    'enriched',
    'unenriched',
    'catalog-unavailable',
    '1.0',
    EVENT_TYPES.country,
    EVENT_TYPES.discount,
  ];
  const paths = [
    'specversion',
    'id',
    'source',
    'time',
    'subject',
    'datacontenttype',
    'traceparent',
    'publishedat',
    'type',
    'data',
    'data.productId',
    'data.region',
    'data.price',
    'data.price.currency',
    'data.price.minor',
    'data.price.amount',
    'data.country',
    'data.available',
    'data.reason',
    'data.extra',
    'data.catalog',
    'data.catalog.status',
    'data.catalog.name',
    'data.catalog.brand',
    'data.catalog.reason',
    'data.catalog.extra',
  ].map((p) => p.split('.'));
  /** A deep copy of `event` with `value` at `path` (undefined deletes the key). */
  function mutate(event: unknown, path: string[], value: unknown): unknown {
    const copy = structuredClone(event) as Record<string, unknown>;
    let at: Record<string, unknown> = copy;
    for (const k of path.slice(0, -1)) {
      if (typeof at[k] !== 'object' || at[k] === null) return copy;
      at = at[k] as Record<string, unknown>;
    }
    const last = path.at(-1)!;
    if (value === undefined) delete at[last];
    else at[last] = structuredClone(value);
    return copy;
  }
  function compare(candidate: unknown) {
    const fast = fastProductEvent(candidate as Parameters<typeof fastProductEvent>[0]);
    const schema = ProductEventSchema.safeParse(candidate);
    if (fast !== null) {
      // Accepted by the fast path: the schema accepts it too, with the same output, keys in the same order.
      expect(schema.success, JSON.stringify(candidate)).toBe(true);
      expect(fast).toStrictEqual(schema.data);
      expect(JSON.stringify(fast)).toBe(JSON.stringify(schema.data));
    }
    return { fast: fast !== null, schema: schema.success };
  }

  it('takes the events fedgate writes and gives what the schema gives', () => {
    for (const e of valid) expect(compare(e)).toEqual({ fast: true, schema: true });
    expect(compare(discount)).toEqual({ fast: false, schema: true });
    // And through the Kafka binding: a real gateway's record.
    const event = completeEvent(
      PublishInputSchema.parse({ type: EVENT_TYPES.price, data: { productId: 'sku-3', region: 'eu', price: { currency: 'EUR', amount: '2.5' } } }),
      'cloud-b',
    );
    expect(compare(event)).toEqual({ fast: true, schema: true });
  });

  it('never accepts what the schema refuses, nor answers differently, over single and double mutations', () => {
    let seed = 17;
    const random = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    const tally = { both: 0, schemaOnly: 0, neither: 0 };
    const count = (r: { fast: boolean; schema: boolean }) => {
      if (r.fast) tally.both++;
      else if (r.schema) tally.schemaOnly++;
      else tally.neither++;
    };
    for (const e of [...valid, discount]) for (const path of paths) for (const value of odd) count(compare(mutate(e, path, value)));
    for (let i = 0; i < 5000; i++) {
      const e = [...valid, discount][random(valid.length + 1)];
      const once = mutate(e, paths[random(paths.length)]!, odd[random(odd.length)]);
      count(compare(mutate(once, paths[random(paths.length)]!, odd[random(odd.length)])));
    }
    // The mutations reach all three outcomes: fast, schema only (discounts, other time forms), refused.
    expect(tally.both).toBeGreaterThan(1000);
    expect(tally.schemaOnly).toBeGreaterThan(100);
    expect(tally.neither).toBeGreaterThan(1000);
  });

  it("checks a publisher's input as PublishInputSchema does", () => {
    const inputs: unknown[] = [
      { type: EVENT_TYPES.price, data: { productId: 'sku-1', region: 'eu', price: { currency: 'EUR', amount: '19.99' } } },
      { type: EVENT_TYPES.price, data: { productId: 'sku-1', region: 'eu', price: { currency: 'KWD', amount: '1.234' } } },
      { type: EVENT_TYPES.price, id: 'pis-1', time: '2026-12-07T10:11:12.345Z', specversion: '1.0', traceparent: base.traceparent, data: valid[1]!.data },
      { type: EVENT_TYPES.country, data: { productId: 'sku-1', country: 'DE', available: true } },
      { data: { available: false, country: 'FR', productId: 'sku-1' }, type: EVENT_TYPES.country, id: 'x' },
    ];
    const tally = { fast: 0, schemaOnly: 0, neither: 0 };
    const check = (input: unknown) => {
      const fast = fastPublishInput(input);
      const schema = PublishInputSchema.safeParse(input);
      if (fast !== null) {
        expect(schema.success, JSON.stringify(input)).toBe(true);
        expect(fast).toStrictEqual(schema.data);
        expect(JSON.stringify(fast)).toBe(JSON.stringify(schema.data));
        tally.fast++;
      } else if (schema.success) tally.schemaOnly++;
      else tally.neither++;
    };
    for (const input of inputs) expect(fastPublishInput(input)).not.toBeNull();
    const inputPaths = [...paths.filter((p) => !['source', 'subject', 'datacontenttype', 'publishedat'].includes(p[0]!)), ['extra']];
    for (const input of [...inputs, { type: EVENT_TYPES.discount, data: discount.data }])
      for (const path of inputPaths) for (const value of [...odd, '0.5', '10', '1.999', '01']) check(mutate(input, path, value));
    expect(tally.fast).toBeGreaterThan(300);
    expect(tally.schemaOnly).toBeGreaterThan(50);
    expect(tally.neither).toBeGreaterThan(300);
  });
});
