import { describe, expect, it } from 'vitest';
import { resumeOffset, translateBack } from './consumer-failover.ts';

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

describe('failover: where a group resumes on a copy, from the offset syncs', () => {
  it("is exact between two syncs that advanced in lockstep, however far apart (MM2's own checkpoint is one past the sync)", () => {
    const syncs = [
      { upstreamOffset: 0, downstreamOffset: 0 },
      { upstreamOffset: 31, downstreamOffset: 31 },
      { upstreamOffset: 200, downstreamOffset: 200 },
    ];
    expect(resumeOffset(syncs, 62)).toEqual({ sync: syncs[1], fromSync: 62 });
    expect(resumeOffset(syncs, 31)).toEqual({ sync: syncs[1], fromSync: 31 });
    // Past the last sync, or before the first: nothing proven.
    expect(resumeOffset(syncs, 250).fromSync).toBeNull();
    expect(resumeOffset([{ upstreamOffset: 10, downstreamOffset: 4 }], 9)).toEqual({ sync: null, fromSync: null });
  });

  it('says nothing where the copy did not advance in lockstep (an upstream gap, a record copied twice, a marker)', () => {
    const cases = [
      // Ten more copies than upstream records between the syncs: a restart copied some again.
      { upstreamOffset: 50, downstreamOffset: 60 },
      // Fewer copies than upstream offsets: a gap upstream (retention, compaction, transactions).
      { upstreamOffset: 50, downstreamOffset: 40 },
    ];
    for (const later of cases) expect(resumeOffset([{ upstreamOffset: 0, downstreamOffset: 0 }, later], 20).fromSync).toBeNull();
  });

  it('never skips, for every position and any subset of syncs, on copies with upstream gaps, restarts and transaction markers', () => {
    // A seeded generator, so a failure names a case that can be run again.
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    let exact = 0;
    for (let run = 0; run < 300; run++) {
      const top = 120;
      // Upstream offsets with no record (lost to retention, compacted, a transaction marker): never copied.
      const gaps = new Set(Array.from({ length: top }, (_, u) => u).filter(() => run % 3 === 0 && random() < 0.05));
      // The copy: passes over the upstream offsets in order; a restart goes back to any offset at or before the next one.
      const copy: Array<number | 'marker'> = [];
      let next = 0;
      while (next < top) {
        const until = Math.min(top, next + 1 + Math.floor(random() * 40));
        for (let u = next; u < until; u++) {
          if (gaps.has(u)) continue;
          copy.push(u);
          if (run % 3 === 1 && random() < 0.05) copy.push('marker');
        }
        next = run % 3 === 2 && random() < 0.4 ? Math.max(0, until - Math.floor(random() * 25)) : until;
      }
      const syncs = copy.flatMap((u, d) => (typeof u === 'number' && random() < 0.15 ? [{ upstreamOffset: u, downstreamOffset: d }] : []));
      // Where each upstream record was copied last: a consumer from offset x sees record q if that is at or after x.
      const lastCopy = new Map<number, number>();
      for (const [d, u] of copy.entries()) if (typeof u === 'number') lastCopy.set(u, d);
      for (let p = 0; p <= top; p++) {
        const { fromSync } = resumeOffset(syncs, p);
        if (fromSync === null) continue;
        let skipped: number | undefined;
        for (let q = p; q < top && skipped === undefined; q++) if (!gaps.has(q) && lastCopy.get(q)! < fromSync) skipped = q;
        expect(skipped, `run ${run}: position ${p} resumes at ${fromSync}, after every copy of record ${skipped}`).toBeUndefined();
        if (copy.every((u, d) => u === d)) {
          expect(fromSync).toBe(p);
          exact++;
        }
      }
    }
    // The exact case was exercised, not only the refusals.
    expect(exact).toBeGreaterThan(1000);
  });
});
