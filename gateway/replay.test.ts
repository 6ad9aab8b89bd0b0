import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Message } from 'kafkajs';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audienceOf, ensureSigningKeys, issuerOf, issueToken, publicJwks } from '../certs/index.ts';
import { completeEvent, EVENT_TYPES, eventValues, type HistoryFilter, type ProductEvent, PublishInputSchema, ReplayRequestSchema } from '../contract/index.ts';
import { parseTopology, REPLAY_JOB_HEADER, REPLAY_TO_HEADER } from '../federation/index.ts';
import { createApp } from './app.ts';
import type { GatewayDeps } from './deps.ts';
import { createReplays, type ReplayDeps, type StoredReplay } from './replay.ts';
import { supersedes } from './replay-record.ts';
import { createVerifier } from './verifier.ts';

/**
 * Replay jobs with an in-memory history (pages of stored events) and an
 * in-memory Kafka that records what was sent; the real run is test/replay.test.ts.
 */
const topology = parseTopology(JSON.parse(readFileSync(new URL('../topology.json', import.meta.url), 'utf8')));
const t0 = Date.parse('2026-12-01T10:00:00Z');
const price = (n: number, region: string) =>
  completeEvent(
    PublishInputSchema.parse({
      type: EVENT_TYPES.price,
      id: `e${n}`,
      time: new Date(t0 - n * 1000).toISOString(),
      data: { productId: `sku-${n % 3}`, region, price: { currency: 'EUR', minor: n } },
    }),
    'cloud-a',
  );

/** Stored events newest first, served in pages like the federated view; `gate` holds each page until released. */
function fakeHistory(events: ProductEvent[], unreachable: string[] = [], gate?: () => Promise<void>): ReplayDeps['history'] {
  return async (_filter: HistoryFilter, limit: number, before?: string) => {
    await gate?.();
    const start = before ? Number(before) : 0;
    const page = events.slice(start, start + limit);
    const next = start + limit < events.length ? String(start + limit) : null;
    const items = page.map((event) => ({
      eventId: event.id,
      productId: event.subject,
      type: event.type,
      time: event.time,
      publishedAt: new Date(event.publishedat).toISOString(),
      sourceSite: 'cloud-a',
      values: eventValues(event),
      event,
      sites: ['cloud-a'],
    }));
    return { items, next, sites: [], partial: unreachable.length > 0, unreachable };
  };
}

describe('replay jobs', () => {
  const log = pino({ level: 'silent' });

  it('re-sends, page by page, only the events the site serves, each naming its job and consumer; reports what it read, sent and skipped', async () => {
    // cloud-b serves us; eu is not its.
    const events = Array.from({ length: 7 }, (_, i) => price(i, i % 2 === 0 ? 'us' : 'eu'));
    const sent: Message[][] = [];
    const replays = createReplays({ site: 'cloud-b', topology, history: fakeHistory(events), send: async (m) => void sent.push(m), log });
    const job = await replays.start(ReplayRequestSchema.parse({ products: ['sku-0', 'sku-1', 'sku-2'], pageSize: 3, consumer: 'price-book' }), 'iss|sub');
    expect(job.state).toBe('running');
    await replays.settled();
    expect(replays.get(job.id)).toMatchObject({ state: 'done', pages: 3, read: 7, sent: 4, skipped: 3, unreachable: [], error: null });
    expect(sent.map((batch) => batch.length)).toEqual([2, 1, 1]);
    const headers = sent.flat().map((m) => m.headers as Record<string, string>);
    expect(headers.map((h) => h.ce_id)).toEqual(['e0', 'e2', 'e4', 'e6']);
    expect(headers.every((h) => h[REPLAY_JOB_HEADER] === job.id && h[REPLAY_TO_HEADER] === 'price-book')).toBe(true);
    expect(replays.list().map((j) => j.id)).toEqual([job.id]);
  });

  it('replays to a delivery subscription only what its filter selects, oldest first across pages, and refuses a subscription the site lacks', async () => {
    const raw = JSON.parse(readFileSync(new URL('../topology.json', import.meta.url), 'utf8'));
    const withSubscriptions = parseTopology({
      ...raw,
      sites: raw.sites.map((s: { name: string }) =>
        s.name === 'cloud-b'
          ? {
              ...s,
              delivery: {
                amqp: { url: 'amqp://127.0.0.1:5672' },
                subscriptions: [
                  { name: 'erp', protocol: 'amqp', exchange: 'pis', queue: 'pis.erp', kinds: ['price'] },
                  { name: 'promo', protocol: 'amqp', exchange: 'pis', queue: 'pis.promo', kinds: ['discount'] },
                ],
              },
            }
          : s,
      ),
    });
    // Newest first in the stores: e0 is the newest. cloud-b serves us, not eu.
    const events = Array.from({ length: 7 }, (_, i) => price(i, i % 2 === 0 ? 'us' : 'eu'));
    const sent: Message[] = [];
    const replays = createReplays({ site: 'cloud-b', topology: withSubscriptions, history: fakeHistory(events), send: async (m) => void sent.push(...m), log });
    const erp = await replays.start(ReplayRequestSchema.parse({ products: ['sku-0', 'sku-1', 'sku-2'], pageSize: 3, consumer: 'subscription:erp' }), 'iss|sub');
    await replays.settled();
    // The cursors first (3 pages), then the pages again from the last: 6 pages read, each event counted once.
    expect(replays.get(erp.id)).toMatchObject({ state: 'done', pages: 6, read: 7, sent: 4, skipped: 3 });
    const headers = sent.map((m) => m.headers as Record<string, string>);
    expect(headers.map((h) => h.ce_id)).toEqual(['e6', 'e4', 'e2', 'e0']);
    expect(headers.every((h) => h[REPLAY_TO_HEADER] === 'subscription:erp' && h[REPLAY_JOB_HEADER] === erp.id)).toBe(true);

    // A subscription of discounts only: nothing of these prices is its.
    const promo = await replays.start(ReplayRequestSchema.parse({ products: ['sku-0'], consumer: 'subscription:promo' }), 'iss|sub');
    await replays.settled();
    expect(replays.get(promo.id)).toMatchObject({ state: 'done', sent: 0, skipped: 7 });
    await expect(replays.start(ReplayRequestSchema.parse({ products: ['sku-0'], consumer: 'subscription:nope' }), 'iss|sub')).rejects.toMatchObject({
      code: 'unknown-subscription',
      message: 'cloud-b has no delivery subscription "nope"; it has subscription:erp, subscription:promo',
    });
    expect(ReplayRequestSchema.safeParse({ products: ['sku-0'], consumer: 'subscription:Bad_Name' }).success).toBe(false);
  });

  it('records a job before it starts, after each page and at its end; a restarted gateway lists finished jobs and resumes a running one from its last page', async () => {
    const events = Array.from({ length: 7 }, (_, i) => price(i, i % 2 === 0 ? 'us' : 'eu'));
    const records: StoredReplay[] = [];
    const first = createReplays({
      site: 'cloud-b',
      topology,
      history: fakeHistory(events),
      send: async () => {},
      save: async (r) => void records.push(r),
      log,
    });
    const job = await first.start(ReplayRequestSchema.parse({ products: ['sku-0'], pageSize: 3, consumer: 'price-book' }), 'iss|sub');
    // Recorded before start() resolved (what the 202 acknowledges).
    expect(records[0]).toMatchObject({ job: { id: job.id, state: 'running', sent: 0 }, resume: { before: null } });
    await first.settled();
    expect(records.map((r) => `${r.job.state} ${r.job.sent} ${JSON.stringify(r.resume)}`)).toEqual([
      'running 0 {"before":null}',
      'running 2 {"before":"3"}',
      'running 3 {"before":"6"}',
      'done 4 {"before":null}',
    ]);

    // A new gateway reads the records back, as the window topic holds them: the last per job.
    const sent: string[] = [];
    const second = createReplays({
      site: 'cloud-b',
      topology,
      history: fakeHistory(events),
      send: async (m) => void sent.push(...m.map((x) => String((x.headers as Record<string, string>).ce_id))),
      log,
    });
    const finished = { ...records[3]!, job: { ...records[3]!.job, id: 'replay-finished-one', startedAt: '2026-12-01T00:00:00.000Z' } };
    expect(second.restore([records[1]!, finished])).toEqual({ listed: 2, resumed: 1 });
    await second.settled();
    // Only the pages after the recorded one: e4 and e6 (e0 and e2 were sent before the stop).
    expect(sent).toEqual(['e4', 'e6']);
    expect(second.get(job.id)).toMatchObject({ state: 'done', resumed: 1, sent: 4, read: 7, pages: 3 });
    expect(second.get('replay-finished-one')).toMatchObject({ state: 'done', resumed: 0 });
    expect(second.list().map((j) => j.id)).toEqual([job.id, 'replay-finished-one']);
  });

  it('resumes a subscription replay at its next page, oldest first; ends one whose subscription is gone; refuses to start one it cannot record', async () => {
    const raw = JSON.parse(readFileSync(new URL('../topology.json', import.meta.url), 'utf8'));
    const withErp = (subscriptions: unknown[]) =>
      parseTopology({
        ...raw,
        sites: raw.sites.map((s: { name: string }) =>
          s.name === 'cloud-b' ? { ...s, delivery: { amqp: { url: 'amqp://127.0.0.1:5672' }, subscriptions } } : s,
        ),
      });
    const erp = withErp([{ name: 'erp', protocol: 'amqp', exchange: 'pis', queue: 'pis.erp', kinds: ['price'] }]);
    const events = Array.from({ length: 7 }, (_, i) => price(i, i % 2 === 0 ? 'us' : 'eu'));
    const records: StoredReplay[] = [];
    const first = createReplays({
      site: 'cloud-b',
      topology: erp,
      history: fakeHistory(events),
      send: async () => {},
      save: async (r) => void records.push(r),
      log,
    });
    const job = await first.start(ReplayRequestSchema.parse({ products: ['sku-0'], pageSize: 3, consumer: 'subscription:erp' }), 'iss|sub');
    await first.settled();
    expect(records.map((r) => JSON.stringify(r.resume))).toEqual([
      '{"starts":null,"index":-1}',
      '{"starts":[null,"3","6"],"index":2}',
      '{"starts":[null,"3","6"],"index":1}',
      '{"starts":[null,"3","6"],"index":0}',
      '{"before":null}',
    ]);
    // Stopped after the oldest page (e6) was sent: the next gateway sends the two newer pages, each oldest first.
    const afterOldest = records[2]!;
    const sent: string[] = [];
    const second = createReplays({
      site: 'cloud-b',
      topology: erp,
      history: fakeHistory(events),
      send: async (m) => void sent.push(...m.map((x) => String((x.headers as Record<string, string>).ce_id))),
      log,
    });
    second.restore([afterOldest]);
    await second.settled();
    expect(sent).toEqual(['e4', 'e2', 'e0']);
    expect(second.get(job.id)).toMatchObject({ state: 'done', resumed: 1, sent: 4 });

    // The subscription was removed from the topology before the restart: the job ends and says why.
    // This gateway has a window: what it saves comes back to it (observe), and tick takes the job it ran before.
    const saved: StoredReplay[] = [];
    const third = createReplays({
      site: 'cloud-b',
      topology: withErp([]),
      history: fakeHistory(events),
      send: async () => {},
      save: async (r) => {
        saved.push(r);
        third.observe(r);
      },
      log,
    });
    expect(third.restore([afterOldest])).toEqual({ listed: 1, resumed: 0 });
    expect(await third.tick()).toEqual([]);
    await third.settled();
    expect(third.get(job.id)).toMatchObject({ state: 'failed', error: expect.stringContaining('has no delivery subscription "erp"') });
    expect(saved.at(-1)?.job.state).toBe('failed');

    // A job Kafka does not record is not started: nothing sent, nothing listed, 503 kafka-unavailable.
    const nothing: Message[] = [];
    const unrecorded = createReplays({
      site: 'cloud-b',
      topology,
      history: fakeHistory(events),
      send: async (m) => void nothing.push(...m),
      save: async () => {
        throw new Error('not enough replicas');
      },
      log,
    });
    await expect(unrecorded.start(ReplayRequestSchema.parse({ products: ['sku-0'] }), 'iss|sub')).rejects.toMatchObject({ code: 'kafka-unavailable' });
    await unrecorded.settled();
    expect(nothing).toEqual([]);
    expect(unrecorded.list()).toEqual([]);
  });

  it('names the sites that did not answer, and fails with the reason when the site’s Kafka refuses', async () => {
    const events = [price(0, 'us')];
    const partial = createReplays({ site: 'cloud-b', topology, history: fakeHistory(events, ['onprem']), send: async () => {}, log });
    const a = await partial.start(ReplayRequestSchema.parse({ from: '2026-12-01T00:00:00Z' }), 'iss|sub');
    await partial.settled();
    expect(partial.get(a.id)).toMatchObject({ state: 'done', sent: 1, unreachable: ['onprem'] });

    const refusing = createReplays({
      site: 'cloud-b',
      topology,
      history: fakeHistory(events),
      send: async () => {
        throw new Error('broker down');
      },
      log,
    });
    const b = await refusing.start(ReplayRequestSchema.parse({ products: ['sku-0'] }), 'iss|sub');
    await refusing.settled();
    expect(refusing.get(b.id)).toMatchObject({ state: 'failed', sent: 0, error: 'broker down' });
    expect(refusing.get(b.id).finishedAt).not.toBeNull();
  });

  it('stops between pages when cancelled; what it sent stays sent, and a finished job cannot be cancelled', async () => {
    const events = Array.from({ length: 10 }, (_, i) => price(i, 'us'));
    let release!: () => void;
    let pagesAsked = 0;
    const gate = () => {
      pagesAsked++;
      return pagesAsked <= 2 ? Promise.resolve() : new Promise<void>((r) => (release = r));
    };
    const sent: Message[] = [];
    const replays = createReplays({ site: 'cloud-b', topology, history: fakeHistory(events, [], gate), send: async (m) => void sent.push(...m), log });
    const job = await replays.start(ReplayRequestSchema.parse({ products: ['sku-0'], pageSize: 2 }), 'iss|sub');
    while (pagesAsked < 3) await new Promise((r) => setTimeout(r, 5));
    const cancelling = replays.cancel(job.id);
    release();
    const cancelled = await cancelling;
    expect(cancelled).toMatchObject({ state: 'cancelled', pages: 3, sent: 6 });
    expect(sent).toHaveLength(6);
    await expect(replays.cancel(job.id)).rejects.toMatchObject({ code: 'replay-finished' });
    expect(() => replays.get('replay-none')).toThrow(expect.objectContaining({ code: 'not-found' }));
  });
});

/**
 * The site's window topic as several gateways see it: one ordered log, each
 * record delivered to every gateway in the same order (each one's reader
 * follows the topic). A write lands a turn of the event loop later, so two
 * claims made at once are both written, one after the other.
 */
function fakeWindow() {
  const records: StoredReplay[] = [];
  const readers: Array<(r: StoredReplay) => void> = [];
  return {
    records,
    save: async (r: StoredReplay) => {
      await new Promise((resolve) => setImmediate(resolve));
      records.push(structuredClone(r));
      for (const read of readers) read(structuredClone(r));
    },
    follow(replays: { observe(r: StoredReplay): void }) {
      readers.push((r) => replays.observe(r));
      for (const r of records) replays.observe(structuredClone(r));
    },
  };
}

/** Page reads pass while `hold` is unset and before read number `holdAt`; the others wait for `open`. */
function valve() {
  let waiting: Array<() => void> = [];
  let asked = 0;
  const v = {
    hold: false,
    holdAt: Number.POSITIVE_INFINITY,
    get asked() {
      return asked;
    },
    gate: async () => {
      const n = ++asked;
      while (v.hold || n >= v.holdAt) await new Promise<void>((r) => waiting.push(r));
    },
    open() {
      v.hold = false;
      v.holdAt = Number.POSITIVE_INFINITY;
      for (const r of waiting) r();
      waiting = [];
    },
  };
  return v;
}

describe('replay jobs with several gateways per site', () => {
  const log = pino({ level: 'silent' });
  const events = Array.from({ length: 9 }, (_, i) => price(i, 'us'));
  const request = ReplayRequestSchema.parse({ products: ['sku-0', 'sku-1', 'sku-2'], pageSize: 3, consumer: 'price-book' });
  const until = async (what: () => boolean) => {
    for (let i = 0; i < 400 && !what(); i++) await new Promise((r) => setTimeout(r, 5));
    expect(what()).toBe(true);
  };

  function gatewayOf(name: string, window: ReturnType<typeof fakeWindow>, clock: { t: number }, gate?: () => Promise<void>) {
    const sent: string[] = [];
    const replays = createReplays({
      site: 'cloud-b',
      topology,
      history: fakeHistory(events, [], gate),
      send: async (m) => void sent.push(...m.map((x) => String((x.headers as Record<string, string>).ce_id))),
      save: window.save,
      gateway: name,
      leaseMs: 30_000,
      now: () => clock.t,
      log,
    });
    window.follow(replays);
    return { replays, sent };
  }

  /** Gateways of one site over one window and one clock; the first reads its pages through the valve. */
  function siteWith<Names extends string[]>(...names: Names) {
    const window = fakeWindow();
    const clock = { t: 0 };
    const v = valve();
    const gateways = names.map((name, i) => gatewayOf(name, window, clock, i === 0 ? v.gate : undefined)) as {
      [K in keyof Names]: ReturnType<typeof gatewayOf>;
    };
    return { window, clock, v, gateways };
  }

  it('agrees on the owner in the topic’s order: a higher epoch wins, a second claim of an epoch and a taken-over owner’s records do not', () => {
    const job = { id: 'replay-x', startedAt: '2026-12-01T00:00:00.000Z' } as StoredReplay['job'];
    const at = (gateway: string, epoch: number, released?: boolean): StoredReplay => ({
      job,
      resume: { before: null },
      owner: { gateway, epoch, ...(released ? { released } : {}) },
    });
    expect(supersedes(undefined, at('a', 1))).toBe(true);
    expect(supersedes(at('a', 1), at('a', 1))).toBe(true); // its owner's progress
    expect(supersedes(at('a', 1), at('a', 1, true))).toBe(true); // released by its owner
    expect(supersedes(at('a', 1), at('b', 2))).toBe(true); // taken over
    expect(supersedes(at('b', 2), at('c', 2))).toBe(false); // the second claim of epoch 2
    expect(supersedes(at('b', 2), at('a', 1))).toBe(false); // the old owner, too late
    expect(supersedes({ job, resume: { before: null } }, at('b', 1))).toBe(true); // a record from before owners
  });

  it('runs a job at the gateway that started it while it writes; the others list it with its progress and do not run it', async () => {
    const {
      clock,
      v,
      gateways: [a, b],
    } = siteWith('a', 'b');
    v.hold = true;
    const job = await a.replays.start(request, 'iss|sub');
    await until(() => v.asked === 1);
    expect(b.replays.get(job.id)).toMatchObject({ state: 'running', sent: 0 });
    // Past the lease in all, but the owner wrote every third of it: nobody takes it.
    for (let i = 0; i < 6; i++) {
      clock.t += 10_000;
      await a.replays.tick();
      expect(await b.replays.tick()).toEqual([]);
    }
    v.open();
    await a.replays.settled();
    await until(() => b.replays.get(job.id).state === 'done');
    expect(b.replays.get(job.id)).toMatchObject({ state: 'done', sent: 9, resumed: 0 });
    expect(b.replays.list().map((j) => j.id)).toEqual([job.id]);
    expect(a.sent).toHaveLength(9);
    expect(b.sent).toEqual([]);
  });

  it('takes over a job whose owner stopped writing, after the lease, at exactly one gateway, from its last recorded page; the old owner stops', async () => {
    const {
      window,
      clock,
      v,
      gateways: [a, b, c],
    } = siteWith('a', 'b', 'c');
    // a sends the first page, records where to go on, then hangs on the second (a stalled or dead process).
    v.holdAt = 2;
    const job = await a.replays.start(request, 'iss|sub');
    await until(() => v.asked === 2);
    expect(a.sent).toEqual(['e0', 'e1', 'e2']);
    clock.t += 29_000;
    expect([await b.replays.tick(), await c.replays.tick()]).toEqual([[], []]);
    clock.t += 1_000;
    // Both claim at once: the window orders the claims, and the first one's gateway runs it.
    const [byB, byC] = await Promise.all([b.replays.tick(), c.replays.tick()]);
    expect([...byB, ...byC]).toEqual([job.id]);
    const winner = byB.length > 0 ? b : c;
    await winner.replays.settled();
    expect(winner.sent).toEqual(['e3', 'e4', 'e5', 'e6', 'e7', 'e8']);
    expect(winner.replays.get(job.id)).toMatchObject({ state: 'done', resumed: 1, sent: 9 });
    // The old owner wakes up: it sends the page it was on (the receiver applies it once), then sees the takeover and stops.
    v.open();
    await a.replays.settled();
    expect(a.sent).toEqual(['e0', 'e1', 'e2', 'e3', 'e4', 'e5']);
    const claimAt = window.records.findIndex((r) => r.owner?.epoch === 2);
    expect(window.records.slice(claimAt).filter((r) => r.owner?.gateway === 'a')).toHaveLength(0);
    for (const g of [a, b, c]) expect(g.replays.get(job.id)).toMatchObject({ state: 'done', sent: 9 });
  });

  it('releases its jobs at a drain, after the page in flight; another gateway goes on at once', async () => {
    const {
      window,
      v,
      gateways: [a, b],
    } = siteWith('a', 'b');
    v.hold = true;
    const job = await a.replays.start(request, 'iss|sub');
    await until(() => v.asked === 1);
    const draining = a.replays.release();
    v.open();
    await draining;
    expect(window.records.at(-1)?.owner).toEqual({ gateway: 'a', epoch: 1, released: true });
    expect(await b.replays.tick()).toEqual([job.id]);
    await b.replays.settled();
    expect(a.sent).toEqual(['e0', 'e1', 'e2']);
    expect(b.sent).toEqual(['e3', 'e4', 'e5', 'e6', 'e7', 'e8']);
    expect(b.replays.get(job.id)).toMatchObject({ state: 'done', sent: 9, resumed: 1 });
  });

  it('cancels at a gateway that does not run the job: the cancel takes it over, ended, and its runner stops after the page in flight', async () => {
    const {
      v,
      gateways: [a, b],
    } = siteWith('a', 'b');
    v.hold = true;
    const job = await a.replays.start(request, 'iss|sub');
    await until(() => v.asked === 1);
    expect(await b.replays.cancel(job.id)).toMatchObject({ state: 'cancelled' });
    v.open();
    await a.replays.settled();
    expect(a.sent).toEqual(['e0', 'e1', 'e2']);
    for (const g of [a, b]) expect(g.replays.get(job.id).state).toBe('cancelled');
    await expect(a.replays.cancel(job.id)).rejects.toMatchObject({ code: 'replay-finished' });
  });
});

describe('replay routes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedgate-keys-'));
  let app: ReturnType<typeof createApp>;
  const sent: Message[] = [];
  beforeAll(async () => {
    for (const s of topology.sites) await ensureSigningKeys(dir, s.name);
    const log = pino({ level: 'silent' });
    const deps = {
      topology,
      site: 'cloud-b',
      log,
      verify: createVerifier({
        audience: audienceOf(topology),
        issuers: new Map(topology.sites.map((s) => [issuerOf(s.name), () => publicJwks(dir, s.name)])),
      }),
      metrics: { rejected() {}, response() {} },
      limits: { maxBodyBytes: 4096, maxBatchEvents: 10, liveStreamsPerClient: 2 },
      replays: createReplays({ site: 'cloud-b', topology, history: fakeHistory([price(0, 'us')]), send: async (m) => void sent.push(...m), log }),
    } as unknown as GatewayDeps;
    app = createApp(deps);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const token = (scopes: string[], site = 'cloud-a') => issueToken({ secretsDir: dir, topology, site, scopes, ttlSeconds: 60 });
  const call = async (path: string, init: RequestInit & { scopes?: string[] } = {}) =>
    app.request(path, {
      ...init,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await token(init.scopes ?? ['replay:events'])}`, ...(init.headers ?? {}) },
    });

  it('starts a replay with a token of any site holding replay:events, follows it, and refuses what it cannot take with a problem code', async () => {
    const res = await call('/v1/replays', { method: 'POST', body: JSON.stringify({ products: ['sku-0'] }) });
    expect(res.status).toBe(202);
    const job = (await res.json()) as { id: string; state: string; requestedBy: string };
    expect(res.headers.get('location')).toBe(`/v1/replays/${job.id}`);
    expect(job.requestedBy).toMatch(/^urn:fedgate:site:cloud-a\|/);
    await new Promise((r) => setTimeout(r, 50));
    expect(await (await call(`/v1/replays/${job.id}`)).json()).toMatchObject({ id: job.id, state: 'done', sent: 1 });
    expect(((await (await call('/v1/replays')).json()) as { jobs: unknown[] }).jobs).toHaveLength(1);
    expect(sent).toHaveLength(1);

    const problem = async (res: Response, status: number, code: string) => {
      expect(res.status).toBe(status);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(await res.json()).toMatchObject({ code });
    };
    await problem(await app.request('/v1/replays', { method: 'POST', body: '{}' }), 401, 'missing-token');
    await problem(
      await call('/v1/replays', { method: 'POST', body: JSON.stringify({ products: ['sku-0'] }), scopes: ['read:federation'] }),
      403,
      'insufficient-scope',
    );
    await problem(await call('/v1/replays', { method: 'POST', body: '{}' }), 400, 'invalid-query');
    await problem(await call('/v1/replays', { method: 'POST', body: JSON.stringify({ products: ['sku-0'], consumer: 'nobody' }) }), 400, 'invalid-query');
    await problem(
      await call('/v1/replays', { method: 'POST', body: JSON.stringify({ from: '2026-12-02T00:00:00Z', to: '2026-12-01T00:00:00Z' }) }),
      400,
      'invalid-query',
    );
    await problem(await call('/v1/replays', { method: 'POST', body: '{not json' }), 400, 'invalid-json');
    await problem(await call('/v1/replays', { method: 'POST', body: '{}', headers: { 'content-type': 'text/plain' } }), 415, 'unsupported-media-type');
    await problem(
      await call('/v1/replays', { method: 'POST', body: JSON.stringify({ products: ['sku-0'], consumer: 'subscription:erp' }) }),
      422,
      'unknown-subscription',
    );
    await problem(await call('/v1/replays/replay-none'), 404, 'not-found');
    await problem(await call(`/v1/replays/${job.id}`, { method: 'DELETE' }), 409, 'replay-finished');
  });
});
