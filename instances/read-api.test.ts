import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readApiDocument } from '../contract/openapi.ts';
import { type Database, openDatabase } from './db/database.ts';
import { monitoringEvents } from './db/schema.ts';
import { stageStats } from './queries.ts';
import { createReadApi } from './read-api.ts';

/** Route tests: the read API over an in-memory PGlite, no Kafka. */
const SECRET = 'test-secret-of-this-site';
const METRICS_SECRET = 'test-metrics-secret-of-this-site';
const auth = { authorization: `Bearer ${SECRET}` };

describe('site read API routes', () => {
  let database: Database;
  let app: ReturnType<typeof createReadApi>;
  const kafkaView = {
    groups: { 'g.price-book': { records: 3, partitions: 1, byTopic: { 'fed.price.eu': 3 } } },
    offsets: { ends: { 'fed.price.eu': [7] }, heartbeats: {} },
  };

  beforeAll(async () => {
    database = await openDatabase({ dataDir: 'memory://', schemaName: 'unused' });
    const t0 = Date.parse('2026-11-01T10:00:00Z');
    await database.db.insert(monitoringEvents).values([
      { eventId: 'e1', stage: 'published', site: 's', productId: 'sku-1', at: new Date(t0), latencyMs: 0 },
      { eventId: 'e1', stage: 'consumed', site: 's', consumer: 'price-book', productId: 'sku-1', at: new Date(t0 + 20), latencyMs: 20 },
      { eventId: 'e2', stage: 'consumed', site: 's', consumer: 'price-book', productId: 'sku-1', at: new Date(t0 + 50), latencyMs: 10 },
      { eventId: 'd1', stage: 'dead-lettered', site: 's', consumer: 'price-book', at: new Date(t0 + 60), detail: { reason: 'bad' } },
    ]);
    app = createReadApi({
      db: database.db,
      site: 's',
      log: pino({ level: 'silent' }),
      lag: async () => ({}),
      offsets: async () => ({ ends: {}, heartbeats: {} }),
      kafkaView: async () => ({ value: kafkaView, at: Date.parse('2026-11-01T10:00:01Z') }),
      health: async () => ({ db: 'pglite' }),
      secret: SECRET,
      metrics: { secret: METRICS_SECRET, render: async () => ({ contentType: 'text/plain; version=0.0.4', body: 'fedgate_up 1\n' }) },
    });
  });
  afterAll(() => database.close());

  it('mounts exactly the routes of the site read API document', () => {
    const routes = (app as unknown as { routes: { method: string; path: string }[] }).routes
      .filter((r) => r.method !== 'ALL')
      .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:([A-Za-z]+)/g, '{$1}')}`);
    const doc = readApiDocument('s');
    const documented = Object.entries(doc.paths ?? {}).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`));
    expect([...new Set(routes)].sort()).toEqual(documented.sort());
  });

  it('answers /metrics only to the site’s scrape credential, which opens no other route', async () => {
    expect((await app.request('/metrics')).status).toBe(401);
    expect((await app.request('/metrics', { headers: { authorization: `Bearer ${SECRET}` } })).status).toBe(401);
    const ok = await app.request('/metrics', { headers: { authorization: `Bearer ${METRICS_SECRET}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('fedgate_up 1\n');
    expect((await app.request('/v1/lag', { headers: { authorization: `Bearer ${METRICS_SECRET}` } })).status).toBe(401);
  });

  it('pages a product history newest first', async () => {
    const first = await (await app.request('/v1/products/sku-1/events?limit=2', { headers: auth })).json();
    expect(first.items.map((i: { eventId: string; stage: string }) => `${i.eventId}:${i.stage}`)).toEqual(['e2:consumed', 'e1:consumed']);
    const second = await (await app.request(`/v1/products/sku-1/events?limit=2&before=${first.next}`, { headers: auth })).json();
    expect(second.items.map((i: { stage: string }) => i.stage)).toEqual(['published']);
    expect(second.next).toBeNull();
  });

  it('traces an event in time order', async () => {
    const body = await (await app.request('/v1/events/e1/trace', { headers: auth })).json();
    expect(body.stages.map((s: { stage: string }) => s.stage)).toEqual(['published', 'consumed']);
  });

  it('answers the overview with stats read now and the Kafka view with the time it was read', async () => {
    const body = await (await app.request('/v1/overview?windowSeconds=604800', { headers: auth })).json();
    expect(body.groups).toEqual(kafkaView.groups);
    expect(body.offsets).toEqual(kafkaView.offsets);
    expect(body.kafkaReadAt).toBe('2026-11-01T10:00:01.000Z');
    expect(body.stages).toEqual([]); // the seeded rows are older than the longest window
  });

  it('computes per-stage counts and latency percentiles over a window, distinct ids on request', async () => {
    const now = new Date(Date.parse('2026-11-01T10:00:01Z'));
    const stats = await stageStats({ db: database.db, windowSeconds: 60, now, distinct: true });
    expect(stats).toEqual([
      { stage: 'consumed', count: 2, distinctEvents: 2, perSecond: 0.03, p50: 15, p95: 19.5, p99: 19.9 },
      { stage: 'dead-lettered', count: 1, distinctEvents: 1, perSecond: 0.02, p50: null, p95: null, p99: null },
      { stage: 'published', count: 1, distinctEvents: 1, perSecond: 0.02, p50: 0, p95: 0, p99: 0 },
    ]);
    // Outside the window: nothing; without `distinct`: no distinct count.
    expect(await stageStats({ db: database.db, windowSeconds: 1, now: new Date(now.getTime() + 10_000) })).toEqual([]);
    // Without `distinct` the stats come from the rollups: the same figures (these latencies are exact buckets), no distinct count.
    expect(await stageStats({ db: database.db, windowSeconds: 60, now })).toEqual(stats.map((s) => ({ ...s, distinctEvents: null })));
  });

  it('lists dead letters with their reason', async () => {
    const body = await (await app.request('/v1/dead-letters', { headers: auth })).json();
    expect(body.items).toEqual([expect.objectContaining({ eventId: 'd1', detail: { reason: 'bad' } })]);
  });

  it("answers only with this site's credential, except health", async () => {
    const none = await app.request('/v1/overview');
    expect(none.status).toBe(401);
    expect((await none.json()).code).toBe('missing-token');
    const wrong = await app.request('/v1/delivered', {
      method: 'POST',
      body: '{"ids":["e1"]}',
      headers: { 'content-type': 'application/json', authorization: 'Bearer guess' },
    });
    expect(wrong.status).toBe(401);
    expect((await wrong.json()).code).toBe('invalid-token');
    expect((await app.request('/v1/health')).status).toBe(200);
  });

  it('tells which event ids were consumed here', async () => {
    const res = await app.request('/v1/delivered', {
      method: 'POST',
      body: JSON.stringify({ ids: ['e1', 'e2', 'e3', 'd1'] }),
      headers: { 'content-type': 'application/json', ...auth },
    });
    expect((await res.json()).delivered.sort()).toEqual(['e1', 'e2']);
  });

  it('answers bad input with problem+json and a stable code', async () => {
    for (const [path, code, status] of [
      ['/v1/products/bad%20id/events', 'invalid-query', 400],
      ['/v1/products/sku-1/events?limit=0', 'invalid-query', 400],
      ['/v1/products/sku-1/events?before=nonsense', 'invalid-query', 400],
      ['/v1/stats?window=5', 'invalid-query', 400],
      ['/v1/nothing-here', 'not-found', 404],
    ] as const) {
      const res = await app.request(path, { headers: auth });
      expect(res.status, path).toBe(status);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      const body = await res.json();
      expect(body).toMatchObject({ code, status });
      expect(body.requestId).toBeTruthy();
    }
  });
});
