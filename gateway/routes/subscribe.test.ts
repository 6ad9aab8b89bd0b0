import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audienceOf, ensureSigningKeys, issuerOf, issueToken, publicJwks } from '../../certs/index.ts';
import { completeEvent, PublishInputSchema } from '../../contract/index.ts';
import { parseTopology, type Selection } from '../../federation/index.ts';
import { createApp } from '../app.ts';
import type { GatewayDeps } from '../deps.ts';
import type { EventStreams } from '../event-stream.ts';
import { encodeCursor, type Positions } from '../stream-cursor.ts';
import { createVerifier } from '../verifier.ts';

/**
 * Route tests of GET /v1/subscribe with the real verifier and an in-memory
 * stand-in for the Kafka reader that records what it was asked to open.
 * The reading itself runs against real Kafka in test/delivery.test.ts.
 */
const topology = parseTopology(JSON.parse(readFileSync(new URL('../../topology.json', import.meta.url), 'utf8')));
const dir = mkdtempSync(join(tmpdir(), 'fedgate-keys-'));
const opened: { topics: string[]; selection: Selection; from: Positions | null }[] = [];
let kafkaDown = false;
let app: ReturnType<typeof createApp>;

const event = completeEvent(
  PublishInputSchema.parse({
    type: 'com.fedgate.pim.price.updated',
    id: 'e1',
    data: { productId: 'sku-1', region: 'eu', price: { currency: 'EUR', amount: '1.00' } },
  }),
  'cloud-a',
);
const streams: EventStreams = {
  async open(topics, selection, from) {
    if (kafkaDown) throw new Error('broker down');
    opened.push({ topics, selection, from });
    return {
      cursor: encodeCursor({ 'fed.price.eu': { 0: 0 } }),
      gaps: from ? [{ topic: 'fed.price.eu', partition: 0, from: 1, to: 3 }] : [],
      async run(onEvent, signal) {
        await onEvent({ cursor: encodeCursor({ 'fed.price.eu': { 0: 1 } }), event });
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      },
    };
  },
  async close() {},
};

const get = async (query: string, scopes: string[] = ['subscribe:events'], headers: Record<string, string> = {}) =>
  app.request(`/v1/subscribe${query}`, {
    headers: { authorization: `Bearer ${await issueToken({ secretsDir: dir, topology, site: 'cloud-b', scopes, ttlSeconds: 60 })}`, ...headers },
  });

/** The frames of an SSE answer until `count` are read; the stream is then cancelled (the client goes away). */
async function frames(res: Response, count: number): Promise<string[]> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  while (text.split('\n\n').length <= count) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  await reader.cancel();
  return text.split('\n\n').slice(0, count);
}

beforeAll(async () => {
  for (const s of topology.sites) await ensureSigningKeys(dir, s.name);
  const deps = {
    topology,
    site: 'cloud-a',
    log: pino({ level: 'silent' }),
    verify: createVerifier({ audience: audienceOf(topology), issuers: new Map(topology.sites.map((s) => [issuerOf(s.name), () => publicJwks(dir, s.name)])) }),
    metrics: { published() {}, rejected() {}, publishSeconds() {}, batch() {}, response() {}, render: async () => ({ contentType: 'text/plain', body: '' }) },
    limits: { maxBodyBytes: 4096, maxBatchEvents: 10, liveStreamsPerClient: 1 },
    streams,
  } as unknown as GatewayDeps;
  app = createApp(deps);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('GET /v1/subscribe', () => {
  it('streams ready (with the starting cursor), then each event with its cursor as id, for what the filter selects', async () => {
    const res = await get('?kinds=price&regions=eu');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const [ready, first] = await frames(res, 2);
    expect(ready).toContain('event: ready');
    expect(ready).toContain(`id: ${encodeCursor({ 'fed.price.eu': { 0: 0 } })}`);
    expect(first).toContain('event: com.fedgate.pim.price.updated');
    expect(first).toContain(`id: ${encodeCursor({ 'fed.price.eu': { 0: 1 } })}`);
    expect(
      JSON.parse(
        first!
          .split('\n')
          .find((l) => l.startsWith('data: '))!
          .slice(6),
      ),
    ).toMatchObject({ id: 'e1', subject: 'sku-1' });
    // cloud-a serves eu; its copies come from the other sites.
    expect(opened.at(-1)).toMatchObject({ selection: { kinds: ['price'], regions: ['eu'] }, from: null });
    expect(opened.at(-1)!.topics).toEqual(['fed.price.eu', 'cloud-b.fed.price.eu', 'onprem.fed.price.eu']);
  });

  it('resumes after Last-Event-ID, and says first what retention deleted meanwhile', async () => {
    const cursor = encodeCursor({ 'fed.price.eu': { 0: 1 } });
    const [, gap] = await frames(await get('?kinds=price', ['subscribe:events'], { 'last-event-id': cursor }), 2);
    expect(opened.at(-1)!.from).toEqual({ 'fed.price.eu': { 0: 1 } });
    expect(gap).toContain('event: gap');
    const [ready] = await frames(await get(`?kinds=price&lastEventId=${cursor}`), 1);
    expect(ready).toContain('event: ready');
    expect(opened.at(-1)!.from).toEqual({ 'fed.price.eu': { 0: 1 } });
  });

  it('answers problem+json for a bad request, before opening anything', async () => {
    const before = opened.length;
    const problem = async (res: Response) => ({ status: res.status, code: ((await res.json()) as { code: string }).code });
    expect(await problem(await app.request('/v1/subscribe'))).toEqual({ status: 401, code: 'missing-token' });
    expect(await problem(await get('', ['read:federation']))).toEqual({ status: 403, code: 'insufficient-scope' });
    expect(await problem(await get('?regions=us'))).toEqual({ status: 400, code: 'invalid-query' });
    expect(await problem(await get('?countries=US'))).toEqual({ status: 400, code: 'invalid-query' });
    expect(await problem(await get('?kinds=prices'))).toEqual({ status: 400, code: 'invalid-query' });
    expect(await problem(await get('?since=1'))).toEqual({ status: 400, code: 'invalid-query' });
    expect(await problem(await get('', ['subscribe:events'], { 'last-event-id': 'c1.not-json' }))).toEqual({ status: 400, code: 'invalid-query' });
    expect(opened.length).toBe(before);
    kafkaDown = true;
    const down = await get('');
    expect(await problem(down)).toEqual({ status: 503, code: 'kafka-unavailable' });
    kafkaDown = false;
  });

  it('holds at most the configured streams per client, and frees the place when one closes', async () => {
    const first = await get('');
    expect(first.status).toBe(200);
    const reader = first.body!.getReader();
    await reader.read();
    const second = await get('');
    expect(second.status).toBe(429);
    expect(((await second.json()) as { code: string }).code).toBe('rate-limited');
    await reader.cancel();
    await new Promise((r) => setTimeout(r, 50));
    const third = await get('');
    expect(third.status).toBe(200);
    await third.body!.cancel();
  });
});
