import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { base64url, importJWK, SignJWT, UnsecuredJWT } from 'jose';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { audienceOf, ensureSigningKeys, issuerOf, issueToken, publicJwks } from '../../certs/index.ts';
import type { ProductEvent } from '../../contract/index.ts';
import { publicApiDocument, ROUTE_PROBLEMS } from '../../contract/openapi.ts';
import { parseTopology } from '../../federation/index.ts';
import { createApp } from '../app.ts';
import { OverloadedError } from '../batcher.ts';
import type { GatewayDeps } from '../deps.ts';
import { createEnricher } from '../enrichment.ts';
import { createIdempotencyStore } from '../idempotency.ts';
import { type AcceptedEvent, createPublishService, type PublishResult } from '../publish-service.ts';
import { createRateLimiter } from '../rate-limit.ts';
import { createVerifier } from '../verifier.ts';

/**
 * Route tests of POST /v1/events: real keys and the real verifier, an
 * in-memory Kafka stand-in that records what would be written. "Nothing is
 * written" means the stand-in was never called.
 */
const topology = parseTopology(JSON.parse(readFileSync(new URL('../../topology.json', import.meta.url), 'utf8')));
const dir = mkdtempSync(join(tmpdir(), 'fedgate-keys-'));
const written: ProductEvent[][] = [];
let app: ReturnType<typeof createApp>;
let deps: GatewayDeps;
let failKafka: false | true | 'overloaded' = false;

const price = { type: 'com.fedgate.pim.price.updated', data: { productId: 'sku-1', region: 'apac', price: { currency: 'JPY', amount: '1500' } } };
const token = (site = 'cloud-a', scopes = ['publish:price', 'publish:country', 'publish:discount'], ttlSeconds = 300) =>
  issueToken({ secretsDir: dir, topology, site, scopes, ttlSeconds });

/** Every problem answered in this file, checked against the API document at the end. */
const problems: { status: number; body: { code: string } }[] = [];

const METRICS_SECRET = 'a-test-metrics-secret';
const responses: Array<[string, number]> = [];

async function post(body: string | unknown, headers: Record<string, string> = {}) {
  const res = await app.request('/v1/events', {
    method: 'POST',
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
  });
  if (res.status >= 400) problems.push({ status: res.status, body: await res.clone().json() });
  return res;
}

beforeAll(async () => {
  for (const s of topology.sites) await ensureSigningKeys(dir, s.name);
  const log = pino({ level: 'silent' });
  const metrics = {
    published() {},
    rejected() {},
    publishSeconds() {},
    batch() {},
    response: (route: string, status: number) => void responses.push([route, status]),
    render: async () => ({ contentType: 'text/plain', body: '' }),
  };
  deps = {
    topology,
    site: 'cloud-a',
    log,
    verify: createVerifier({ audience: audienceOf(topology), issuers: new Map(topology.sites.map((s) => [issuerOf(s.name), () => publicJwks(dir, s.name)])) }),
    publish: createPublishService({
      topology,
      site: 'cloud-a',
      log,
      submit: async (events) => {
        if (failKafka === 'overloaded') throw new OverloadedError('20000 events in flight; the limit is 20000');
        if (failKafka) throw new Error('broker down');
        written.push(events);
      },
      failover: async () => {
        throw new Error('no peer');
      },
      // The catalog knows every product except those named unknown-*; this site refuses unknown products.
      enrich: createEnricher({
        lookup: async (ids) => new Map(ids.filter((id) => !id.startsWith('unknown-')).map((id) => [id, { name: `Product ${id}` }])),
        ttlMs: 60_000,
        unknownProduct: 'dead-letter',
      }),
      seen: createIdempotencyStore<AcceptedEvent>({ maxEntries: 100, ttlMs: 60_000 }),
      maxFutureSkewMs: 300_000,
    }),
    view: {} as GatewayDeps['view'],
    jwks: () => publicJwks(dir, 'cloud-a'),
    metrics,
    metricsSecret: METRICS_SECRET,
    requestKeys: createIdempotencyStore<PublishResult>({ maxEntries: 100, ttlMs: 60_000 }),
    limits: { maxBodyBytes: 4096, maxBatchEvents: 10, liveStreamsPerClient: 2 },
    publishLimiter: createRateLimiter({ perSecond: 1_000_000, burst: 1_000_000 }),
    acceptFromPeer: async () => ({ writtenAt: 'cloud-a', accepted: 0 }),
    instanceFetch: async () => new Response('{}'),
  };
  app = createApp(deps);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(() => {
  written.length = 0;
  failKafka = false;
});

async function expectProblem(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  const body = await res.json();
  expect(body).toMatchObject({ status, code });
  expect(body.requestId).toBeTruthy();
  expect(written).toEqual([]);
  return body;
}

describe('publish: happy path', () => {
  it('answers 202 with the id, the target sites and where it was written', async () => {
    const res = await post({ ...price, id: 'evt-1' }, { authorization: `Bearer ${await token()}` });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ events: [{ id: 'evt-1', type: price.type, routedTo: ['onprem'], writtenAt: 'cloud-a' }] });
    expect(written.flat().map((e) => e.id)).toEqual(['evt-1']);
    // Enriched from the PIS catalog on the way.
    expect(written.flat()[0]!.data.catalog).toEqual({ status: 'enriched', name: 'Product sku-1' });
  });

  it('accepts a peer site token (trusted issuer with its own keys)', async () => {
    const res = await post(price, { authorization: `Bearer ${await token('onprem')}` });
    expect(res.status).toBe(202);
  });

  it('does not write an already accepted event id again, nor replay an Idempotency-Key', async () => {
    const auth = { authorization: `Bearer ${await token()}` };
    await post({ ...price, id: 'evt-dup' }, auth);
    const again = await post({ ...price, id: 'evt-dup' }, auth);
    expect((await again.json()).events[0]).toMatchObject({ id: 'evt-dup', duplicate: true });
    const k1 = await post(price, { ...auth, 'idempotency-key': 'k-1' });
    const k2 = await post(price, { ...auth, 'idempotency-key': 'k-1' });
    expect(k2.headers.get('idempotency-replayed')).toBe('true');
    expect(await k2.json()).toEqual(await k1.json());
    expect(
      written
        .flat()
        .map((e) => e.id)
        .filter((id) => id === 'evt-dup'),
    ).toHaveLength(1);
    expect(written).toHaveLength(2);
  });

  it('never answers 2xx when Kafka did not acknowledge and no peer could take it', async () => {
    failKafka = true;
    const res = await post(price, { authorization: `Bearer ${await token()}` });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect((await res.json()).code).toBe('kafka-unavailable');
  });
});

describe('publish: auth (401/403, nothing written)', () => {
  it('refuses a missing token', async () => {
    const res = await post(price);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    await expectProblem(res, 401, 'missing-token');
  });

  it('refuses an expired token', async () => {
    const data = await ensureSigningKeys(dir, 'cloud-a');
    const key = await importJWK(data.keys[0]!.privateJwk, 'ES256');
    const expired = await new SignJWT({ scope: 'publish:price' })
      .setProtectedHeader({ alg: 'ES256', kid: data.keys[0]!.kid })
      .setIssuer(issuerOf('cloud-a'))
      .setAudience(audienceOf(topology))
      .setIssuedAt(Math.floor(Date.now() / 1000) - 7200)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 3600)
      .sign(key);
    const body = await expectProblem(await post(price, { authorization: `Bearer ${expired}` }), 401, 'invalid-token');
    expect(body.detail).toContain('expired');
  });

  it('refuses the wrong audience', async () => {
    const data = await ensureSigningKeys(dir, 'cloud-a');
    const key = await importJWK(data.keys[0]!.privateJwk, 'ES256');
    const t = await new SignJWT({ scope: 'publish:price' })
      .setProtectedHeader({ alg: 'ES256', kid: data.keys[0]!.kid })
      .setIssuer(issuerOf('cloud-a'))
      .setAudience('urn:someone-else')
      .setExpirationTime('5m')
      .sign(key);
    await expectProblem(await post(price, { authorization: `Bearer ${t}` }), 401, 'invalid-token');
  });

  it('refuses an unknown issuer', async () => {
    const data = await ensureSigningKeys(dir, 'cloud-a');
    const key = await importJWK(data.keys[0]!.privateJwk, 'ES256');
    const t = await new SignJWT({ scope: 'publish:price' })
      .setProtectedHeader({ alg: 'ES256', kid: data.keys[0]!.kid })
      .setIssuer('urn:fedgate:site:mars')
      .setAudience(audienceOf(topology))
      .setExpirationTime('5m')
      .sign(key);
    const body = await expectProblem(await post(price, { authorization: `Bearer ${t}` }), 401, 'invalid-token');
    expect(body.detail).toContain('not trusted');
  });

  it("refuses a token claiming one site but signed with another site's key", async () => {
    const b = await ensureSigningKeys(dir, 'cloud-b');
    const key = await importJWK(b.keys[0]!.privateJwk, 'ES256');
    const forged = await new SignJWT({ scope: 'publish:price' })
      .setProtectedHeader({ alg: 'ES256', kid: b.keys[0]!.kid })
      .setIssuer(issuerOf('cloud-a'))
      .setAudience(audienceOf(topology))
      .setExpirationTime('5m')
      .sign(key);
    await expectProblem(await post(price, { authorization: `Bearer ${forged}` }), 401, 'invalid-token');
  });

  it('refuses alg none', async () => {
    const none = new UnsecuredJWT({ scope: 'publish:price' }).setIssuer(issuerOf('cloud-a')).setAudience(audienceOf(topology)).setExpirationTime('5m').encode();
    await expectProblem(await post(price, { authorization: `Bearer ${none}` }), 401, 'invalid-token');
  });

  it("refuses HS256 signed with the site's public key", async () => {
    const jwks = await publicJwks(dir, 'cloud-a');
    const secret = JSON.stringify(jwks.keys[0]);
    const header = base64url.encode(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid: jwks.keys[0]!.kid }));
    const payload = base64url.encode(
      JSON.stringify({ scope: 'publish:price', iss: issuerOf('cloud-a'), aud: audienceOf(topology), exp: Math.floor(Date.now() / 1000) + 300 }),
    );
    const sig = base64url.encode(createHmac('sha256', secret).update(`${header}.${payload}`).digest());
    const body = await expectProblem(await post(price, { authorization: `Bearer ${header}.${payload}.${sig}` }), 401, 'invalid-token');
    expect(body.detail).toMatch(/algorithm|signature/);
  });

  for (const typ of ['secevent+jwt', 'JWE', undefined]) {
    it(`refuses a token signed with the real key but typed ${typ ?? '(no typ)'}`, async () => {
      const data = await ensureSigningKeys(dir, 'cloud-a');
      const key = await importJWK(data.keys[0]!.privateJwk, 'ES256');
      const t = await new SignJWT({ scope: 'publish:price' })
        .setProtectedHeader({ alg: 'ES256', kid: data.keys[0]!.kid, ...(typ ? { typ } : {}) })
        .setIssuer(issuerOf('cloud-a'))
        .setAudience(audienceOf(topology))
        .setSubject('pis')
        .setExpirationTime('5m')
        .sign(key);
      const body = await expectProblem(await post(price, { authorization: `Bearer ${t}` }), 401, 'invalid-token');
      expect(body.detail).toContain('typ');
    });
  }

  it('accepts typ at+jwt as well as JWT', async () => {
    const data = await ensureSigningKeys(dir, 'cloud-a');
    const key = await importJWK(data.keys[0]!.privateJwk, 'ES256');
    const t = await new SignJWT({ scope: 'publish:price' })
      .setProtectedHeader({ alg: 'ES256', kid: data.keys[0]!.kid, typ: 'at+jwt' })
      .setIssuer(issuerOf('cloud-a'))
      .setAudience(audienceOf(topology))
      .setExpirationTime('5m')
      .sign(key);
    expect((await post(price, { authorization: `Bearer ${t}` })).status).toBe(202);
  });

  it("refuses a scope that does not cover the event's type", async () => {
    const body = await expectProblem(await post(price, { authorization: `Bearer ${await token('cloud-a', ['publish:country'])}` }), 403, 'insufficient-scope');
    expect(body.requiredScope).toBe('publish:price');
  });
});

describe('publish: bad bodies (4xx problem+json, nothing written)', () => {
  let auth: Record<string, string>;
  beforeAll(async () => (auth = { authorization: `Bearer ${await token()}` }));

  it('malformed JSON', async () => expectProblem(await post('{"type": ', auth), 400, 'invalid-json'));

  it('a type nested 1,500 levels deep, within the body limit (a 4xx; gateway/json-body.test.ts takes 100,000)', async () => {
    const deep = `{"type":${'['.repeat(1500)}${']'.repeat(1500)},"data":{}}`;
    const res = await app.request('/v1/events', { method: 'POST', body: deep, headers: { 'content-type': 'application/json', ...auth } });
    expect(res.status).toBe(422);
    expect((await res.json()).code).toBe('invalid-event');
    expect(written).toEqual([]);
  });

  it('lone surrogates: two discount ids that differ only in them are both refused, not collapsed into U+FFFD', async () => {
    for (const id of ['promo-\\ud800', 'promo-\\udbff']) {
      const body = `{"type":"com.fedgate.pim.discount.updated","data":{"productId":"sku-1","discountId":"${id}","percent":"10"}}`;
      const problem = await expectProblem(await post(body, auth), 400, 'invalid-json');
      expect(problem.detail).toContain('data.discountId');
    }
  });

  it('raw bytes that are not UTF-8', async () => {
    const json = new TextEncoder().encode(JSON.stringify({ ...price, data: { ...price.data, productId: 'sku-X' } }));
    const bad = new Uint8Array([...json.slice(0, 60), 0xff, 0xfe, ...json.slice(60)]);
    const res = await app.request('/v1/events', { method: 'POST', body: bad, headers: { 'content-type': 'application/json', ...auth } });
    await expectProblem(res, 400, 'invalid-json');
  });
  it('the wrong content type', async () => expectProblem(await post(price, { ...auth, 'content-type': 'text/plain' }), 415, 'unsupported-media-type'));
  it('a body over the limit, with Content-Length', async () => {
    const big = JSON.stringify({ ...price, pad: 'x'.repeat(10_000) });
    const res = await post(big, { ...auth, 'content-length': String(big.length) });
    expect(res.headers.get('connection')).toBe('close');
    await expectProblem(res, 413, 'payload-too-large');
  });
  it('a body over the limit, without Content-Length (streamed)', async () => {
    const chunk = new TextEncoder().encode('x'.repeat(1024));
    let sent = 0;
    const stream = new ReadableStream({
      pull(controller) {
        if (sent++ < 10) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const res = await app.request('/v1/events', {
      method: 'POST',
      body: stream,
      headers: { 'content-type': 'application/json', ...auth },
      duplex: 'half',
    } as RequestInit);
    await expectProblem(res, 413, 'payload-too-large');
  });
  it('an unknown event type', async () => expectProblem(await post({ ...price, type: 'com.example.nope' }, auth), 422, 'unknown-event-type'));
  it('a bad currency', async () => {
    const body = await expectProblem(await post({ ...price, data: { ...price.data, price: { currency: 'XYZ', amount: '1' } } }, auth), 422, 'invalid-event');
    expect(body.errors[0].path).toBe('data.price.currency');
  });
  it('a bad country', async () => {
    const body = await expectProblem(
      await post({ type: 'com.fedgate.pim.country.updated', data: { productId: 'sku-1', country: 'XX', available: true } }, auth),
      422,
      'invalid-event',
    );
    expect(body.detail).toContain('ISO 3166');
  });
  it('a float price', async () =>
    expectProblem(await post({ ...price, data: { ...price.data, price: { currency: 'EUR', amount: 19.99 } } }, auth), 422, 'invalid-event'));
  it('a product the PIS catalog does not know, where the site refuses unknown products', async () => {
    const body = await expectProblem(await post({ ...price, data: { ...price.data, productId: 'unknown-1' } }, auth), 422, 'unknown-product');
    expect(body.productId).toBe('unknown-1');
  });
  it('a region no site serves', async () => expectProblem(await post({ ...price, data: { ...price.data, region: 'mars' } }, auth), 422, 'unknown-region'));
  it('a batch with one bad event writes none of it', async () => {
    const body = await expectProblem(await post([price, { ...price, data: { ...price.data, productId: '' } }], auth), 422, 'invalid-event');
    expect(body.detail).toContain('event [1]');
  });
  it('a batch over the event limit', async () =>
    expectProblem(
      await post(
        Array.from({ length: 11 }, () => price),
        auth,
      ),
      413,
      'payload-too-large',
    ));
});

describe('publish: the seed design shape (POST /publish-event, seed 001)', () => {
  const seedPost = (body: unknown, headers: Record<string, string> = {}) =>
    app.request('/publish-event', { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });
  const seed = (e: { type: string; data: unknown }, extra: Record<string, unknown> = {}) => ({
    event_type: { 'com.fedgate.pim.price.updated': 'product-price-update', 'com.fedgate.pim.country.updated': 'product-country-update' }[e.type],
    data: e.data,
    ...extra,
  });

  it('writes the same event to the same sites as the native shape', async () => {
    const auth = { authorization: `Bearer ${await token()}` };
    const native = await post({ ...price, id: 'native-1' }, auth);
    const seeded = await seedPost(seed(price, { event_id: 'seed-1', timestamp: '2026-01-02T03:04:05Z' }), auth);
    expect(seeded.status).toBe(202);
    const [a, b] = [(await native.json()).events[0], (await seeded.json()).events[0]];
    expect(b).toEqual({ ...a, id: 'seed-1' });
    const [wa, wb] = written.flat();
    expect(wb).toMatchObject({ id: 'seed-1', type: wa!.type, subject: wa!.subject, data: wa!.data, time: '2026-01-02T03:04:05Z', source: wa!.source });
  });

  it('refuses what the native shape refuses, with the same problem codes, and writes nothing', async () => {
    const auth = { authorization: `Bearer ${await token()}` };
    const bad = { ...price, data: { ...price.data, price: { currency: 'XXQ', amount: '1' } } };
    const cases: Array<[string, Response, Response]> = [
      ['no token', await post(price), await seedPost(seed(price))],
      [
        'scope',
        await post(price, { authorization: `Bearer ${await token('cloud-a', ['publish:country'])}` }),
        await seedPost(seed(price), { authorization: `Bearer ${await token('cloud-a', ['publish:country'])}` }),
      ],
      ['currency', await post(bad, auth), await seedPost(seed(bad), auth)],
      [
        'region',
        await post({ ...price, data: { ...price.data, region: 'mars' } }, auth),
        await seedPost(seed({ ...price, data: { ...price.data, region: 'mars' } }), auth),
      ],
      ['batch', await post([price, bad], auth), await seedPost([seed(price), seed(bad)], auth)],
    ];
    for (const [what, native, seeded] of cases) {
      const [n, s] = [await native.json(), await seeded.json()];
      expect({ what, status: seeded.status, code: s.code }).toEqual({ what, status: native.status, code: n.code });
      expect(seeded.headers.get('content-type')).toBe('application/problem+json');
    }
    const unknown = await seedPost({ event_type: 'product-colour-update', data: {} }, auth);
    expect(unknown.status).toBe(422);
    expect(await unknown.json()).toMatchObject({
      code: 'unknown-event-type',
      knownTypes: ['product-price-update', 'product-discount-update', 'product-country-update'],
    });
    const missing = await seedPost({ event_type: 'product-price-update' }, auth);
    expect(await missing.json()).toMatchObject({ status: 422, code: 'invalid-event', detail: expect.stringContaining('data') });
    expect(written).toEqual([]);
  });
});

describe('publish: the API document', () => {
  it('answers 429 with Retry-After when too many events are in flight, and writes nothing', async () => {
    failKafka = 'overloaded';
    const body = await expectProblem(await post(price, { authorization: `Bearer ${await token()}` }), 429, 'overloaded');
    expect(body.detail).toContain('in flight');
  });

  it('refuses an event time more than the allowed skew ahead (a far-future time would pin the product under last-writer-wins)', async () => {
    const auth = { authorization: `Bearer ${await token()}` };
    const ahead = (ms: number) => ({ ...price, time: new Date(Date.now() + ms).toISOString() });
    const body = await expectProblem(await post(ahead(3600_000), auth), 422, 'invalid-event');
    expect(body.detail).toContain('ahead');
    expect((await post(ahead(60_000), auth)).status).toBe(202);
  });

  it('rate-limits a flooding publisher (429, Retry-After) while another publisher’s events all go through', async () => {
    const limited = createApp({ ...deps, publishLimiter: createRateLimiter({ perSecond: 1, burst: 20 }) });
    const send = async (subject: string) => {
      const t = await issueToken({ secretsDir: dir, topology, site: 'cloud-a', scopes: ['publish:price'], subject });
      const batch = Array.from({ length: 5 }, () => price);
      const res = await limited.request('/v1/events', {
        method: 'POST',
        body: JSON.stringify(batch),
        headers: { 'content-type': 'application/json', authorization: `Bearer ${t}` },
      });
      if (res.status >= 400) problems.push({ status: res.status, body: await res.clone().json() });
      return res;
    };
    const flood = [];
    for (let i = 0; i < 8; i++) flood.push(await send('flooder'));
    expect(flood.map((r) => r.status)).toEqual([202, 202, 202, 202, 429, 429, 429, 429]);
    expect(Number(flood[4]!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await flood[4]!.json()).code).toBe('rate-limited');
    const other = [];
    for (let i = 0; i < 4; i++) other.push((await send('calm')).status);
    expect(other).toEqual([202, 202, 202, 202]);
  });

  it('holds at most the configured live streams per client', async () => {
    const live = createApp({ ...deps, view: { recent: async () => ({ items: [], cursors: {}, unreachable: [] }) } as unknown as GatewayDeps['view'] });
    const headers = { authorization: `Bearer ${await token('cloud-b', ['read:federation'])}` };
    const open = () => live.request('/v1/federation/live', { headers });
    const a = await open();
    const b = await open();
    const c = await open();
    expect([a.status, b.status, c.status]).toEqual([200, 200, 429]);
    expect((await c.json()).code).toBe('rate-limited');
    await a.body!.cancel();
    await new Promise((r) => setTimeout(r, 50));
    const d = await open();
    expect(d.status).toBe(200);
    await Promise.all([b.body!.cancel(), d.body!.cancel()]);
  });

  it('refuses a country no site serves', async () => {
    const country = { type: 'com.fedgate.pim.country.updated', data: { productId: 'sku-1', country: 'BR', available: true } };
    await expectProblem(await post(country, { authorization: `Bearer ${await token()}` }), 422, 'unknown-country');
  });

  it('documents every problem this file saw, with its status and the Problem schema, and this file saw every documented code', () => {
    const doc = publicApiDocument('cloud-a');
    const responses = doc.paths!['/v1/events']!.post!.responses as Record<string, { 'x-problem-codes'?: string[] }>;
    const ajv = new Ajv2020({ strict: false });
    const isProblem = ajv.compile(doc.components!.schemas!.Problem as object);
    for (const p of problems) {
      expect(responses[String(p.status)]?.['x-problem-codes'], `${p.status} ${p.body.code}`).toContain(p.body.code);
      expect(isProblem(p.body), JSON.stringify(isProblem.errors)).toBe(true);
    }
    // 'internal' is the generic answer to an unexpected error: documented, not provoked here.
    const seen = new Set(problems.map((p) => p.body.code));
    expect(ROUTE_PROBLEMS.publish.filter((c) => c !== 'internal' && !seen.has(c))).toEqual([]);
  });
});

describe('the read side needs a token with a read scope', () => {
  let read: ReturnType<typeof createApp>;
  beforeAll(() => {
    const view = {
      health: async () => ({ sites: [], partial: false, unreachable: [] }),
      stats: async (windowSeconds: number) => ({ windowSeconds, sites: [], links: [], partial: false, unreachable: [] }),
      trace: async (eventId: string) => ({ eventId, publishedAt: null, stages: [], sites: [], partial: false, unreachable: [] }),
      productHistory: async (productId: string) => ({ productId, items: [], sites: [], partial: false, unreachable: [] }),
      deadLetters: async () => ({ items: [], sites: [], partial: false, unreachable: [] }),
    } as unknown as GatewayDeps['view'];
    read = createApp({ ...deps, view });
  });
  const paths = [
    '/v1/federation/health',
    '/v1/federation/stats?windowSeconds=60',
    '/v1/federation/events/e-1/trace',
    '/v1/federation/products/sku-1/events',
    '/v1/federation/dead-letters',
  ];

  it('answers 401 without a token, 403 with a publish-only token, 200 with read:federation from any site', async () => {
    const publishOnly = `Bearer ${await token()}`;
    const reader = `Bearer ${await token('onprem', ['read:federation'])}`;
    for (const path of [...paths, '/v1/federation/live']) {
      const none = await read.request(path);
      expect(none.status, path).toBe(401);
      expect((await none.json()).code).toBe('missing-token');
      const denied = await read.request(path, { headers: { authorization: publishOnly } });
      expect(denied.status, path).toBe(403);
      expect(await denied.json()).toMatchObject({ code: 'insufficient-scope', requiredScope: 'read:federation' });
    }
    for (const path of paths) expect((await read.request(path, { headers: { authorization: reader } })).status, path).toBe(200);
  });

  it('answers /metrics only to a scrape credential: the site’s metrics secret, or a token with read:metrics', async () => {
    expect((await read.request('/metrics')).status).toBe(401);
    expect((await read.request('/metrics', { headers: { authorization: `Bearer ${await token('cloud-a', ['read:federation'])}` } })).status).toBe(403);
    expect((await read.request('/metrics', { headers: { authorization: `Bearer ${await token('cloud-a', ['read:metrics'])}` } })).status).toBe(200);
    expect((await read.request('/metrics', { headers: { authorization: `Bearer ${METRICS_SECRET}` } })).status).toBe(200);
    const wrong = await read.request('/metrics', { headers: { authorization: `Bearer ${METRICS_SECRET}x` } });
    expect(wrong.status).toBe(401);
    expect((await wrong.json()).code).toBe('invalid-token');
    // The metrics secret opens nothing else.
    expect((await read.request('/v1/federation/stats', { headers: { authorization: `Bearer ${METRICS_SECRET}` } })).status).toBe(401);
  });

  it('counts every answer by its route pattern, never the raw path (bounded labels), errors included', async () => {
    responses.length = 0;
    await read.request('/v1/federation/events/some-event-id/trace');
    await read.request('/no/such/route/abc123');
    await post([]);
    expect(responses).toEqual([
      ['/v1/federation/events/:eventId/trace', 401],
      ['unmatched', 404],
      ['/v1/events', 401],
    ]);
  });

  it('keeps the docs, the API documents, the JWKS, health and the dashboard page public (the page holds no data)', async () => {
    for (const path of ['/docs', '/openapi.json', '/.well-known/jwks.json', '/healthz', '/dashboard'])
      expect((await read.request(path)).status, path).toBe(200);
  });
});
