import { describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '../contract/index.ts';
import { mapSourceRecord } from './source-event.ts';

const json = (v: unknown) => Buffer.from(JSON.stringify(v));
const data = { productId: 'P1', region: 'eu', price: { currency: 'EUR', amount: '9.99' } };

describe('PIS source topic record → publish input', () => {
  it('takes the native shape and the seed shape, keeping a given id', () => {
    expect(mapSourceRecord(0, '5', json({ type: EVENT_TYPES.price, id: 'e-1', data }))).toEqual({
      kind: 'event',
      id: 'e-1',
      productId: 'P1',
      input: { type: EVENT_TYPES.price, id: 'e-1', data },
    });
    expect(mapSourceRecord(2, '7', json({ event_type: 'product-price-update', data }))).toEqual({
      kind: 'event',
      id: 'pe-2-7',
      productId: 'P1',
      input: { type: EVENT_TYPES.price, id: 'pe-2-7', data },
    });
  });

  it('refuses records that are not one event, with the problem code in the reason', () => {
    expect(mapSourceRecord(0, '1', Buffer.from('{nope'))).toMatchObject({ kind: 'invalid', id: 'pe-0-1', reason: expect.stringMatching(/^invalid-json/) });
    expect(mapSourceRecord(0, '2', json([1]))).toMatchObject({ kind: 'invalid', reason: expect.stringMatching(/^invalid-event/) });
    expect(mapSourceRecord(0, '3', json({ event_type: 'product-colour-update', data }))).toMatchObject({
      kind: 'invalid',
      reason: expect.stringMatching(/^unknown-event-type/),
    });
    expect(mapSourceRecord(0, '4', null)).toMatchObject({ kind: 'invalid', reason: expect.stringMatching(/empty record/) });
  });
});
