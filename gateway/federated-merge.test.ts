import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeHistoryCursor, type HistoryBody, type StageRow } from '../contract/index.ts';
import { parseTopology } from '../federation/index.ts';
import { fanOutOf, mergeHealth, mergeHistory, mergeNewestFirst, mergeRecent, mergeStats, mergeTrace, type SiteAnswer } from './federated-merge.ts';

const row = (eventId: string, stage: string, site: string, at: string): StageRow => ({
  eventId,
  stage,
  site,
  consumer: '',
  productId: 'sku-1',
  eventType: null,
  sourceSite: null,
  topic: null,
  partition: null,
  offset: null,
  at,
  latencyMs: null,
  detail: null,
});
const ok = <T>(site: string, body: T): SiteAnswer<T> => ({ site, reachable: true, ms: 3, body });
const down = (site: string): SiteAnswer<never> => ({ site, reachable: false, ms: 1500, error: 'no answer within 1500 ms' });

type StoredItem = HistoryBody['items'][number];
const stored = (eventId: string, time: string, sourceSite: string, topic: string): StoredItem => ({
  eventId,
  productId: 'sku-1',
  type: 'com.fedgate.pim.price.updated',
  time,
  publishedAt: time,
  sourceSite,
  topic,
  values: { kind: 'price', region: 'eu-west', currency: 'EUR', amount: '1.00' },
  event: {} as StoredItem['event'],
});

describe('federated merges', () => {
  it('history: each event once with every site that holds it, newest first, a page and a cursor while any site has more', () => {
    const f = fanOutOf<HistoryBody>([
      ok('a', {
        site: 'a',
        items: [stored('e3', '2026-12-01T10:03:00Z', 'a', 'fed.price.eu-west'), stored('e1', '2026-12-01T10:01:00Z', 'a', 'fed.price.eu-west')],
        next: null,
      }),
      ok('b', {
        site: 'b',
        items: [
          stored('e4', '2026-12-01T10:04:00.000+00:00', 'b', 'fed.price.eu-west'),
          stored('e3', '2026-12-01T10:03:00Z', 'a', 'a.fed.price.eu-west'),
          stored('e2', '2026-12-01T10:01:00Z', 'b', 'fed.price.eu-west'),
        ],
        next: 'more-at-b',
      }),
      down('c'),
    ]);
    const page = mergeHistory(f, 3);
    // e2 and e1 share a time: the greater id first.
    expect(page.items.map((i) => [i.eventId, i.sites])).toEqual([
      ['e4', ['b']],
      ['e3', ['a', 'b']],
      ['e2', ['b']],
    ]);
    expect(page.items[0]).not.toHaveProperty('topic');
    expect(decodeHistoryCursor(page.next!)).toEqual({ time: Date.parse('2026-12-01T10:01:00Z'), eventId: 'e2' });
    expect(page).toMatchObject({ partial: true, unreachable: ['c'] });
    // The last page: nobody has more and nothing was cut.
    const last = mergeHistory(fanOutOf<HistoryBody>([ok('a', { site: 'a', items: [stored('e1', '2026-12-01T10:01:00Z', 'a', 't')], next: null })]), 3);
    expect(last.next).toBeNull();
    expect(mergeHistory(fanOutOf<HistoryBody>([ok('a', { site: 'a', items: [], next: null })]), 3)).toMatchObject({ items: [], next: null });
  });

  it('trace: every site’s stages in time order, each with its delay after the publish, and the sites that did not answer', () => {
    const f = fanOutOf([
      ok('b', { stages: [row('e', 'consumed', 'b', '2026-11-26T10:00:00.090Z'), row('e', 'replicated', 'b', '2026-11-26T10:00:00.040Z')] }),
      ok('a', { stages: [row('e', 'published', 'a', '2026-11-26T10:00:00.000Z')] }),
      down('c'),
    ]);
    const t = mergeTrace('e', f);
    expect(t.stages.map((s) => [s.stage, s.sincePublishMs])).toEqual([
      ['published', 0],
      ['replicated', 40],
      ['consumed', 90],
    ]);
    expect(t.publishedAt).toBe('a');
    expect(t).toMatchObject({ partial: true, unreachable: ['c'] });
    expect(t.sites.find((s) => s.site === 'c')).toMatchObject({ reachable: false, error: 'no answer within 1500 ms' });
  });

  it('trace: without a published stage (its site did not answer) the delays are unknown, not made up', () => {
    const t = mergeTrace('e', fanOutOf([ok('b', { stages: [row('e', 'consumed', 'b', '2026-11-26T10:00:00.090Z')] }), down('a')]));
    expect(t.publishedAt).toBeNull();
    expect(t.stages[0]!.sincePublishMs).toBeNull();
  });

  it('rows: newest first across sites, cut to the limit', () => {
    const f = fanOutOf([
      ok('a', { items: [row('1', 'consumed', 'a', '2026-11-26T10:00:03Z'), row('2', 'consumed', 'a', '2026-11-26T10:00:01Z')] }),
      ok('b', { items: [row('3', 'consumed', 'b', '2026-11-26T10:00:02Z')] }),
    ]);
    expect(mergeNewestFirst(f, 2).items.map((r) => r.eventId)).toEqual(['1', '3']);
    expect(mergeNewestFirst(f, 2).partial).toBe(false);
  });

  it('stats: a flow whose source or target did not answer has unknown lag, with the reason', () => {
    const topology = parseTopology(JSON.parse(readFileSync(new URL('../topology.json', import.meta.url), 'utf8')));
    const offsets = { ends: {}, heartbeats: {} };
    const sub = (name: string, retrying: number) => ({
      name: `webhook:${name}`,
      protocol: 'webhook' as const,
      group: `fedgate.cloud-a.delivery.${name}`,
      delivered: 5,
      deadLettered: 0,
      retrying,
      lastError: null,
      lastErrorAt: null,
      lastDeliveredAt: null,
    });
    const lag = (records: number) => ({ records, partitions: 1, byTopic: {} });
    const overview = {
      stages: [],
      groups: { g: lag(7), 'fedgate.cloud-a.delivery.erp': lag(3), 'fedgate.cloud-a.delivery.crm': lag(0), 'fedgate.cloud-a.delivery.ops': lag(0) },
      subscriptions: [sub('erp', 0), sub('crm', 0), sub('ops', 1)],
      offsets,
      kafkaReadAt: '2026-11-26T10:00:00.000Z',
    };
    const s = mergeStats(topology, 60, fanOutOf([ok('cloud-a', overview), ok('cloud-b', overview), down('onprem')]), Date.parse('2026-11-26T10:00:01Z'));
    // Subscriptions report their own lag and state; the site's consumer lag is its effect consumers'.
    expect(s.sites.find((x) => x.site === 'cloud-a')).toMatchObject({ reachable: true, consumerLag: { g: 7 } });
    expect(Object.keys(s.sites.find((x) => x.site === 'cloud-a')!.consumerLag!)).toEqual(['g']);
    expect(s.sites.find((x) => x.site === 'cloud-a')!.subscriptions!.map((x) => [x.name, x.lagRecords, x.state])).toEqual([
      ['webhook:erp', 3, 'catching up'],
      ['webhook:crm', 0, 'up to date'],
      ['webhook:ops', 0, 'retrying'],
    ]);
    expect(s.sites.find((x) => x.site === 'onprem')).toMatchObject({ reachable: false, stages: null, consumerLag: null });
    const intoOnprem = s.links.filter((l) => l.to === 'onprem');
    expect(intoOnprem.length).toBeGreaterThan(0);
    for (const l of intoOnprem) expect(l).toMatchObject({ unknown: true, reason: 'onprem did not answer' });
    expect(s.links.find((l) => l.from === 'cloud-a' && l.to === 'cloud-b')).toMatchObject({ records: 0, seconds: 0 });
  });

  it('health: each site’s answer or its error', () => {
    const h = mergeHealth(fanOutOf([ok('a', { db: 'pglite' }), down('b')]));
    expect(h.sites).toEqual([
      { site: 'a', reachable: true, ms: 3, health: { db: 'pglite' } },
      { site: 'b', reachable: false, ms: 1500, error: 'no answer within 1500 ms' },
    ]);
  });

  it('live flow: new rows oldest first; a site that did not answer keeps its cursor', () => {
    const f = fanOutOf([
      ok('a', { items: [{ ...row('2', 'consumed', 'a', '2026-11-26T10:00:02Z'), id: 12 }], last: 12 }),
      ok('b', { items: [{ ...row('1', 'consumed', 'b', '2026-11-26T10:00:01Z'), id: 7 }], last: 7 }),
      down('c'),
    ]);
    const r = mergeRecent({ a: 10, b: 5, c: 99 }, f);
    expect(r.items.map((i) => i.eventId)).toEqual(['1', '2']);
    expect(r.cursors).toEqual({ a: 12, b: 7, c: 99 });
    expect(r.unreachable).toEqual(['c']);
  });
});
