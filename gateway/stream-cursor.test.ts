import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor, startPositions } from './stream-cursor.ts';

describe('subscribe stream cursors', () => {
  it('round-trips positions, and refuses what is not a cursor', () => {
    const p = { 'fed.price.eu': { 0: 12, 1: 0 }, 'b.fed.price.eu': { 2: 7 } };
    expect(decodeCursor(encodeCursor(p))).toEqual({ 'fed.price.eu': { 0: 12, 1: 0 }, 'b.fed.price.eu': { 2: 7 } });
    for (const bad of ['', '42', 'c1.!!!', `c1.${Buffer.from('[1]').toString('base64url')}`, `c1.${Buffer.from('{"t":{"0":-1}}').toString('base64url')}`]) {
      expect(decodeCursor(bad), bad).toBeNull();
    }
    expect(decodeCursor(`c1.${'A'.repeat(20_000)}`)).toBeNull();
  });
  it('starts after the cursor, at the oldest offset of a new partition, at the live end of a new topic, and reports what retention deleted', () => {
    const ends = {
      t: [
        { partition: 0, low: 0, high: 10 },
        { partition: 1, low: 5, high: 9 },
        { partition: 2, low: 3, high: 4 },
      ],
      u: [{ partition: 0, low: 0, high: 8 }],
    };
    expect(startPositions(ends, null)).toEqual({ start: { t: { 0: 10, 1: 9, 2: 4 }, u: { 0: 8 } }, gaps: [] });
    expect(startPositions(ends, { t: { 0: 6, 1: 2 } })).toEqual({
      start: { t: { 0: 6, 1: 5, 2: 3 }, u: { 0: 8 } },
      gaps: [{ topic: 't', partition: 1, from: 2, to: 5 }],
    });
  });
});
