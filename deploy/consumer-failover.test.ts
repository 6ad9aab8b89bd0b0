import { describe, expect, it } from 'vitest';
import { translateBack } from './consumer-failover.ts';

describe('fail-back translation (offset syncs run backwards)', () => {
  // Upstream 0..99 copied 1:1 to 0..99, then a restart copied 90..99 again (copies 100..109), then 1:1 on.
  const syncs = [
    { upstreamOffset: 0, downstreamOffset: 0 },
    { upstreamOffset: 50, downstreamOffset: 50 },
    { upstreamOffset: 90, downstreamOffset: 100 },
    { upstreamOffset: 100, downstreamOffset: 110 },
  ];

  it('resumes at the synced upstream record when the position is that sync, and after it when the position is beyond', () => {
    expect(translateBack(syncs, 50)).toEqual({ sync: syncs[1], translated: 50 });
    expect(translateBack(syncs, 57)).toEqual({ sync: syncs[1], translated: 51 });
    expect(translateBack(syncs, 110)).toEqual({ sync: syncs[3], translated: 100 });
  });

  it('never skips: a position among re-copied records maps to at most the record after the last sync, so everything after is processed', () => {
    // Copies 100..104 are upstream 90..94; the group processed them, so upstream 95.. are unprocessed: resuming at 91 skips nothing.
    expect(translateBack(syncs, 105).translated).toBe(91);
    for (let position = 0; position <= 130; position++) {
      const { translated } = translateBack(syncs, position);
      // The upstream record of the last copy the group processed (position - 1) is at or after `translated - 1`.
      const lastProcessedUpstream =
        position === 0 ? -1 : position - 1 < 100 ? position - 1 : position - 1 < 110 ? 90 + (position - 1 - 100) : 100 + (position - 1 - 110);
      expect(translated, `position ${position}`).toBeLessThanOrEqual(lastProcessedUpstream + 1);
    }
  });

  it('has nothing to say below the first sync', () => {
    expect(translateBack([{ upstreamOffset: 500, downstreamOffset: 40 }], 39)).toEqual({ sync: null, translated: null });
    expect(translateBack([], 10)).toEqual({ sync: null, translated: null });
  });
});
