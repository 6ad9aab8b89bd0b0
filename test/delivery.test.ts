import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import mqtt from 'mqtt';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueToken, webhookSecrets } from '../certs/index.ts';
import type { PublishInput } from '../contract/index.ts';
import { isOurProcess } from '../deploy/index.ts';
import { createEventGenerator } from '../drills/event-generator.ts';
import { deliveryDeadLetterTopic } from '../federation/index.ts';
import { within } from '../instances/delivery/broker-credentials.ts';
import { verifySignature } from '../instances/delivery/signature.ts';
import { TEST_ENV } from './support/env.ts';
import { createTestFederation, REPO, type TestFederation, testTopology } from './support/federation.ts';
import { CHROMIUM_ARGS, findChromium } from './support/prerequisites.ts';
import { issueTestServerCert } from './support/test-ca.ts';

/**
 * Downstream delivery on two real sites (brokers, MM2 over mTLS, gateways,
 * instances) to real receivers: an HTTPS webhook that verifies every
 * signature, a RabbitMQ queue, an MQTT subscriber, and a webhook that
 * answers 500 forever. Events are published at both sites through the
 * gateways; what each receiver got is checked against the ledger of
 * accepted events and each subscription's filter, written out here from the
 * topology (not from the delivery code).
 */
const RUN = randomUUID().slice(0, 8);
const PREFIX = `fedgate-test-${RUN}`;
const HOOK_IP = '127.221.0.200';
const ERP_PORT = 18555;
const POISON_PORT = 18556;
const POISON_ATTEMPTS = 5;
const EVENTS = 5000;
/** Published at 100 events/s first: the latency figures are taken there. */
const PACED = 1000;
const OUTAGE_MS = 20_000;
const BATCH = 100;
const tlsDir = mkdtempSync(join(tmpdir(), 'fedgate-delivery-'));
const receiverTls = issueTestServerCert(tlsDir, HOOK_IP);

const topology = testTopology(221, [
  {
    name: 'a',
    regions: ['eu'],
    countries: ['DE'],
    delivery: {
      amqp: { url: 'amqp://127.0.0.1:5672' },
      webhookOrigins: [`https://${HOOK_IP}:${ERP_PORT}`, `https://${HOOK_IP}:${POISON_PORT}`],
      subscriptions: [
        {
          name: 'erp',
          protocol: 'webhook',
          url: `https://${HOOK_IP}:${ERP_PORT}/pis/events`,
          caFile: receiverTls.caFile,
          kinds: ['price', 'discount'],
          // Outlives the 20 s outage below without dead-lettering (about 50 s of retries).
          retry: { attempts: 100, baseMs: 100, maxMs: 1000 },
        },
        { name: 'shop', protocol: 'amqp', exchange: PREFIX, queue: `${PREFIX}.shop` },
        {
          name: 'poison',
          protocol: 'webhook',
          url: `https://${HOOK_IP}:${POISON_PORT}/always-500`,
          caFile: receiverTls.caFile,
          kinds: ['country'],
          retry: { attempts: POISON_ATTEMPTS, baseMs: 2000, maxMs: 2000 },
        },
      ],
    },
  },
  {
    name: 'b',
    regions: ['us'],
    countries: ['US'],
    delivery: {
      mqtt: { url: 'mqtt://127.0.0.1:1883' },
      subscriptions: [{ name: 'stock', protocol: 'mqtt', topicPrefix: PREFIX, kinds: ['country', 'price'] }],
    },
  },
]);

interface Published {
  id: string;
  site: string;
  kind: 'price' | 'discount' | 'country';
  product: string;
  /** Region, country, or '' for a discount in every region. */
  scope: string;
}
interface Received {
  id: string;
  at: number;
  publishedat: number;
  /** The replay job that re-sent it (the CloudEvent extension `fedgatereplay`), if any. */
  replay?: string;
}

const kindOfType = (t: string) => t.split('.')[3] as Published['kind'];

/** What each subscription's filter selects, from the topology above. */
const EXPECTED: Record<string, (e: Published) => boolean> = {
  erp: (e) => (e.kind === 'price' && e.scope === 'eu') || (e.kind === 'discount' && (e.scope === 'eu' || e.scope === '')),
  shop: (e) => EXPECTED.erp!(e) || (e.kind === 'country' && e.scope === 'DE'),
  poison: (e) => e.kind === 'country' && e.scope === 'DE',
  stock: (e) => (e.kind === 'country' && e.scope === 'US') || (e.kind === 'price' && e.scope === 'us'),
  /** GET /v1/subscribe?kinds=price,discount at b. */
  sse: (e) => (e.kind === 'price' && e.scope === 'us') || (e.kind === 'discount' && (e.scope === 'us' || e.scope === '')),
};

/** The unit whose order delivery keeps: one source site's events of one product on one topic (kind and scope). */
const orderUnit = (e: Published, regionOfAll: string) => `${e.site}|${e.kind}|${e.product}|${e.kind === 'discount' && e.scope === '' ? regionOfAll : e.scope}`;

describe('downstream delivery: webhook, RabbitMQ, MQTT, on two real sites', () => {
  let fed: TestFederation;
  const ledger: Published[] = [];
  const got: Record<string, Received[]> = { erp: [], shop: [], stock: [], sse: [] };
  const poisonAttempts = new Map<string, number>();
  const refusedSignatures: string[] = [];
  /** What the AMQP and MQTT receivers found wrong in a message (asserted empty at the end). */
  const malformed: string[] = [];
  let erpServer: Server | null = null;
  let poisonServer: Server | null = null;
  let rabbit: amqp.ChannelModel | null = null;
  let mqttClient: mqtt.MqttClient | null = null;
  const figures: Record<string, unknown> = {};

  function startErp(secret: string): Promise<Server> {
    const server = createServer({ cert: receiverTls.cert, key: receiverTls.key }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const verdict = verifySignature(req.headers['fedgate-signature'] as string | undefined, body, secret);
        if (!verdict.ok) {
          refusedSignatures.push(verdict.reason);
          res.writeHead(401).end();
          return;
        }
        const event = JSON.parse(body.toString('utf8'));
        got.erp!.push({ id: event.id, at: Date.now(), publishedat: event.publishedat, ...(event.fedgatereplay ? { replay: event.fedgatereplay } : {}) });
        res.writeHead(204).end();
      });
    });
    return new Promise((resolve) => server.listen(ERP_PORT, HOOK_IP, () => resolve(server)));
  }

  /** Publishes in batches of `batch`, each site's batches in turn; with `paceMs`, one batch per `paceMs` at most. */
  async function publishAll(events: { site: string; input: PublishInput }[], batch = BATCH, paceMs = 0): Promise<void> {
    const tokens = new Map<string, string>();
    for (const site of ['a', 'b']) {
      tokens.set(
        site,
        await issueToken({ secretsDir: fed.certsDir, topology, site, scopes: ['publish:price', 'publish:discount', 'publish:country'], ttlSeconds: 900 }),
      );
    }
    for (let i = 0; i < events.length; i += batch) {
      const due = Date.now() + paceMs;
      const chunk = events.slice(i, i + batch);
      const site = chunk[0]!.site;
      const res = await fetch(`${fed.launcher.gatewayUrl(site)}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens.get(site)}` },
        body: JSON.stringify(chunk.map((c) => c.input)),
      });
      expect(res.status, await res.clone().text()).toBe(202);
      const answer = (await res.json()) as { events: { id: string }[] };
      // The ledger holds what was acknowledged, in publish order.
      answer.events.forEach((a, j) => {
        const input = chunk[j]!.input as any;
        expect(a.id).toBe(input.id);
        ledger.push({
          id: a.id,
          site,
          kind: kindOfType(input.type),
          product: input.data.productId,
          scope: input.data.region ?? input.data.country ?? '',
        });
      });
      if (Date.now() < due) await new Promise((r) => setTimeout(r, due - Date.now()));
    }
  }

  async function eventually(what: string, ok: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await ok())) {
      if (Date.now() > deadline) throw new Error(`${what}: not reached in ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** Event ids on a subscription's dead-letter topic at `site`, with the reason of each. */
  async function deadLetters(site: string, subscription: string): Promise<Map<string, { reason: string; attempts: number }>> {
    const topic = deliveryDeadLetterTopic(subscription);
    const admin = fed.local(site).admin();
    await admin.connect();
    const high = Number((await admin.fetchTopicOffsets(topic))[0]!.high);
    await admin.disconnect();
    const out = new Map<string, { reason: string; attempts: number }>();
    if (high === 0) return out;
    const consumer = fed.local(site).consumer({ groupId: `test-${randomUUID()}` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          out.set(String(message.headers?.fedgate_dlq_event_id), {
            reason: String(message.headers?.fedgate_dlq_reason),
            attempts: Number(String(message.headers?.fedgate_dlq_attempts)),
          });
          if (Number(message.offset) + 1 >= high) resolve();
        },
      });
    });
    await consumer.disconnect();
    return out;
  }

  /**
   * A subscribe stream at `site`, read with fetch as a browser's EventSource would: frames of `id:`, `event:`
   * and `data:` lines. Resolves once `ready` arrived; `lastId` follows every id received.
   */
  const sse = { lastId: '', frames: 0, controller: null as AbortController | null, done: null as Promise<void> | null };
  async function openStream(site: string, query: string): Promise<void> {
    const token = await issueToken({ secretsDir: fed.certsDir, topology, site, scopes: ['subscribe:events'], ttlSeconds: 900 });
    sse.controller = new AbortController();
    const res = await within(
      fetch(`${fed.launcher.gatewayUrl(site)}/v1/subscribe?${query}`, {
        headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream', ...(sse.lastId ? { 'last-event-id': sse.lastId } : {}) },
        signal: sse.controller.signal,
      }),
      15_000,
      'the subscribe stream answers',
    );
    // (The body of a 200 never ends: read it only to show why a stream was refused.)
    if (res.status !== 200) throw new Error(`subscribe at ${site}: ${res.status} ${await res.text()}`);
    let ready!: () => void;
    const isReady = new Promise<void>((r) => (ready = r));
    sse.done = (async () => {
      const decoder = new TextDecoder();
      let buffer = '';
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          let end = buffer.indexOf('\n\n');
          while (end >= 0) {
            const frame = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            end = buffer.indexOf('\n\n');
            const field = (name: string) =>
              frame
                .split('\n')
                .filter((l) => l.startsWith(`${name}:`))
                .map((l) => l.slice(name.length + 1).replace(/^ /, ''))
                .join('\n');
            const event = field('event');
            if (event === 'ready') ready();
            else if (event.startsWith('com.fedgate.')) {
              const e = JSON.parse(field('data'));
              got.sse!.push({ id: e.id, at: Date.now(), publishedat: e.publishedat });
            } else if (event) malformed.push(`SSE event ${event}: ${field('data')}`);
            if (field('id')) sse.lastId = field('id');
            sse.frames++;
          }
        }
      } catch (err) {
        if ((err as Error).name !== 'AbortError') malformed.push(`SSE read failed: ${(err as Error).message}`);
      }
    })();
    await within(isReady, 15_000, 'the subscribe stream is ready');
  }

  beforeAll(async () => {
    fed = createTestFederation('delivery', topology, { env: { LOG_LEVEL: 'warn' } });
    // The receiver knows the subscription's secret (it is created on first use; the instance reads the same file).
    const [secret] = webhookSecrets(fed.certsDir, 'a', 'erp');
    erpServer = await startErp(secret!);
    poisonServer = createServer({ cert: receiverTls.cert, key: receiverTls.key }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const id = JSON.parse(Buffer.concat(chunks).toString('utf8')).id as string;
        poisonAttempts.set(id, (poisonAttempts.get(id) ?? 0) + 1);
        res.writeHead(500).end('always failing');
      });
    });
    await new Promise<void>((resolve) => poisonServer!.listen(POISON_PORT, HOOK_IP, resolve));

    // The downstream systems' own clients: a queue on RabbitMQ, a subscription on Mosquitto.
    rabbit = await within(amqp.connect('amqp://127.0.0.1:5672'), 10_000, 'connecting to RabbitMQ');
    const ch = await rabbit.createChannel();
    await ch.assertQueue(`${PREFIX}.shop`, { durable: true });
    await ch.prefetch(200);
    await ch.consume(`${PREFIX}.shop`, (msg) => {
      if (!msg) return;
      const event = JSON.parse(msg.content.toString('utf8'));
      if (msg.properties.messageId !== event.id) malformed.push(`AMQP message id ${msg.properties.messageId} for event ${event.id}`);
      got.shop!.push({ id: event.id, at: Date.now(), publishedat: event.publishedat });
      ch.ack(msg);
    });
    mqttClient = await within(
      mqtt.connectAsync('mqtt://127.0.0.1:1883', { clientId: `${PREFIX}-receiver`, protocolVersion: 5, clean: true, reconnectPeriod: 0 }),
      10_000,
      'connecting to Mosquitto',
    );
    await within(mqttClient.subscribeAsync(`${PREFIX}/#`, { qos: 1 }), 10_000, 'subscribing on Mosquitto');
    mqttClient.on('message', (topic, payload) => {
      const event = JSON.parse(payload.toString('utf8'));
      const scope = event.data.region ?? event.data.country;
      if (topic !== `${PREFIX}/${kindOfType(event.type)}/${scope}/${event.subject}`) malformed.push(`MQTT topic ${topic} for ${event.id}`);
      got.stock!.push({ id: event.id, at: Date.now(), publishedat: event.publishedat });
    });

    await fed.launcher.up();
    // A subscriber of b's price and discount events, from the live end (before anything is published).
    await openStream('b', 'kinds=price,discount');
  });

  afterAll(async () => {
    sse.controller?.abort();
    await sse.done;
    const pids = fed?.startedPids() ?? [];
    await fed?.stop();
    for (const pid of pids) expect(isOurProcess(pid, fed.runDir)).toBe(false);
    erpServer?.closeAllConnections();
    erpServer?.close();
    poisonServer?.closeAllConnections();
    poisonServer?.close();
    if (rabbit) {
      const ch = await rabbit.createChannel();
      await ch.deleteQueue(`${PREFIX}.shop`);
      await ch.deleteExchange(PREFIX);
      await rabbit.close();
    }
    await mqttClient?.endAsync();
    rmSync(tlsDir, { recursive: true, force: true });
  });

  it('delivers exactly the selected events, each at least once and in order per product, through a webhook outage, a killed RabbitMQ connection, a SIGKILLed instance and a stream resume; a poison subscriber dead-letters alone', async () => {
    const generator = createEventGenerator({ topology, products: 150, seed: 7 });
    const events = Array.from({ length: EVENTS }, (_, i) => ({
      site: Math.floor(i / BATCH) % 2 === 0 ? 'a' : 'b',
      input: { ...generator.next(), id: `dlv-${RUN}-${i}` } as PublishInput,
    }));
    const expectedIds = (sub: string, from = ledger) => new Set(from.filter(EXPECTED[sub]!).map((e) => e.id));
    const has = (sub: string, ids: Set<string>) => {
      const seen = new Set(got[sub]!.map((r) => r.id));
      return [...ids].every((id) => seen.has(id));
    };

    // Warm-up: every subscription's group has joined and delivered once before anything is timed.
    const warmUp = Array.from({ length: 2 * BATCH }, (_, i) => ({
      site: i < BATCH ? 'a' : 'b',
      input: { ...generator.next(), id: `dlv-${RUN}-warm-${i}` } as PublishInput,
    }));
    await publishAll(warmUp);
    await eventually('warm-up delivered', () => ['erp', 'shop', 'stock', 'sse'].every((s) => has(s, expectedIds(s))), 90_000);

    // Phase 1: every receiver up, 100 events/s (10 per 100 ms, alternating sites): the latency figures are taken here.
    const before = ledger.length;
    const started = Date.now();
    await publishAll(
      events.slice(0, PACED).map((e, i) => ({ ...e, site: Math.floor(i / 10) % 2 === 0 ? 'a' : 'b' })),
      10,
      100,
    );
    const phase1 = ledger.slice(before);
    await eventually('phase 1 delivered', () => ['erp', 'shop', 'stock', 'sse'].every((s) => has(s, expectedIds(s))), 90_000);
    const phase1Ms = Date.now() - started;
    // The same window's consumed (effects) and delivered stages at a, from its monitoring.
    const stats = (await (
      await fetch(`${fed.launcher.instanceUrl('a')}/v1/stats?windowSeconds=${Math.ceil(phase1Ms / 1000) + 2}`, { headers: fed.launcher.instanceHeaders('a') })
    ).json()) as { stages: { stage: string; p50: number | null; p99: number | null }[] };
    figures.stagesAtA = Object.fromEntries(
      stats.stages.filter((s) => ['consumed', 'delivered'].includes(s.stage)).map((s) => [s.stage, { p50Ms: s.p50, p99Ms: s.p99 }]),
    );
    const siteOfSub: Record<string, string> = { erp: 'a', shop: 'a', stock: 'b', sse: 'b' };
    const publishedAt = new Map(ledger.map((e) => [e.id, e.site]));
    for (const sub of ['erp', 'shop', 'stock', 'sse']) {
      const ids = expectedIds(sub, phase1);
      const quantiles = (rows: Received[]) => {
        const lat = rows.map((r) => r.at - r.publishedat).sort((x, y) => x - y);
        const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
        return { p50Ms: q(0.5), p99Ms: q(0.99) };
      };
      const rows = got[sub]!.filter((r) => ids.has(r.id));
      figures[sub] = {
        events: ids.size,
        ...quantiles(rows),
        // Events published at the subscription's own site, and copies that came through MM2.
        local: quantiles(rows.filter((r) => publishedAt.get(r.id) === siteOfSub[sub])),
        copied: quantiles(rows.filter((r) => publishedAt.get(r.id) !== siteOfSub[sub])),
        eventsPerSecondWhilePublishing: Math.round((ids.size * 1000) / phase1Ms),
      };
    }

    // Phase 2: the webhook receiver goes away for 20 s, and RabbitMQ closes fedgate's connection, while events keep coming.
    erpServer!.closeAllConnections();
    await new Promise((r) => erpServer!.close(r));
    const listed = execFileSync('rabbitmqctl', ['-q', 'list_connections', '--no-table-headers', 'pid', 'client_properties'], { encoding: 'utf8' });
    const ours = listed.split('\n').filter((l) => l.includes(`"connection_name","fedgate ${topology.federation} a shop"`));
    expect(ours.length, listed).toBeGreaterThan(0);
    for (const line of ours)
      execFileSync('rabbitmqctl', ['-q', 'close_connection', line.split('\t')[0]!, 'fedgate test: connection closed by the broker'], { stdio: 'pipe' });
    // The stream's client goes away too, and comes back with the last id it saw.
    sse.controller!.abort();
    await sse.done;
    const outageAt = Date.now();
    const middle = PACED + (EVENTS - PACED) / 2;
    await publishAll(events.slice(PACED, middle));
    // And a's instance is SIGKILLed while its subscriptions are delivering (and the webhook retrying), then started again.
    await fed.launcher.restart('a', ['instance'], { hard: true });
    await openStream('b', 'kinds=price,discount');
    await publishAll(events.slice(middle));
    await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - outageAt))));
    const backlog = expectedIds('erp').size - new Set(got.erp!.map((r) => r.id)).size;
    const reopenedAt = Date.now();
    erpServer = await startErp(webhookSecrets(fed.certsDir, 'a', 'erp')[0]!);

    await eventually('all delivered', () => ['erp', 'shop', 'stock', 'sse'].every((s) => has(s, expectedIds(s))), 120_000);
    figures.erpBacklogAfterOutage = { events: backlog, drainedInMs: Date.now() - reopenedAt };
    // Isolation, by counts: when the others had everything, the poison subscription was still working through its events.
    const poisonExpected = expectedIds('poison');
    const poisonDoneWhenOthersWere = (await deadLetters('a', 'poison')).size;
    figures.poisonDeadLetteredWhenOthersDone = `${poisonDoneWhenOthersWere} of ${poisonExpected.size}`;
    expect(poisonDoneWhenOthersWere).toBeLessThan(poisonExpected.size);

    // Exactly the selected events: nothing missing, nothing another filter's.
    const byId = new Map(ledger.map((e) => [e.id, e]));
    for (const sub of ['erp', 'shop', 'stock', 'sse']) {
      const ids = expectedIds(sub);
      const received = got[sub]!.map((r) => r.id);
      expect(
        received.filter((id) => !ids.has(id)),
        `${sub} got events its filter does not select`,
      ).toEqual([]);
      expect(
        [...ids].filter((id) => !received.includes(id)),
        `${sub} misses events`,
      ).toEqual([]);
      // Order per unit against the ledger: each event's first arrival comes after the first arrival of every earlier
      // event of its unit. A repeat (at least once: resent after the crash, before its commit) is counted.
      const regionOfAll = sub === 'stock' || sub === 'sse' ? 'us' : 'eu';
      const position = new Map(ledger.map((e, i) => [e.id, i]));
      const lastInUnit = new Map<string, number>();
      let duplicates = 0;
      const seen = new Set<string>();
      for (const id of received) {
        if (seen.has(id)) {
          duplicates++;
          continue;
        }
        seen.add(id);
        const unit = orderUnit(byId.get(id)!, regionOfAll);
        const pos = position.get(id)!;
        expect(pos, `${sub}: ${id} came after a later event of ${unit}`).toBeGreaterThan(lastInUnit.get(unit) ?? -1);
        lastInUnit.set(unit, pos);
      }
      (figures[sub] as Record<string, unknown>).duplicates = duplicates;
    }
    // b's receivers saw no crash: nothing twice there. The stream resumed after its disconnect with nothing missing and nothing twice.
    expect((figures.sse as Record<string, unknown>).duplicates).toBe(0);
    expect((figures.stock as Record<string, unknown>).duplicates).toBe(0);
    // Every request to the webhook was signed correctly; every message carried its id and topic.
    expect(refusedSignatures).toEqual([]);
    expect(malformed).toEqual([]);

    // The poison subscription: each of its events tried POISON_ATTEMPTS times, then dead-lettered with the last error.
    await eventually('poison dead-lettered', async () => (await deadLetters('a', 'poison')).size >= poisonExpected.size, 180_000);
    const dead = await deadLetters('a', 'poison');
    expect(new Set(dead.keys())).toEqual(poisonExpected);
    for (const { reason, attempts } of dead.values()) {
      expect(reason).toMatch(/^HTTP 500 .*always failing/);
      expect(attempts).toBe(POISON_ATTEMPTS);
    }
    // The receiver saw each at least that often (more for those in retry when the instance was killed: their count started again).
    for (const id of poisonExpected) expect(poisonAttempts.get(id), id).toBeGreaterThanOrEqual(POISON_ATTEMPTS);
    figures.poisonAttemptsAboveTheBound = [...poisonExpected].filter((id) => poisonAttempts.get(id)! > POISON_ATTEMPTS).length;

    // The stream's bad requests: problem+json with a stable code.
    const subscribe = async (query: string, scopes: string[], headers: Record<string, string> = {}) => {
      const token = await issueToken({ secretsDir: fed.certsDir, topology, site: 'b', scopes, ttlSeconds: 60 });
      const res = await fetch(`${fed.launcher.gatewayUrl('b')}/v1/subscribe?${query}`, { headers: { authorization: `Bearer ${token}`, ...headers } });
      return { status: res.status, code: ((await res.json()) as { code: string }).code };
    };
    expect(await subscribe('kinds=price', ['read:federation'])).toEqual({ status: 403, code: 'insufficient-scope' });
    expect(await subscribe('regions=eu', ['subscribe:events'])).toEqual({ status: 400, code: 'invalid-query' });
    expect(await subscribe('kinds=prices', ['subscribe:events'])).toEqual({ status: 400, code: 'invalid-query' });
    expect(await subscribe('kinds=price', ['subscribe:events'], { 'last-event-id': 'not-a-cursor' })).toEqual({ status: 400, code: 'invalid-query' });

    // The trace shows the delivery: `delivered` rows in the site's monitoring, one per delivered event and subscription.
    const one = [...expectedIds('erp')][0]!;
    const trace = await eventually2(async () => {
      const res = await fetch(`${fed.launcher.instanceUrl('a')}/v1/events/${one}/trace`, { headers: fed.launcher.instanceHeaders('a') });
      return (await res.json()) as { stages: { stage: string; consumer: string }[] };
    });
    expect(trace.stages.filter((s) => s.stage === 'delivered').map((s) => s.consumer)).toEqual(expect.arrayContaining(['webhook:erp', 'amqp:shop']));

    const out = join(REPO, 'test-results');
    mkdirSync(out, { recursive: true });

    // The dashboard at b lists every subscription of the federation with its state and counts (headless Chromium).
    const executablePath = findChromium(TEST_ENV);
    expect(executablePath, 'no Chromium: the preflight of npm test names how to install one').not.toBeNull();
    const browser = await chromium.launch({ executablePath: executablePath!, args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
      await page.goto(`${fed.launcher.gatewayUrl('b')}/dashboard`);
      await page.fill('#token-input', await issueToken({ secretsDir: fed.certsDir, topology, site: 'b', scopes: ['read:federation'], ttlSeconds: 600 }));
      await page.click('#signin button');
      const row = (name: string) => page.locator(`#subscriptions tbody tr[data-subscription="${name}"] td`);
      await page.waitForSelector('#subscriptions tbody tr[data-subscription="a/webhook:poison"]', { timeout: 15_000 });
      // Counts are since a's instance restarted (mid-run); lag is Kafka's.
      const poisonRow = await row('a/webhook:poison').allTextContents();
      expect(poisonRow.slice(0, 5)).toEqual(['a', 'webhook:poison', 'up to date', '0', '0']);
      expect(Number(poisonRow[5])).toBeGreaterThan(0);
      expect(Number(poisonRow[5])).toBeLessThanOrEqual(poisonExpected.size);
      expect(poisonRow[6]).toMatch(/HTTP 500/);
      const erpRow = await row('a/webhook:erp').allTextContents();
      expect(erpRow.slice(0, 4)).toEqual(['a', 'webhook:erp', 'up to date', '0']);
      expect(Number(erpRow[4])).toBeGreaterThan(0);
      expect(await row('b/mqtt:stock').allTextContents()).toEqual(['b', 'mqtt:stock', 'up to date', '0', String(got.stock!.length), '0', '']);
      expect((await row('a/amqp:shop').allTextContents()).slice(0, 4)).toEqual(['a', 'amqp:shop', 'up to date', '0']);
      // b's own subscription is a replay target in its replay form; a's are not.
      const targets = await page.locator('#replay-consumer option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
      expect(targets.filter((t) => t.startsWith('subscription:'))).toEqual(['subscription:stock']);
      await page.screenshot({ path: join(out, 'dashboard-subscriptions.png'), fullPage: true });
    } finally {
      await browser.close();
    }

    writeFileSync(join(out, 'delivery-figures.json'), `${JSON.stringify(figures, null, 2)}\n`);
    console.log(`delivery figures: ${JSON.stringify(figures)}`);
  }, 480_000);

  it('replays a set of products to the erp webhook: exactly what its filter selects of the ledger, oldest first per product, marked with the job', async () => {
    // Three products the erp subscription received events of, and what the ledger says it selects of them.
    const products = [...new Set(ledger.filter(EXPECTED.erp!).map((e) => e.product))].slice(0, 3);
    expect(products).toHaveLength(3);
    const expected = new Set(ledger.filter((e) => products.includes(e.product) && EXPECTED.erp!(e)).map((e) => e.id));
    const read = await issueToken({ secretsDir: fed.certsDir, topology, site: 'a', scopes: ['read:federation'], ttlSeconds: 600 });
    type Item = { eventId: string; productId: string; time: string; type: string };
    const history = async () => {
      const res = await fetch(`${fed.launcher.gatewayUrl('a')}/v1/federation/history?products=${products.join(',')}&limit=500`, {
        headers: { authorization: `Bearer ${read}` },
      });
      return ((await res.json()) as { items: Item[] }).items;
    };
    // The stores hold every selected event before the replay reads them.
    await eventually(
      "the stores hold the products' history",
      async () => {
        const ids = new Set((await history()).map((i) => i.eventId));
        return [...expected].every((id) => ids.has(id));
      },
      60_000,
    );

    const token = await issueToken({ secretsDir: fed.certsDir, topology, site: 'b', scopes: ['replay:events'], ttlSeconds: 600 });
    const call = (path: string, body?: unknown) =>
      fetch(`${fed.launcher.gatewayUrl('a')}${path}`, {
        method: body ? 'POST' : 'GET',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
    const unknown = await call('/v1/replays', { products, consumer: 'subscription:billing' });
    expect(unknown.status).toBe(422);
    expect(await unknown.json()).toMatchObject({ code: 'unknown-subscription' });

    const before = got.erp!.length;
    const started = await call('/v1/replays', { products, consumer: 'subscription:erp', pageSize: 7 });
    expect(started.status, await started.clone().text()).toBe(202);
    const { id } = (await started.json()) as { id: string };
    let job: { state: string; sent: number; skipped: number; read: number } = { state: 'running', sent: 0, skipped: 0, read: 0 };
    await eventually(
      'the replay finishes',
      async () => {
        job = (await (await call(`/v1/replays/${id}`)).json()) as typeof job;
        return job.state !== 'running';
      },
      120_000,
    );
    expect(job).toMatchObject({ state: 'done', sent: expected.size });
    expect(job.read).toBe(job.sent + job.skipped);

    // The webhook gets each selected event once more, with the job's mark, and nothing else of the job.
    const replayed = () => got.erp!.slice(before).filter((r) => r.replay === id);
    await eventually('the replayed events at the webhook', () => replayed().length >= expected.size, 120_000);
    await new Promise((r) => setTimeout(r, 2000));
    expect(new Set(replayed().map((r) => r.id))).toEqual(expected);
    expect(replayed()).toHaveLength(expected.size);
    // Per product, in the order of the stored history, oldest first (the stores' order: event time, then id).
    const stored = (await history()).filter((i) => expected.has(i.eventId)).reverse();
    for (const product of products) {
      const want = stored.filter((i) => i.productId === product).map((i) => i.eventId);
      const arrived = replayed()
        .map((r) => r.id)
        .filter((rid) => want.includes(rid));
      expect(arrived, product).toEqual(want);
    }
    console.log(`replay to the erp webhook: ${JSON.stringify({ products: products.length, sent: job.sent, skipped: job.skipped, read: job.read })}`);
  }, 300_000);

  async function eventually2<T extends { stages: { stage: string; consumer: string }[] }>(read: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const v = await read().catch(() => null);
      if (v && v.stages.filter((s) => s.stage === 'delivered').length >= 2) return v;
      if (Date.now() > deadline) return v ?? ({ stages: [] } as unknown as T);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
});
