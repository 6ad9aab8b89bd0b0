import { describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH, parseJsonBody } from './json-body.ts';

const bytes = (s: string) => new TextEncoder().encode(s);
const problemOf = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    return err as { code: string; detail: string };
  }
  throw new Error('no problem raised');
};

describe('JSON request bodies', () => {
  it('parses well-formed JSON, surrogate pairs (emoji) included', () => {
    expect(parseJsonBody(bytes('{"a":["\\ud83d\\ude00", "ok"]}'))).toEqual({ a: ['😀', 'ok'] });
  });

  it('refuses a value nested 100,000 levels deep with a 4xx problem, not a stack overflow', () => {
    const p = problemOf(() => parseJsonBody(bytes(`{"type":${'['.repeat(100_000)}${']'.repeat(100_000)}}`)));
    expect(p.code).toBe('invalid-event');
    expect(p.detail).toContain(`deeper than ${MAX_JSON_DEPTH}`);
  });

  it('refuses lone surrogates in values and keys, naming where', () => {
    expect(problemOf(() => parseJsonBody(bytes('{"data":{"discountId":"promo-\\ud800"}}')))).toMatchObject({
      code: 'invalid-json',
      detail: expect.stringContaining('data.discountId'),
    });
    expect(problemOf(() => parseJsonBody(bytes('[{"x":"\\udc00a"}]')))).toMatchObject({ code: 'invalid-json', detail: expect.stringContaining('[0].x') });
    expect(problemOf(() => parseJsonBody(bytes('{"\\udbff":1}'))).code).toBe('invalid-json');
  });

  it('refuses bytes that are not UTF-8 instead of replacing them', () => {
    expect(problemOf(() => parseJsonBody(new Uint8Array([0x7b, 0x22, 0x61, 0xff, 0x22, 0x3a, 0x31, 0x7d]))).detail).toContain('UTF-8');
  });
});
