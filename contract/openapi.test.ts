import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { EVENT_TYPES, PublishInputSchema } from './event-model.ts';
import { peerApiDocument, publicApiDocument, readApiDocument } from './openapi.ts';
import { PROBLEM_CODES } from './problem.ts';

/**
 * The document is generated from the validator's own schemas; these tests
 * check that a client following the document and the validator agree on
 * what is an event, type by type.
 */
const doc = publicApiDocument('test');
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats.default(ajv);
const validate = ajv.compile(doc.components!.schemas!.PublishInput as object);
const valid = (e: unknown) => ({ document: validate(e), validator: PublishInputSchema.safeParse(e).success });

const samples = {
  [EVENT_TYPES.price]: { type: EVENT_TYPES.price, data: { productId: 'sku-1', region: 'eu', price: { currency: 'EUR', amount: '19.99' } } },
  [EVENT_TYPES.discount]: {
    type: EVENT_TYPES.discount,
    data: { productId: 'sku-1', discountId: 'promo-1', percent: '15', validFrom: '2026-01-01T00:00:00Z', validTo: '2026-02-01T00:00:00+01:00' },
  },
  [EVENT_TYPES.country]: { type: EVENT_TYPES.country, data: { productId: 'sku-1', country: 'DE', available: true, reason: 'restocked' } },
} as const;

describe('the API document and the validator agree', () => {
  for (const [type, event] of Object.entries(samples)) {
    describe(type, () => {
      it('accept a complete event, with the optional attributes', () => {
        expect(valid(event)).toEqual({ document: true, validator: true });
        const full = { ...event, id: 'evt-1', time: '2026-11-26T12:00:00.000Z', specversion: '1.0', traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01` };
        expect(valid(full)).toEqual({ document: true, validator: true });
      });
      const broken: Record<string, unknown> = {
        'an unknown attribute': { ...event, colour: 'red' },
        'an unknown data field': { ...event, data: { ...event.data, colour: 'red' } },
        'no productId': { ...event, data: { ...event.data, productId: undefined } },
        'a productId with a space': { ...event, data: { ...event.data, productId: 'sku 1' } },
        'a malformed id': { ...event, id: '-starts-with-dash' },
        'a time without an offset': { ...event, time: '2026-11-26T12:00:00' },
        'a malformed traceparent': { ...event, traceparent: '00-xyz' },
        'no data': { type },
      };
      for (const [what, e] of Object.entries(broken)) {
        it(`refuse ${what}`, () => expect(valid(JSON.parse(JSON.stringify(e)))).toEqual({ document: false, validator: false }));
      }
    });
  }

  it('refuse an event type that does not exist', () => {
    expect(valid({ ...samples[EVENT_TYPES.price], type: 'com.fedgate.pim.stock.updated' })).toEqual({ document: false, validator: false });
  });

  it('document money as a decimal string or integer minor units, never a float', () => {
    const price = (p: unknown) => ({ ...samples[EVENT_TYPES.price], data: { ...samples[EVENT_TYPES.price].data, price: p } });
    expect(valid(price({ currency: 'EUR', minor: 1999 }))).toEqual({ document: true, validator: true });
    expect(valid(price({ currency: 'EUR', amount: 19.99 }))).toEqual({ document: false, validator: false });
    expect(valid(price({ currency: 'EUR', minor: 19.5 }))).toEqual({ document: false, validator: false });
  });

  it('list every problem code, each with its status', () => {
    const problem = doc.components!.schemas!.Problem as { properties: { code: { enum: string[] } } };
    expect(problem.properties.code.enum.sort()).toEqual(Object.keys(PROBLEM_CODES).sort());
    const publish = doc.paths!['/v1/events']!.post!.responses as Record<string, { 'x-problem-codes'?: string[] }>;
    for (const [status, response] of Object.entries(publish)) {
      for (const code of response['x-problem-codes'] ?? []) expect(PROBLEM_CODES[code as keyof typeof PROBLEM_CODES], code).toBe(Number(status));
    }
  });

  it('generate the peer and site read API documents too', () => {
    expect(Object.keys(peerApiDocument('test').paths!)).toContain('/peer/v1/publish');
    expect(Object.keys(readApiDocument('test').paths!)).toContain('/v1/overview');
  });
});
