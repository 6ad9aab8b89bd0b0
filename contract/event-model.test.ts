import { describe, expect, it } from 'vitest';
import {
  completeEvent,
  DecodeError,
  EVENT_TYPES,
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
