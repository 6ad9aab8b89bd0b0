import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issuerOf, issueToken } from '../certs/index.ts';
import { isOurProcess } from '../deploy/index.ts';
import { remoteTopic, routedTopic } from '../federation/index.ts';
import { TEST_ENV } from './support/env.ts';
import { createTestFederation, REPO, type TestFederation, testTopology, topicsOf } from './support/federation.ts';
import { CHROMIUM_ARGS, findChromium } from './support/prerequisites.ts';

/**
 * Three real sites: brokers, MM2 over mTLS, instances and gateways, all
 * started by the project's launcher. a serves eu, b serves us, c serves apac:
 * an APAC price published at a is routed to c only.
 */
const topology = testTopology(131, [
  { name: 'a', regions: ['eu'], countries: ['DE'] },
  { name: 'b', regions: ['us'], countries: ['US'] },
  { name: 'c', regions: ['apac'], countries: ['JP'] },
]);
const apacPrice = (id: string) => ({
  type: 'com.fedgate.pim.price.updated',
  id,
  data: { productId: 'sku-e2e', region: 'apac', price: { currency: 'JPY', amount: '1500' } },
});

describe('federation gateway on three real sites', () => {
  let fed: TestFederation;
  const url = (site: string) => fed.launcher.gatewayUrl(site);
  const token = (site: string, scopes = ['publish:price']) => issueToken({ secretsDir: fed.certsDir, topology, site, scopes, ttlSeconds: 600 });
  const publish = async (site: string, body: unknown, auth?: string) =>
    fetch(`${url(site)}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
      body: JSON.stringify(body),
    });
  /** A token with the read scope for the federated view, or the site read API's credential for an instance URL. */
  const getJson = async (u: string) => {
    const instance = topology.sites.find((s) => u.startsWith(fed.launcher.instanceUrl(s.name)));
    const headers = instance ? fed.launcher.instanceHeaders(instance.name) : { authorization: `Bearer ${await token('a', ['read:federation'])}` };
    return (await fetch(u, { headers })).json() as Promise<any>;
  };
  async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number): Promise<T> {
    const started = Date.now();
    for (;;) {
      const v = await fn().catch(() => undefined as T);
      if (v !== undefined && ok(v)) return v;
      if (Date.now() - started > timeoutMs) throw new Error(`not reached in ${timeoutMs} ms: ${JSON.stringify(v)?.slice(0, 400)}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }
  /** How many records of `topic` at `site` carry event id `id`, reading the whole topic to its current end. */
  async function recordsWithId(site: string, topic: string, id: string): Promise<number> {
    return (await idsIn(site, topic)).get(id) ?? 0;
  }

  /** Every event id in `topic` at `site`, with how many records carry it, reading the whole topic to its current end. */
  async function idsIn(site: string, topic: string): Promise<Map<string, number>> {
    const admin = fed.local(site).admin();
    await admin.connect();
    const ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]));
    await admin.disconnect();
    const remaining = new Set([...ends].filter(([, high]) => high > 0).map(([p]) => p));
    const ids = new Map<string, number>();
    const consumer = fed.local(site).consumer({ groupId: `test-${randomUUID()}` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${topic} at ${site} not read to its end in 20 s`)), 20_000);
      if (remaining.size === 0) {
        clearTimeout(timer);
        resolve();
      }
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          const id = message.headers?.ce_id?.toString() ?? '';
          ids.set(id, (ids.get(id) ?? 0) + 1);
          if (Number(message.offset) + 1 >= (ends.get(partition) ?? 0)) remaining.delete(partition);
          if (remaining.size === 0) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
    await consumer.disconnect();
    return ids;
  }

  beforeAll(async () => {
    fed = createTestFederation('gateway', topology, { env: { LOG_LEVEL: 'warn', PEER_DEADLINE_MS: '1500' } });
    await fed.launcher.up();
  });

  afterAll(async () => {
    const pids = fed?.startedPids() ?? [];
    await fed?.stop();
    for (const pid of pids) expect(isOurProcess(pid, fed.runDir)).toBe(false);
  });

  it('routes an event published at a only to c: in c’s monitoring DB, in the federated trace asked at b, never in any topic at b', async () => {
    const id = `e2e-${randomUUID()}`;
    const res = await publish('a', apacPrice(id), await token('a'));
    expect(res.status).toBe(202);
    expect((await res.json()).events).toEqual([{ id, type: 'com.fedgate.pim.price.updated', routedTo: ['c'], writtenAt: 'a' }]);

    // c's own monitoring DB, through c's read API.
    const atC = await eventually(
      () => getJson(`${fed.launcher.instanceUrl('c')}/v1/events/${id}/trace`),
      (t) => t.stages.some((s: any) => s.stage === 'consumed'),
      60_000,
    );
    expect(atC.stages.map((s: any) => s.stage)).toEqual(['replicated', 'consumed']);

    // The federated trace, asked at b, spans a and c.
    const trace = await eventually(
      () => getJson(`${url('b')}/v1/federation/events/${id}/trace`),
      (t) => t.stages.length >= 4,
      30_000,
    );
    expect(trace.partial).toBe(false);
    expect(trace.stages.map((s: any) => `${s.site}:${s.stage}`)).toEqual(['a:published', 'a:routed', 'c:replicated', 'c:consumed']);
    expect(trace.stages.every((s: any) => s.sincePublishMs >= 0)).toBe(true);

    // Nothing about it at b: no copy of the topic, and no record anywhere carries its id.
    const topicsAtB = await topicsOf(fed.local('b'));
    expect(topicsAtB).not.toContain(remoteTopic('a', routedTopic('price', 'apac')));
    const consumer = fed.local('b').consumer({ groupId: `test-${randomUUID()}` });
    const scanned = topicsAtB.filter((t) => !t.startsWith('__') && !t.startsWith('mm2-'));
    let records = 0;
    let mentions = 0;
    await consumer.connect();
    await consumer.subscribe({ topics: scanned, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        records++;
        const text = `${message.value?.toString() ?? ''}${JSON.stringify(message.headers ?? {}, (_k, v) => (v?.type === 'Buffer' ? Buffer.from(v.data).toString() : v))}`;
        if (text.includes(id)) mentions++;
      },
    });
    await new Promise((r) => setTimeout(r, 8000));
    await consumer.disconnect();
    expect(records).toBeGreaterThan(0); // the scan did read b's topics (heartbeats at least)
    expect(mentions).toBe(0);
  });

  it('refuses a missing token and a token of one site signed by another, and writes nothing', async () => {
    const admin = fed.local('a').admin();
    await admin.connect();
    // The only topic the refused events would have gone to.
    const apac = routedTopic('price', 'apac');
    const before = (await admin.fetchTopicOffsets(apac)).reduce((s, p) => s + Number(p.high), 0);
    const missing = await publish('a', apacPrice(`no-token-${randomUUID()}`));
    expect(missing.status).toBe(401);
    expect((await missing.json()).code).toBe('missing-token');
    // b's real key, a's issuer claimed: refused at a (and would be at any site).
    const forged = (await token('b')).split('.');
    const claims = JSON.parse(Buffer.from(forged[1]!, 'base64url').toString());
    const tampered = [forged[0], Buffer.from(JSON.stringify({ ...claims, iss: 'urn:fedgate:site:a' })).toString('base64url'), forged[2]].join('.');
    const bad = await publish('a', apacPrice(`forged-${randomUUID()}`), tampered);
    expect(bad.status).toBe(401);
    await new Promise((r) => setTimeout(r, 1000));
    expect((await admin.fetchTopicOffsets(apac)).reduce((s, p) => s + Number(p.high), 0)).toBe(before);
    await admin.disconnect();
  });

  it('shows no data on the dashboard without a token; signed in, an event published during the test, live (headless Chromium)', async () => {
    const executablePath = findChromium(TEST_ENV);
    expect(executablePath, 'no Chromium: the preflight of npm test names how to install one').not.toBeNull();
    const browser = await chromium.launch({ executablePath: executablePath!, args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      const answered: number[] = [];
      page.on('response', (r) => {
        if (r.url().includes('/v1/federation/')) answered.push(r.status());
      });
      await page.goto(`${url('b')}/dashboard`);
      // Signed out: the sign-in form, no data, and nothing of the federated view asked for.
      await page.waitForSelector('#signin', { state: 'visible' });
      await page.waitForTimeout(2500);
      expect(await page.locator('#sites tbody tr[data-site]').count()).toBe(0);
      expect(await page.locator('main').isVisible()).toBe(false);
      expect(answered).toEqual([]);
      const dir = join(REPO, 'test-results');
      mkdirSync(dir, { recursive: true });
      await page.screenshot({ path: join(dir, 'dashboard-signed-out.png') });
      // A publish-only token is refused, and the page says why.
      await page.fill('#token-input', await token('a'));
      await page.click('#signin button');
      await page.waitForFunction(() => document.querySelector('#updated')?.textContent?.includes('read:federation'), null, { timeout: 10_000 });
      expect(await page.locator('#sites tbody tr[data-site]').count()).toBe(0);
      // A read token of another site's issuer signs in.
      await page.fill('#token-input', await token('a', ['read:federation']));
      await page.click('#signin button');
      await page.waitForSelector('#sites tbody tr[data-site="c"]', { timeout: 15_000 });
      expect(await page.locator('#signin').isVisible()).toBe(false);
      await page.waitForTimeout(1500); // the live stream has taken its starting cursors
      const id = `live-${randomUUID()}`;
      expect((await publish('a', apacPrice(id), await token('a'))).status).toBe(202);
      // Each site's rows reach the live view when its monitoring consumer has them (fetches batched up to 1 s,
      // instances/monitoring-consumer.ts), so c's rows may show first: wait for a's `published` line itself.
      const publishedAtA = page.locator(`#live div[data-event-id="${id}"]`).filter({ hasText: /^\S+ a +published / });
      await publishedAtA.first().waitFor({ timeout: 30_000 });
      expect(await publishedAtA.count()).toBe(1);
      await page.fill('#trace-id', id);
      await page.click('#trace-form button');
      await page.waitForSelector('#trace tbody tr:nth-child(2)', { timeout: 10_000 });
      // The stored history of the product, with its values and the sites that hold the event (a published it, c serves apac).
      await page.fill('#product-id', 'sku-e2e, sku-none');
      await page.click('#product-form button');
      const row = page.locator(`#product tbody tr[data-event-id="${id}"]`);
      await row.waitFor({ timeout: 30_000 });
      expect(await row.locator('td').allTextContents()).toEqual([expect.any(String), 'sku-e2e', 'price', 'JPY 1500 in apac', 'a', 'a, c', id]);
      // Nothing is wider than its place: the page does not scroll sideways, and no section hides a column behind a scroll bar.
      expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
      const overflowing = () =>
        page.evaluate(() =>
          [...document.querySelectorAll('main section')].filter((s) => s.scrollWidth > s.clientWidth + 1).map((s) => s.querySelector('h2')?.textContent),
        );
      expect(await overflowing()).toEqual([]);
      // Axes with units on both plots.
      expect(await page.locator('#tput text').allTextContents()).toEqual(expect.arrayContaining(['events consumed per second', 'now', '−2 min']));
      expect((await page.locator('#lat text').allTextContents()).some((t) => t.endsWith(' ms'))).toBe(true);
      await page.screenshot({ path: join(dir, 'dashboard.png'), fullPage: true });
      // A laptop-sized window: one column of sections, still nothing hidden sideways.
      await page.setViewportSize({ width: 900, height: 1000 });
      expect(await overflowing()).toEqual([]);
      await page.screenshot({ path: join(dir, 'dashboard-narrow.png'), fullPage: true });
    } finally {
      await browser.close();
    }
  });

  /** What the history test published (its products, each event and the sites that hold it), for the outage test below. */
  let historyProducts: string[] = [];
  const historyLedger: { id: string; holders: string[] }[] = [];

  it('answers the stored history of a set of products, with values, merged across sites: each event once, with every site that holds it, paged', async () => {
    const run = randomUUID().slice(0, 8);
    const [p1, p2] = [`hist-${run}-1`, `hist-${run}-2`];
    historyProducts = [p1, p2];
    const at = (minute: number) => new Date(Date.parse('2026-12-01T10:00:00Z') + minute * 60_000).toISOString();
    // The ledger: what each site acknowledged, and which sites must hold it (the publisher, and where it is routed).
    const sent = [
      {
        site: 'a',
        holders: ['a', 'c'],
        body: {
          type: 'com.fedgate.pim.price.updated',
          id: `${run}-e1`,
          time: at(1),
          data: { productId: p1, region: 'apac', price: { currency: 'JPY', amount: '1500' } },
        },
      },
      {
        site: 'b',
        holders: ['b'],
        body: {
          type: 'com.fedgate.pim.price.updated',
          id: `${run}-e2`,
          time: at(2),
          data: { productId: p1, region: 'us', price: { currency: 'USD', minor: 1999 } },
        },
      },
      {
        site: 'c',
        holders: ['a', 'b', 'c'],
        body: { type: 'com.fedgate.pim.discount.updated', id: `${run}-e3`, time: at(3), data: { productId: p1, discountId: 'bf', percent: '15' } },
      },
      {
        site: 'a',
        holders: ['a', 'c'],
        body: {
          type: 'com.fedgate.pim.country.updated',
          id: `${run}-e4`,
          time: at(4),
          data: { productId: p1, country: 'JP', available: false, reason: 'recall' },
        },
      },
      {
        site: 'b',
        holders: ['a', 'b'],
        body: {
          type: 'com.fedgate.pim.price.updated',
          id: `${run}-e5`,
          time: at(5),
          data: { productId: p2, region: 'eu', price: { currency: 'EUR', amount: '9.5' } },
        },
      },
    ];
    historyLedger.push(...sent.map((e) => ({ id: e.body.id, holders: e.holders })));
    for (const e of sent) {
      const res = await publish(e.site, e.body, await token(e.site, ['publish:price', 'publish:discount', 'publish:country']));
      expect(res.status, await res.clone().text()).toBe(202);
    }
    const history = (q: string) => getJson(`${url('b')}/v1/federation/history?${q}`);
    const full = await eventually(
      () => history(`products=${p1},${p2}`),
      (h) => h.items.length === sent.length && h.items.every((i: any) => i.sites.length === sent.find((e) => e.body.id === i.eventId)!.holders.length),
      60_000,
    );
    expect(full.partial).toBe(false);
    expect(full.next).toBeNull();
    expect(full.items.map((i: any) => [i.eventId, i.sourceSite, i.sites])).toEqual([...sent].reverse().map((e) => [e.body.id, e.site, e.holders]));
    const values = Object.fromEntries(full.items.map((i: any) => [i.eventId, i.values]));
    expect(values[`${run}-e1`]).toEqual({ kind: 'price', region: 'apac', currency: 'JPY', amount: '1500' });
    expect(values[`${run}-e2`]).toEqual({ kind: 'price', region: 'us', currency: 'USD', amount: '19.99' });
    expect(values[`${run}-e3`]).toMatchObject({ kind: 'discount', region: '*', discountId: 'bf', percent: '15', amountOff: null, active: true });
    expect(values[`${run}-e4`]).toEqual({ kind: 'country', country: 'JP', available: false, reason: 'recall' });
    expect(values[`${run}-e5`]).toEqual({ kind: 'price', region: 'eu', currency: 'EUR', amount: '9.50' });
    expect(full.items.find((i: any) => i.eventId === `${run}-e3`).event.data).toEqual({ productId: p1, discountId: 'bf', percent: '15', active: true });

    // Two at a time: three pages, each event once, in the same order.
    const paged: string[] = [];
    let before: string | null = null;
    let pages = 0;
    do {
      const page: any = await history(`products=${p1},${p2}&limit=2${before ? `&before=${before}` : ''}`);
      paged.push(...page.items.map((i: any) => i.eventId));
      before = page.next;
      pages++;
    } while (before && pages < 10);
    expect(paged).toEqual(full.items.map((i: any) => i.eventId));
    expect(pages).toBe(3);

    // 50 products whose events only c holds (APAC prices published at c), asked at b, which holds none of them.
    const fifty = Array.from({ length: 50 }, (_, i) => ({
      type: 'com.fedgate.pim.price.updated',
      id: `${run}-apac-${i}`,
      time: at(10 + i),
      data: { productId: `hist-${run}-p${String(i).padStart(2, '0')}`, region: 'apac', price: { currency: 'JPY', minor: 1000 + i } },
    }));
    const atC = await publish('c', fifty, await token('c'));
    expect(atC.status, await atC.clone().text()).toBe(202);
    const set = await eventually(
      () => history(`products=${fifty.map((e) => e.data.productId).join(',')}&limit=100`),
      (h) => h.items.length === 50,
      30_000,
    );
    expect(set.partial).toBe(false);
    expect(set.unreachable).toEqual([]);
    expect(set.items.map((i: any) => [i.eventId, i.productId, i.sourceSite, i.sites, i.values])).toEqual(
      [...fifty]
        .reverse()
        .map((e) => [e.id, e.data.productId, 'c', ['c'], { kind: 'price', region: 'apac', currency: 'JPY', amount: String(e.data.price.minor) }]),
    );

    // Bad queries are problems with a stable code.
    const bad = await fetch(`${url('b')}/v1/federation/history?products=`, { headers: { authorization: `Bearer ${await token('a', ['read:federation'])}` } });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'invalid-query' });
    const noToken = await fetch(`${url('b')}/v1/federation/history?products=${p1}`);
    expect(noToken.status).toBe(401);
  });

  it('holds the body limit on the real server, with Content-Length and streamed without it', async () => {
    const auth = { authorization: `Bearer ${await token('a')}`, 'content-type': 'application/json' };
    const big = JSON.stringify({ ...apacPrice('too-big'), pad: 'x'.repeat(1024 * 1024) });
    const withLength = await fetch(`${url('a')}/v1/events`, { method: 'POST', headers: auth, body: big });
    expect(withLength.status).toBe(413);
    // The unread rest of the body ends the connection; the client is told so.
    expect(withLength.headers.get('connection')).toBe('close');
    expect((await withLength.json()).code).toBe('payload-too-large');
    const chunk = new TextEncoder().encode('x'.repeat(64 * 1024));
    let sent = 0;
    const stream = new ReadableStream({ pull: (c) => (sent++ < 20 ? c.enqueue(chunk) : c.close()) });
    const streamed = await fetch(`${url('a')}/v1/events`, { method: 'POST', headers: auth, body: stream, duplex: 'half' } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(streamed.headers.get('connection')).toBe('close');
    expect((await streamed.json()).code).toBe('payload-too-large');
    // A streamed body under the limit is read whole.
    const id = `streamed-${randomUUID()}`;
    const small = new TextEncoder().encode(JSON.stringify(apacPrice(id)));
    const ok = await fetch(`${url('a')}/v1/events`, {
      method: 'POST',
      headers: auth,
      body: new ReadableStream({
        start: (c) => {
          c.enqueue(small);
          c.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(ok.status).toBe(202);
    expect((await ok.json()).events[0].id).toBe(id);
  });

  it('answers a retry after a SIGKILL of the gateway from the durable window: the original answer, and no second record', async () => {
    const id = `idem-${randomUUID()}`;
    const key = `key-${randomUUID()}`;
    const auth = await token('a');
    const send = () =>
      fetch(`${url('a')}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${auth}`, 'idempotency-key': key },
        body: JSON.stringify(apacPrice(id)),
      });
    const first = await send();
    expect(first.status).toBe(202);
    const firstBody = await first.json();
    expect(firstBody.events[0]).toMatchObject({ id, writtenAt: 'a', routedTo: ['c'] });

    const killed = await fed.launcher.stop('a', 'gateway', { hard: true });
    expect(killed).toBe('killed');
    await fed.launcher.start('a', 'gateway');

    const again = await send();
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotency-replayed')).toBe('true');
    expect(await again.json()).toEqual(firstBody);
    // The same event id without the key: known from the window, not written again.
    const noKey = await publish('a', apacPrice(id), auth);
    expect(noKey.status).toBe(202);
    expect((await noKey.json()).events[0]).toMatchObject({ id, duplicate: true, writtenAt: 'a' });
    expect(await recordsWithId('a', 'fed.price.apac', id)).toBe(1);
  });

  it('drains on SIGTERM under load (200 events/s): every 2xx is in Kafka, every other request got a non-2xx or a connection error', async () => {
    const auth = await token('a');
    const outcomes: Array<Promise<{ id: string; outcome: 'accepted' | 'refused' | 'connection-error' }>> = [];
    let running = true;
    let acceptedSoFar = 0;
    const loadStart = Date.now();
    const load = (async () => {
      for (let i = 0; running; i++) {
        const id = `drain-${i}-${randomUUID()}`;
        outcomes.push(
          publish('a', apacPrice(id), auth).then(
            async (res) => {
              await res.body?.cancel();
              if (res.status === 202) acceptedSoFar++;
              return { id, outcome: res.status === 202 ? ('accepted' as const) : ('refused' as const) };
            },
            () => ({ id, outcome: 'connection-error' as const }),
          ),
        );
        // Paced: request i goes out at 5 ms × i (200 a second), whatever each one takes.
        await new Promise((r) => setTimeout(r, Math.max(0, loadStart + (i + 1) * 5 - Date.now())));
      }
    })();
    // Under load before the stop: more than 100 accepted (however long a busy machine takes to get there).
    const loaded = Date.now() + 60_000;
    while (acceptedSoFar <= 100 && Date.now() < loaded) await new Promise((r) => setTimeout(r, 50));
    const stopped = await fed.launcher.stop('a', 'gateway');
    await new Promise((r) => setTimeout(r, 1000));
    running = false;
    await load;
    const results = await Promise.all(outcomes);
    await fed.launcher.start('a', 'gateway');

    expect(stopped).toBe('stopped'); // it exited on SIGTERM, within the grace period
    const accepted = results.filter((r) => r.outcome === 'accepted').map((r) => r.id);
    const notAccepted = results.filter((r) => r.outcome !== 'accepted');
    console.log(
      `drain under load: ${results.length} requests, ${accepted.length} accepted, ${notAccepted.filter((r) => r.outcome === 'refused').length} refused, ${notAccepted.filter((r) => r.outcome === 'connection-error').length} connection errors`,
    );
    expect(accepted.length).toBeGreaterThan(100);
    expect(notAccepted.length).toBeGreaterThan(0); // the load went on past the stop
    // The ledger: every acknowledged event is in the routed topic at a.
    const inKafka = await idsIn('a', 'fed.price.apac');
    expect(accepted.filter((id) => !inKafka.has(id))).toEqual([]);
  });

  it('answers the federated view within its deadline while b is down, and marks b unreachable', async () => {
    for (const c of ['gateway', 'instance', 'mm2', 'broker'] as const) await fed.launcher.stop('b', c, { hard: true });
    const started = Date.now();
    const stats = await getJson(`${url('a')}/v1/federation/stats?windowSeconds=60`);
    const elapsed = Date.now() - started;
    expect(stats.partial).toBe(true);
    expect(stats.unreachable, JSON.stringify(stats.sites.map((s: any) => [s.site, s.ms, s.error]))).toEqual(['b']);
    expect(stats.sites.find((s: any) => s.site === 'b').reachable).toBe(false);
    expect(stats.sites.find((s: any) => s.site === 'c').reachable).toBe(true);
    // c's lag comes from a shared Kafka reading, never older than 10 s.
    expect(started - Date.parse(stats.sites.find((s: any) => s.site === 'c').kafkaReadAt)).toBeLessThan(10_000);
    // The deadline is 1.5 s per peer call, in parallel; generous slack for a loaded 2-core machine.
    expect(elapsed).toBeLessThan(6000);
    const health = await getJson(`${url('c')}/v1/federation/health`);
    expect(health.unreachable).toEqual(['b']);
    // History while b is down: every event a or c holds, newest first; only what b alone held is missing.
    expect(historyLedger).toHaveLength(5);
    const history = await getJson(`${url('a')}/v1/federation/history?products=${historyProducts.join(',')}`);
    expect(history).toMatchObject({ partial: true, unreachable: ['b'] });
    expect(history.items.map((i: any) => [i.eventId, i.sites])).toEqual(
      [...historyLedger]
        .reverse()
        .map((e) => ({ id: e.id, holders: e.holders.filter((h) => h !== 'b') }))
        .filter((e) => e.holders.length > 0)
        .map((e) => [e.id, e.holders]),
    );
  });

  it('with a’s broker stopped, a publish at a is written through a peer (c, the only one left), and its trace names the publisher', async () => {
    await fed.launcher.stop('a', 'broker', { hard: true });
    const id = `failover-${randomUUID()}`;
    const res = await publish('a', apacPrice(id), await token('a'));
    const body = await res.json();
    // b is down too; c is the only peer left, and it is up: the write must go there (a 503 would be a failed failover).
    expect(res.status, JSON.stringify(body)).toBe(202);
    expect(body.events[0].writtenAt).toBe('c');
    expect(await recordsWithId('c', routedTopic('price', 'apac'), id)).toBe(1);
    // c verified the publisher's own token (of a's issuer), and its trace names the publisher: an audit trail.
    const trace = await eventually(
      () => getJson(`${url('c')}/v1/federation/events/${id}/trace`),
      (t) => t.stages.some((s: any) => s.stage === 'published'),
      30_000,
    );
    const published = trace.stages.find((s: any) => s.stage === 'published');
    expect(published.site).toBe('c');
    expect(published.detail).toMatchObject({ failoverFrom: 'a', publisher: { iss: issuerOf('a'), sub: 'pis@a' } });
  });

  it('with a’s broker stopped and no peer reachable, a publish at a answers 503 kafka-unavailable with Retry-After', async () => {
    for (const c of ['gateway', 'instance', 'mm2', 'broker'] as const) await fed.launcher.stop('c', c, { hard: true });
    const id = `nowhere-${randomUUID()}`;
    const res = await publish('a', apacPrice(id), await token('a'));
    expect(res.status).toBe(503);
    const body = await res.json();
    expect(body.code).toBe('kafka-unavailable');
    expect(res.headers.get('retry-after')).toBe('5');
  });
});
