import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { flowLags, isKnownLag } from './flow-lags.ts';
import type { SiteOffsets } from './lag.ts';
import { parseTopology } from './topology.ts';

const topology = parseTopology(JSON.parse(readFileSync(new URL('../topology.json', import.meta.url), 'utf8')));

describe('flow lags', () => {
  it('gives every flow of the topology its lag over the topics its target serves', () => {
    const now = Date.parse('2026-11-26T10:00:10Z');
    const offsets = new Map<string, SiteOffsets>([
      ['cloud-a', { ends: { 'fed.price.apac': [5, 3], 'fed.price.us': [4, 0] }, heartbeats: {} }],
      ['cloud-b', { ends: { 'cloud-a.fed.price.us': [4, 0] }, heartbeats: { 'cloud-a': now - 1000 } }],
      ['onprem', { ends: { 'cloud-a.fed.price.apac': [2, 3] }, heartbeats: { 'cloud-a': now - 4000 } }],
    ]);
    const lags = flowLags(topology, offsets, now);
    expect(lags).toHaveLength(topology.sites.reduce((n, s) => n + s.flows.length, 0));
    expect(lags.every(isKnownLag)).toBe(true);
    const aToOnprem = lags.find((l) => l.from === 'cloud-a' && l.to === 'onprem');
    expect(aToOnprem).toMatchObject({ records: 3, seconds: 4 });
    expect(aToOnprem && isKnownLag(aToOnprem) && aToOnprem.topics['fed.price.apac']).toBe(3);
    // cloud-b serves us, not apac: apac records pending at cloud-a are not owed to it.
    expect(lags.find((l) => l.from === 'cloud-a' && l.to === 'cloud-b')).toMatchObject({ records: 0, seconds: 0 });
  });

  it('reports records lost to retention on their flow, and not as lag (they will never arrive)', () => {
    const now = Date.parse('2026-11-26T10:00:10Z');
    const offsets = new Map<string, SiteOffsets>([
      ['cloud-a', { ends: { 'fed.price.us': [109, 50] }, heartbeats: {} }],
      [
        'cloud-b',
        { ends: { 'cloud-a.fed.price.us': [8, 45] }, heartbeats: { 'cloud-a': now - 2000 }, retentionLoss: { 'cloud-a': { 'fed.price.us': { '0': 101 } } } },
      ],
      ['onprem', { ends: {}, heartbeats: {} }],
    ]);
    const aToB = flowLags(topology, offsets, now).find((l) => l.from === 'cloud-a' && l.to === 'cloud-b');
    // Partition 0: 109 at the source, 8 copied, 101 lost: nothing pending. Partition 1: 5 pending.
    expect(aToB).toMatchObject({ lostToRetention: 101, records: 5, seconds: 2 });
    expect(flowLags(topology, offsets, now).find((l) => l.from === 'cloud-b' && l.to === 'cloud-a')).toMatchObject({ lostToRetention: 0 });
  });

  it('marks a flow unknown when its source or target did not report', () => {
    const lags = flowLags(topology, new Map([['cloud-a', { ends: {}, heartbeats: {} }]]), 0);
    expect(lags.find((l) => l.from === 'cloud-a' && l.to === 'onprem')).toEqual({
      from: 'cloud-a',
      to: 'onprem',
      unknown: true,
      reason: 'onprem did not answer',
    });
    expect(lags.find((l) => l.from === 'onprem' && l.to === 'cloud-a')).toEqual({
      from: 'onprem',
      to: 'cloud-a',
      unknown: true,
      reason: 'onprem did not answer',
    });
  });
});
