import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  completeEvent,
  EVENT_TYPES,
  eventValues,
  HISTORY_MAX_PRODUCTS,
  type HistoryBody,
  newerFirst,
  type PriceData,
  type ProductEvent,
  PublishInputSchema,
  toKafkaRecord,
} from '../contract/index.ts';
import { isOurProcess, siteDbUrl } from '../deploy/index.ts';
import { createEventGenerator } from '../drills/event-generator.ts';
import { DEAD_LETTER_TOPIC, routedTopic } from '../federation/index.ts';
import { createDistributor } from '../gateway/distributor.ts';
import { dropPostgresSchema } from '../instances/db/database.ts';
import { consumeUntil, createTestFederation, newProducer, TEST_DATABASE_URL, type TestFederation, testTopology } from './support/federation.ts';

const EVENTS = 10_000;
const CHUNK = 500;

/** The read API's credential (set once the federation is up). */
let readApi: Record<string, string> = {};
async function getJson<T = any>(url: string): Promise<T> {
  const res = await fetch(url, { headers: readApi });
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

async function eventually<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number): Promise<T> {
  const started = Date.now();
  let last: T | undefined;
  for (;;) {
    try {
      last = await fn();
      if (ok(last)) return last;
    } catch {
      // the API may be restarting
    }
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not reached in ${timeoutMs} ms; last: ${JSON.stringify(last)?.slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * One site's event system against a real broker, run as its own process by
 * the launcher: with the PostgreSQL server the launcher runs for the site,
 * with PGlite embedded, and with a shared PostgreSQL server (DATABASE_URL).
 */
describe.each([
  { db: 'site-db', octet: 123 },
  { db: 'pglite', octet: 121 },
  { db: 'postgres', octet: 122 },
])('event-system instance on $db', ({ db, octet }) => {
  const topology = testTopology(octet, [{ name: 'solo', regions: ['eu', 'us'], countries: ['DE', 'FR', 'US'] }]);
  const schema = `t_${randomUUID().slice(0, 8)}`;
  const databaseUrl = db === 'postgres' ? TEST_DATABASE_URL : undefined;
  let fed: TestFederation;
  let api: string;
  const figures: Record<string, string | number> = {};

  beforeAll(async () => {
    fed = createTestFederation(`instance-${db}`, topology, {
      databaseUrl,
      embeddedDatabases: db === 'pglite',
      env: { FEDGATE_DB_SCHEMA: schema, LOG_LEVEL: 'warn' },
    });
    await fed.launcher.start('solo', 'broker');
    await fed.launcher.start('solo', 'instance');
    api = `${fed.launcher.instanceUrl('solo')}/v1`;
    readApi = fed.launcher.instanceHeaders('solo');
  });

  afterAll(async () => {
    const pids = fed?.startedPids() ?? [];
    await fed?.stop();
    if (databaseUrl) await dropPostgresSchema(databaseUrl, schema);
    console.log(`instance figures (${db}): ${JSON.stringify(figures, null, 2)}`);
    for (const pid of pids) expect(isOurProcess(pid, fed.runDir)).toBe(false);
  });

  it('distributes 10,000 mixed events to their topics; the monitoring DB has exactly one row per event and stage, across a SIGKILL of the instance', async () => {
    const producer = newProducer(fed.local('solo'));
    await producer.connect();
    const distribute = createDistributor({ producer, topology });
    const gen = createEventGenerator({ topology, products: 300, seed: octet });
    const perTopic = new Map<string, number>();
    const latestPrice = new Map<string, ProductEvent>();
    const base = Date.now();
    const started = Date.now();
    const ledger = new Map<string, ProductEvent>();

    for (let chunk = 0; chunk < EVENTS / CHUNK; chunk++) {
      // Distinct, increasing event times: "last published" is unambiguous.
      const events = Array.from({ length: CHUNK }, (_, i) => {
        const n = chunk * CHUNK + i;
        return completeEvent(PublishInputSchema.parse({ ...gen.next(), time: new Date(base + n).toISOString() }), 'solo');
      });
      const written = await distribute(events);
      for (const { event, route } of written) {
        ledger.set(event.id, event);
        for (const t of route.topics) perTopic.set(t, (perTopic.get(t) ?? 0) + 1);
        if (event.type === EVENT_TYPES.price) latestPrice.set(`${event.subject}|${(event.data as PriceData).region}`, event);
      }
      if (chunk === 7) {
        // Mid-stream crash of the whole instance process (consumers and monitoring consumer).
        expect(await fed.launcher.stop('solo', 'instance', { hard: true })).toBe('killed');
      }
      if (chunk === 13) await fed.launcher.start('solo', 'instance');
    }
    await producer.disconnect();
    figures['publish 10k (s)'] = (Date.now() - started) / 1000;

    // Every event reached each of its topics.
    const admin = fed.local('solo').admin();
    await admin.connect();
    for (const [topic, count] of perTopic) {
      const offsets = await admin.fetchTopicOffsets(topic);
      expect(
        offsets.reduce((s, p) => s + Number(p.high), 0),
        topic,
      ).toBe(count);
    }
    await admin.disconnect();

    const stats = await eventually(
      'all events consumed',
      () => getJson<{ stages: { stage: string; count: number; distinctEvents: number }[] }>(`${api}/stats?windowSeconds=86400&distinct=true`),
      (s) => (s.stages.find((x) => x.stage === 'consumed')?.count ?? 0) >= EVENTS,
      240_000,
    );
    figures['first publish to all 10k consumed rows (s)'] = (Date.now() - started) / 1000;
    figures['monitoring rows/s (end to end, incl. the crash)'] = Math.round(EVENTS / ((Date.now() - started) / 1000));
    // Exactly one row per event and stage: redelivery after the SIGKILL added none.
    const consumed = stats.stages.find((x) => x.stage === 'consumed')!;
    expect(consumed).toMatchObject({ count: EVENTS, distinctEvents: EVENTS });
    expect(stats.stages.map((s) => s.stage)).toEqual(['consumed']);

    // The price book holds the last price published for each product and region.
    const products = new Set([...latestPrice.keys()].map((k) => k.split('|')[0]!));
    for (const productId of products) {
      const state = await getJson<{ prices: { region: string; amountMinor: number; eventId: string }[] }>(`${api}/products/${productId}`);
      for (const p of state.prices) {
        const expected = latestPrice.get(`${productId}|${p.region}`)!;
        expect(p.eventId, `${productId} ${p.region}`).toBe(expected.id);
        expect(p.amountMinor).toBe((expected.data as PriceData).price.minor);
      }
      expect(state.prices.length).toBe([...latestPrice.keys()].filter((k) => k.startsWith(`${productId}|`)).length);
    }

    const lag = await eventually(
      'consumer lag drained',
      () => getJson<{ groups: Record<string, { records: number }> }>(`${api}/lag`),
      (l) => Object.keys(l.groups).length === 5 && Object.values(l.groups).every((g) => g.records === 0),
      60_000,
    );

    // The event store holds every acknowledged event exactly once, with its values (a discount for every
    // region was read from each region's topic; the SIGKILL redelivered some): read back for every product, page by page.
    const stored = new Map<string, number>();
    const allProducts = [...new Set([...ledger.values()].map((e) => e.subject))].sort();
    for (let i = 0; i < allProducts.length; i += HISTORY_MAX_PRODUCTS) {
      let before: string | null = null;
      let previous: { time: number; eventId: string } | null = null;
      do {
        const q = new URLSearchParams({ products: allProducts.slice(i, i + HISTORY_MAX_PRODUCTS).join(','), limit: '500', ...(before ? { before } : {}) });
        const page: HistoryBody = await getJson<HistoryBody>(`${api}/history?${q}`);
        for (const item of page.items) {
          const sent = ledger.get(item.eventId);
          expect(sent, `${item.eventId} was never published`).toBeDefined();
          expect(item.values).toEqual(eventValues(sent!));
          expect(item.event).toEqual(sent);
          expect(item.sourceSite).toBe('solo');
          const key = { time: Date.parse(item.time), eventId: item.eventId };
          if (previous) expect(newerFirst(previous, key), 'newest first').toBeLessThan(0);
          previous = key;
          stored.set(item.eventId, (stored.get(item.eventId) ?? 0) + 1);
        }
        before = page.next;
      } while (before);
    }
    expect([...stored.values()].filter((n) => n !== 1)).toEqual([]);
    expect([...ledger.keys()].filter((id) => !stored.has(id))).toEqual([]);
    expect(stored.size).toBe(EVENTS);
    figures['lag after the burst, once drained'] = JSON.stringify(Object.fromEntries(Object.entries(lag.groups).map(([g, v]) => [g, v.records])));
  });

  it('dead-letters invalid JSON, a wrong schema and NUL characters with a reason, and still processes the events after them', async () => {
    const topic = routedTopic('price', 'eu');
    const good = completeEvent(
      PublishInputSchema.parse({ type: EVENT_TYPES.price, data: { productId: 'sku-poison', region: 'eu', price: { currency: 'EUR', amount: '42.00' } } }),
      'solo',
    );
    const headers = (id: string) => ({ ...toKafkaRecord(good).headers, ce_id: id });
    const producer = newProducer(fed.local('solo'));
    await producer.connect();
    // Same key, so the same partition: the good event waits behind the poison.
    await producer.send({
      topic,
      acks: -1,
      messages: [
        { key: 'sku-poison', value: '{"productId": "sku-poison", not json', headers: headers('poison-json') },
        { key: 'sku-poison', value: JSON.stringify({ productId: 'sku-poison', region: 'eu' }), headers: headers('poison-schema') },
        {
          key: 'sku-poison',
          value: JSON.stringify({ productId: 'sku-poison', region: 'eu\u0000', price: { currency: 'EUR', amount: '1.00' } }),
          headers: headers('poison-nul'),
        },
        { ...toKafkaRecord(good) },
      ],
    });
    await producer.disconnect();

    const dead = await eventually(
      'three dead letters',
      () => getJson<{ items: { eventId: string; detail: { reason: string } }[] }>(`${api}/dead-letters`),
      (d) => ['poison-json', 'poison-schema', 'poison-nul'].every((id) => d.items.some((i) => i.eventId === id)),
      60_000,
    );
    const reason = (id: string) => dead.items.find((i) => i.eventId === id)!.detail.reason;
    expect(reason('poison-json')).toMatch(/not JSON/);
    expect(reason('poison-schema')).toMatch(/data\.price: Required/);
    expect(reason('poison-nul')).toMatch(/NUL/);

    const state = await eventually(
      'the event after the poison',
      () => getJson<{ prices: { region: string; amountMinor: number }[] }>(`${api}/products/sku-poison`),
      (s) => s.prices.length === 1,
      60_000,
    );
    expect(state.prices).toEqual([expect.objectContaining({ region: 'eu', amountMinor: 4200 })]);

    const dlq = await consumeUntil(
      fed.local('solo'),
      DEAD_LETTER_TOPIC,
      (m) => m.headers,
      (s) => s.length >= 6,
      30_000,
    );
    // Each consumer group that reads the topic reports what it could not take: the price book and the event store.
    const byConsumer = (c: string) =>
      dlq
        .filter((h) => h.fedgate_dlq_consumer === c)
        .map((h) => h.fedgate_dlq_event_id)
        .sort();
    expect(byConsumer('price-book')).toEqual(['poison-json', 'poison-nul', 'poison-schema']);
    expect(byConsumer('event-store')).toEqual(['poison-json', 'poison-nul', 'poison-schema']);
    expect(dlq).toHaveLength(6);
    expect(dlq.every((h) => h.fedgate_dlq_reason)).toBe(true);
    // The store kept the good event after the poison, and none of the poison.
    const history = await eventually(
      'the good event stored',
      () => getJson<HistoryBody>(`${api}/history?products=sku-poison`),
      (h) => h.items.length > 0,
      30_000,
    );
    expect(history.items.map((i) => [i.eventId, i.values])).toEqual([[good.id, { kind: 'price', region: 'eu', currency: 'EUR', amount: '42.00' }]]);
  });

  it('serves a product history newest first, paged, and an event trace', async () => {
    const history = await getJson<{ items: { at: string; eventId: string }[]; next: string | null }>(`${api}/products/sku-poison/events?limit=2`);
    expect(history.items).toHaveLength(2);
    expect(history.next).not.toBeNull();
    expect(Date.parse(history.items[0]!.at)).toBeGreaterThanOrEqual(Date.parse(history.items[1]!.at));
    const page2 = await getJson<{ items: { at: string; eventId: string }[] }>(`${api}/products/sku-poison/events?limit=50&before=${history.next}`);
    expect(page2.items.length).toBeGreaterThan(0);
    expect(page2.items.some((i) => history.items.some((h) => h.eventId === i.eventId && h.at === i.at))).toBe(false);

    const consumedId = [...history.items, ...page2.items].find((i) => !i.eventId.startsWith('poison'))!.eventId;
    const trace = await getJson<{ stages: { stage: string; consumer: string; site: string; latencyMs: number }[] }>(`${api}/events/${consumedId}/trace`);
    expect(trace.stages).toEqual([expect.objectContaining({ stage: 'consumed', consumer: 'price-book', site: 'solo' })]);
    expect(trace.stages[0]!.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it.runIf(db === 'site-db')(
    'keeps the site database behind its socket: no TCP listener, the instance a non-superuser owner, a wrong password refused',
    async () => {
      const url = siteDbUrl(fed.certsDir, fed.launcher.layout('solo').dir, 'solo');
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const facts = await client.query(
          "SELECT current_setting('listen_addresses') AS listen, r.rolsuper, d.datname, pg_get_userbyid(d.datdba) AS owner FROM pg_roles r, pg_database d WHERE r.rolname = current_user AND d.datname = current_database()",
        );
        expect(facts.rows).toEqual([{ listen: '', rolsuper: false, datname: 'fedgate', owner: 'fedgate_site' }]);
        // The instance's tables are there, in the site's schema.
        const tables = await client.query('SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = $1', [schema]);
        expect(tables.rows[0].n).toBeGreaterThan(3);
      } finally {
        await client.end();
      }
      const wrong = new URL(url);
      wrong.password = 'not-the-secret';
      const intruder = new pg.Client({ connectionString: wrong.toString() });
      await expect(intruder.connect()).rejects.toThrow(/password authentication failed for user "fedgate_site"/);
      await intruder.end().catch(() => {});
      expect(await fed.launcher.status()).toEqual([
        expect.objectContaining({ database: expect.objectContaining({ managed: true, running: true, ready: true }) }),
      ]);
    },
  );
});
