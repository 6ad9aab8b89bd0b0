import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueToken } from '../certs/index.ts';
import { type CountryData, type DiscountData, EVENT_TYPES, type PriceData, type ProductEvent } from '../contract/index.ts';
import { isOurProcess } from '../deploy/index.ts';
import { TEST_ENV } from './support/env.ts';
import { createTestFederation, REPO, type TestFederation, testTopology } from './support/federation.ts';
import { CHROMIUM_ARGS, findChromium } from './support/prerequisites.ts';

const run = promisify(execFile);

/**
 * Replay on two real sites. Site b serves what a publishes (eu, DE); b loses
 * its database (effects, event store and monitoring: the site's PostgreSQL cluster is
 * stopped and its folder deleted while its consumer groups' offsets stay committed in Kafka, so
 * nothing comes back by itself), and `fedgate replay` rebuilds it from a's
 * event store. A second replay of the same history changes nothing. A replay
 * is cancelled mid-way.
 */
const topology = testTopology(161, [
  { name: 'a', regions: ['eu'], countries: ['DE'] },
  { name: 'b', regions: ['eu', 'us'], countries: ['DE', 'US'] },
]);
const PRODUCTS = Array.from({ length: 20 }, (_, i) => `rp-${String(i).padStart(2, '0')}`);

interface State {
  prices: { region: string; amountMinor: number; eventId: string }[];
  availability: { country: string; available: boolean; eventId: string }[];
  discounts: { region: string; discountId: string; active: boolean; eventId: string }[];
}

describe('replay of stored history', () => {
  let fed: TestFederation;
  const ledger: ProductEvent[] = [];
  let topologyFile = '';
  const figures: Record<string, unknown> = {};

  const read = async <T>(site: string, path: string): Promise<T> => {
    const res = await fetch(`${fed.launcher.instanceUrl(site)}/v1${path}`, { headers: fed.launcher.instanceHeaders(site) });
    if (!res.ok) throw new Error(`${site} ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  async function eventually<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number): Promise<T> {
    const started = Date.now();
    let last: T | undefined;
    for (;;) {
      last = await fn().catch(() => undefined);
      if (last !== undefined && ok(last)) return last;
      if (Date.now() - started > timeoutMs) throw new Error(`${what}: not reached in ${timeoutMs} ms; last: ${JSON.stringify(last)?.slice(0, 400)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  const fedgate = (...args: string[]) =>
    run(process.execPath, [join(REPO, 'bin/fedgate.mjs'), ...args, '--topology', topologyFile, '--home', fed.runDir], { cwd: REPO, timeout: 120_000 });

  /** What each product's state must be: the newest event per key of the ledger, by (time, id). */
  function expectedState(product: string) {
    const newest = new Map<string, ProductEvent>();
    for (const e of ledger.filter((x) => x.data.productId === product)) {
      const key =
        e.type === EVENT_TYPES.price
          ? `p|${(e.data as PriceData).region}`
          : e.type === EVENT_TYPES.country
            ? `c|${(e.data as CountryData).country}`
            : `d|${(e.data as DiscountData).region ?? '*'}|${(e.data as DiscountData).discountId}`;
      const cur = newest.get(key);
      if (!cur || Date.parse(e.time) > Date.parse(cur.time) || (Date.parse(e.time) === Date.parse(cur.time) && e.id > cur.id)) newest.set(key, e);
    }
    return [...newest.entries()].map(([k, e]) => `${k}=${e.id}`).sort();
  }
  const stateKeys = (s: State) =>
    [
      ...s.prices.map((p) => `p|${p.region}=${p.eventId}`),
      ...s.availability.map((a) => `c|${a.country}=${a.eventId}`),
      ...s.discounts.map((d) => `d|${d.region}|${d.discountId}=${d.eventId}`),
    ].sort();
  const stateOf = async (site: string) =>
    Object.fromEntries(await Promise.all(PRODUCTS.map(async (p) => [p, stateKeys(await read<State>(site, `/products/${p}`))] as const)));
  const stateOfB = () => stateOf('b');
  const expectedOfAll = () => Object.fromEntries(PRODUCTS.map((p) => [p, expectedState(p)]));
  const statsOfB = () =>
    read<{ stages: { stage: string; count: number; distinctEvents: number }[] }>('b', '/stats?windowSeconds=86400&distinct=true').then((s) =>
      Object.fromEntries(s.stages.map((x) => [x.stage, x])),
    );

  beforeAll(async () => {
    fed = createTestFederation('replay', topology, { env: { LOG_LEVEL: 'warn' } });
    await fed.launcher.up();
    topologyFile = join(fed.runDir, 'replay-topology.json');
    writeFileSync(topologyFile, JSON.stringify(topology));
  });

  afterAll(async () => {
    const pids = fed?.startedPids() ?? [];
    await fed?.stop();
    console.log(`replay figures: ${JSON.stringify(figures, null, 2)}`);
    for (const pid of pids) expect(isOurProcess(pid, fed.runDir)).toBe(false);
  });

  it('rebuilds a site that lost its database from a replay of another site’s store, and a second replay changes nothing', async () => {
    const token = await issueToken({
      secretsDir: fed.certsDir,
      topology,
      site: 'a',
      scopes: ['publish:price', 'publish:discount', 'publish:country'],
      ttlSeconds: 600,
    });
    const t0 = Date.now() - 3_600_000;
    // 300 events at a, all served at b: prices, availability and discounts of 20 products, several per key, in shuffled time order.
    const bodies = Array.from({ length: 300 }, (_, n) => {
      const product = PRODUCTS[n % PRODUCTS.length]!;
      const time = new Date(t0 + ((n * 7919) % 300) * 1000).toISOString();
      if (n % 3 === 0) return { type: EVENT_TYPES.price, time, data: { productId: product, region: 'eu', price: { currency: 'EUR', minor: 100 + n } } };
      if (n % 3 === 1) return { type: EVENT_TYPES.country, time, data: { productId: product, country: 'DE', available: n % 2 === 0 } };
      return {
        type: EVENT_TYPES.discount,
        time,
        data: { productId: product, discountId: `d${n % 2}`, region: 'eu', percent: String(n % 50), active: n % 4 !== 0 },
      };
    });
    for (let i = 0; i < bodies.length; i += 50) {
      const res = await fetch(`${fed.launcher.gatewayUrl('a')}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(bodies.slice(i, i + 50)),
      });
      expect(res.status, await res.clone().text()).toBe(202);
      const accepted = ((await res.json()) as { events: { id: string }[] }).events;
      ledger.push(...bodies.slice(i, i + 50).map((b, j) => ({ ...b, id: accepted[j]!.id }) as unknown as ProductEvent));
    }
    expect(ledger).toHaveLength(300);

    // b applied all of it: its state is the ledger's newest per key.
    await eventually('b consumed every event', statsOfB, (s) => s.consumed?.distinctEvents === 300, 120_000);
    expect(await stateOfB()).toEqual(expectedOfAll());

    // b loses its database; its consumer groups' offsets stay committed in Kafka, so nothing comes back by itself.
    await fed.launcher.stop('b', 'instance');
    await fed.launcher.stop('b', 'db');
    rmSync(join(fed.runDir, 'b', 'db'), { recursive: true, force: true });
    await fed.launcher.start('b', 'instance'); // a new, empty database cluster first
    await new Promise((r) => setTimeout(r, 3000));
    const wiped = await stateOfB();
    expect(Object.values(wiped).flat()).toEqual([]);
    expect((await read<{ items: unknown[] }>('b', `/history?products=${PRODUCTS.join(',')}`)).items).toEqual([]);

    // The operator replays the products' history to b from the stores that still hold it (a's).
    const started = Date.now();
    const { stdout } = await fedgate('replay', '--site', 'b', '--products', PRODUCTS.join(','), '--json');
    const job = JSON.parse(stdout) as { state: string; read: number; sent: number; skipped: number; unreachable: string[] };
    expect(job).toMatchObject({ state: 'done', read: 300, sent: 300, skipped: 0, unreachable: [] });
    const rebuilt = await eventually('b rebuilt', stateOfB, (s) => JSON.stringify(s) === JSON.stringify(expectedOfAll()), 120_000);
    figures['replay of 300 events to a rebuilt site (s)'] = (Date.now() - started) / 1000;
    expect(rebuilt).toEqual(expectedOfAll());
    // And equal to the site that never lost it.
    expect(rebuilt).toEqual(await stateOf('a'));
    // The store is back too, and each replayed event is one `replayed` row, of the effect consumer that applied it (the store reports no stages).
    const stored = await read<{ items: { eventId: string }[] }>('b', `/history?products=${PRODUCTS.join(',')}&limit=500`);
    expect(stored.items.map((i) => i.eventId).sort()).toEqual(ledger.map((e) => e.id).sort());
    const afterFirst = await eventually('replayed rows', statsOfB, (s) => s.replayed?.count === 300, 60_000);
    expect(afterFirst.replayed).toMatchObject({ count: 300, distinctEvents: 300 });

    // The same replay again: the effects keep the newest by (time, id), the store each id once, the monitoring rows each (event, stage, consumer) once.
    const again = JSON.parse((await fedgate('replay', '--site', 'b', '--products', PRODUCTS.join(','), '--json')).stdout) as { state: string; sent: number };
    expect(again).toMatchObject({ state: 'done', sent: 300 });
    await new Promise((r) => setTimeout(r, 5000));
    const lag = await eventually(
      'b drained the second replay',
      () => read<{ groups: Record<string, { records: number }> }>('b', '/lag'),
      (l) => Object.values(l.groups).every((g) => g.records === 0),
      60_000,
    );
    expect(Object.keys(lag.groups).length).toBeGreaterThan(3);
    expect(await stateOfB()).toEqual(expectedOfAll());
    expect((await statsOfB()).replayed).toMatchObject({ count: 300, distinctEvents: 300 });
  });

  it('replays to one consumer only, by time range; cancels a replay mid-way and reports what it sent', async () => {
    // Only the price book, only the first half hour of event times: the other consumers skip these records.
    const from = new Date(Date.parse(ledger.map((e) => e.time).sort()[0]!)).toISOString();
    const to = new Date(Date.parse(from) + 150_000).toISOString();
    const inRange = ledger.filter((e) => Date.parse(e.time) >= Date.parse(from) && Date.parse(e.time) < Date.parse(to));
    const one = JSON.parse((await fedgate('replay', '--site', 'b', '--from', from, '--to', to, '--consumer', 'price-book', '--json')).stdout) as {
      state: string;
      read: number;
      sent: number;
    };
    expect(one).toMatchObject({ state: 'done', read: inRange.length, sent: inRange.length });

    // One event per page: long enough to cancel before the end.
    const detached = JSON.parse(
      (await fedgate('replay', '--site', 'b', '--products', PRODUCTS.join(','), '--page-size', '1', '--detach', '--json')).stdout,
    ) as { id: string; state: string };
    expect(detached.state).toBe('running');
    await new Promise((r) => setTimeout(r, 300));
    const cancelled = JSON.parse((await fedgate('replay', '--site', 'b', '--cancel', detached.id, '--json')).stdout) as { state: string; sent: number };
    expect(cancelled.state).toBe('cancelled');
    expect(cancelled.sent).toBeGreaterThan(0);
    expect(cancelled.sent).toBeLessThan(300);
    await new Promise((r) => setTimeout(r, 1000));
    const later = JSON.parse((await fedgate('replay', '--site', 'b', '--status', detached.id, '--json')).stdout) as { state: string; sent: number };
    expect(later).toMatchObject({ state: 'cancelled', sent: cancelled.sent });
    figures['cancelled replay: events sent before the cancel'] = cancelled.sent;
    // Cancelling it again names the problem.
    const twice = await fedgate('replay', '--site', 'b', '--cancel', detached.id).catch((err: { code: number; stderr: string }) => err);
    expect((twice as { code: number }).code).toBe(2);
    expect((twice as { stderr: string }).stderr).toContain('replay-finished');
    // The state is still the newest per key.
    expect(await stateOfB()).toEqual(expectedOfAll());
  });

  it('resumes a running replay from its last recorded page after its gateway is SIGKILLed and started again', async () => {
    // One event per page (300 pages, about a second and a half), and the gateway killed as soon as the 202 is in.
    const token = await issueToken({ secretsDir: fed.certsDir, topology, site: 'a', scopes: ['replay:events'], ttlSeconds: 600 });
    const res = await fetch(`${fed.launcher.gatewayUrl('b')}/v1/replays`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ products: PRODUCTS, pageSize: 1 }),
    });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    await fed.launcher.stop('b', 'gateway', { hard: true });
    await fed.launcher.start('b', 'gateway');
    // The new gateway read the job back from the window and went on from the page after the last one recorded.
    const status = async () =>
      JSON.parse((await fedgate('replay', '--site', 'b', '--status', id, '--json')).stdout) as { state: string; read: number; sent: number; resumed: number };
    const after = await eventually('the resumed replay done', status, (j) => j.state !== 'running', 120_000);
    expect(after).toMatchObject({ state: 'done', resumed: 1 });
    // Every event once, and the page in flight at the kill (at most one, of one event) once more.
    expect(after.read).toBeGreaterThanOrEqual(300);
    expect(after.read).toBeLessThanOrEqual(301);
    expect(after.sent).toBe(after.read);
    figures['replay resumed after a gateway SIGKILL: events read in all'] = after.read;
    expect(await stateOfB()).toEqual(expectedOfAll());
  });

  it('publishes pasted events one by one with an answer per event, and runs and follows a replay, from the dashboard (headless Chromium)', async () => {
    const executablePath = findChromium(TEST_ENV);
    expect(executablePath, 'no Chromium: the preflight of npm test names how to install one').not.toBeNull();
    const browser = await chromium.launch({ executablePath: executablePath!, args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      await page.goto(`${fed.launcher.gatewayUrl('b')}/dashboard`);
      const token = await issueToken({
        secretsDir: fed.certsDir,
        topology,
        site: 'b',
        scopes: ['read:federation', 'replay:events', 'publish:price'],
        ttlSeconds: 600,
      });
      await page.fill('#token-input', token);
      await page.click('#signin button');
      await page.waitForSelector('#sites tbody tr[data-site="a"]', { timeout: 15_000 });

      // NDJSON: a good price, a line that is not JSON, an event for a region nobody serves, and a country update the token may not publish.
      const good = { type: EVENT_TYPES.price, data: { productId: 'rp-web', region: 'eu', price: { currency: 'EUR', amount: '3.50' } } };
      const lines = [
        JSON.stringify(good),
        '{"type": "com.fedgate.pim.price.updated", not json',
        JSON.stringify({ ...good, data: { ...good.data, region: 'mars' } }),
        JSON.stringify({ type: EVENT_TYPES.country, data: { productId: 'rp-web', country: 'DE', available: true } }),
      ];
      await page.fill('#publish-input', lines.join('\n'));
      await page.click('#publish-form button');
      await page.waitForFunction(() => document.querySelector('#publish-summary')?.textContent?.includes('of 4 accepted'), null, { timeout: 20_000 });
      const answers = await page.locator('#publish-results tbody tr').evaluateAll((rows) => rows.map((r) => r.querySelectorAll('td')[1]?.textContent));
      expect(answers).toEqual(['202', 'not sent', '422 unknown-region', '403 insufficient-scope']);
      expect(await page.locator('#publish-summary').textContent()).toBe('1 of 4 accepted');
      expect(await page.locator('#publish-results tbody tr[data-n="2"] td').nth(2).textContent()).toContain('line 2 is not JSON');

      // A replay of two products to b, followed to its end.
      await page.fill('#replay-products', 'rp-00, rp-01');
      await page.click('#replay-form button[type="submit"]');
      await page.waitForSelector('#replay-status[data-state="done"]', { timeout: 60_000 });
      const expected = ledger.filter((e) => ['rp-00', 'rp-01'].includes(e.data.productId)).length;
      expect(await page.locator('#replay-status').textContent()).toContain(`${expected} read, ${expected} sent, 0 not served here`);
      expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
      // No section hides a column behind a scroll bar, the publish answers included.
      const overflowing = await page.evaluate(() =>
        [...document.querySelectorAll('main section')].filter((s) => s.scrollWidth > s.clientWidth + 1).map((s) => s.querySelector('h2')?.textContent),
      );
      expect(overflowing).toEqual([]);
      const dir = join(REPO, 'test-results');
      mkdirSync(dir, { recursive: true });
      await page.screenshot({ path: join(dir, 'dashboard-publish-replay.png'), fullPage: true });
    } finally {
      await browser.close();
    }
  });
});
