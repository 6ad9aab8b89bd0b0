/**
 * Downstream delivery per protocol, side by side in one run: one site whose
 * instance delivers every event to an HTTPS webhook (the receiver checks each
 * signature), a RabbitMQ queue and MQTT, while a client reads the gateway's
 * subscribe stream. Real RabbitMQ (127.0.0.1:5672) and Mosquitto
 * (127.0.0.1:1883), the site's database on the PostgreSQL server.
 *
 *   npm run bench:delivery [-- --quick] [-- --profile]
 *
 * 1. Burst: N events published through the gateway as fast as it takes them
 *    (batches of 100). Each protocol's rate is N over the time from the first
 *    publish to its last event received; the ratios compare it with the rate
 *    the gateway accepted at, and with the site's own effect consumers (the
 *    `consumed` rows), in the same run.
 * 2. Steady: M events at 200 events/s; latency from the gateway's accept
 *    (`publishedat`) to the receiver, p50 and p99.
 *
 * Prints a table and writes bench/results/delivery.json; `--profile` also
 * CPU-profiles the instance and the gateway (`--cpu-prof`) and writes self
 * time per package and function to bench/results/delivery-profile.txt.
 * Never part of `npm test`.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import mqtt from 'mqtt';
import pg from 'pg';
import { issueToken, SCOPES, webhookSecrets } from '../certs/index.ts';
import { createLauncher } from '../deploy/index.ts';
import { createEventGenerator } from '../drills/event-generator.ts';
import { parseTopology } from '../federation/index.ts';
import { dropPostgresSchema } from '../instances/db/database.ts';
import { verifySignature } from '../instances/delivery/signature.ts';
import { issueTestServerCert } from '../test/support/test-ca.ts';
import { BENCH_ENV } from './env.ts';
import { BENCH_LIMITS, REPO_ROOT, STATE_DIR } from './lib/federation.ts';
import { summarizeProfiles } from './lib/profile.ts';
import { table } from './lib/report.ts';

const quick = process.argv.includes('--quick');
const profile = process.argv.includes('--profile');
const BURST = quick ? 5_000 : 20_000;
const STEADY = quick ? 2_000 : 6_000;
const STEADY_RATE = 200;
const BATCH = 100;
const RUN = randomUUID().slice(0, 8);
const PREFIX = `fedgate-bench-${RUN}`;
const ADDRESS = '127.237.0.1';
const HOOK_IP = '127.237.0.200';
const HOOK_PORT = 29555;
const SCHEMA = `bench_delivery_${RUN}`;
const PROTOCOLS = ['webhook', 'amqp', 'mqtt', 'stream'] as const;
type Protocol = (typeof PROTOCOLS)[number];

const say = (line: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const runDir = join(STATE_DIR, 'bench-runs', `delivery-${RUN}`);
const tlsDir = mkdtempSync(join(tmpdir(), 'fedgate-bench-delivery-'));
const receiverTls = issueTestServerCert(tlsDir, HOOK_IP);
const everything = { retry: { attempts: 100, baseMs: 100, maxMs: 1000 } };

const topology = parseTopology(
  {
    federation: 'fedgate-bench-delivery',
    sites: [
      {
        name: 'hub',
        regions: ['eu', 'us'],
        countries: ['DE', 'US'],
        address: ADDRESS,
        ports: { kafka: 29192, interSite: 29193, controller: 29194, instance: 28181, gateway: 28180, peer: 28543 },
        limits: BENCH_LIMITS,
        delivery: {
          amqp: { url: 'amqp://127.0.0.1:5672' },
          mqtt: { url: 'mqtt://127.0.0.1:1883' },
          webhookOrigins: [`https://${HOOK_IP}:${HOOK_PORT}`],
          subscriptions: [
            { name: 'hook', protocol: 'webhook', url: `https://${HOOK_IP}:${HOOK_PORT}/events`, caFile: receiverTls.caFile, ...everything },
            { name: 'queue', protocol: 'amqp', exchange: PREFIX, queue: `${PREFIX}.queue`, ...everything },
            { name: 'topic', protocol: 'mqtt', topicPrefix: PREFIX, ...everything },
          ],
        },
      },
    ],
  },
  'delivery bench topology',
);

const profileDir = join(runDir, 'profiles');
const roles = new Map<number, string>();
const launcher = createLauncher({
  topology,
  stateDir: STATE_DIR,
  runDir,
  certsDir: join(runDir, 'certs'),
  caKeyDir: join(runDir, 'ca-key'),
  log: say,
  systemEnv: BENCH_ENV.system,
  databaseUrl: BENCH_ENV.FEDGATE_BENCH_DATABASE_URL,
  env: { LOG_LEVEL: 'warn', FEDGATE_DB_SCHEMA: SCHEMA },
  nodeArgs: profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
  onSpawn: (pid, role) => roles.set(pid, role),
});

/** Receipts per protocol: event id → when it first arrived, and its accept time. */
const got: Record<Protocol, Map<string, { at: number; publishedat: number }>> = {
  webhook: new Map(),
  amqp: new Map(),
  mqtt: new Map(),
  stream: new Map(),
};
let refused = 0;
const receive = (p: Protocol, body: string) => {
  const e = JSON.parse(body) as { id: string; publishedat: number };
  if (!got[p].has(e.id)) got[p].set(e.id, { at: Date.now(), publishedat: Number(e.publishedat) });
};

const percentile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
const round = (n: number, digits = 0) => Math.round(n * 10 ** digits) / 10 ** digits;

async function until(what: string, ok: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`${what}: not reached in ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const results: Record<string, unknown> = { date: new Date().toISOString(), quick, burst: BURST, steady: STEADY, steadyRate: STEADY_RATE };
let webhookServer: ReturnType<typeof createServer> | null = null;
let rabbit: amqp.ChannelModel | null = null;
let mqttClient: mqtt.MqttClient | null = null;
const stream = new AbortController();
const db = new pg.Client({ connectionString: BENCH_ENV.FEDGATE_BENCH_DATABASE_URL });
try {
  await launcher.prepare();
  const [secret] = webhookSecrets(join(runDir, 'certs'), 'hub', 'hook');
  webhookServer = createServer({ cert: receiverTls.cert, key: receiverTls.key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (!verifySignature(req.headers['fedgate-signature'] as string | undefined, body, secret!).ok) {
        refused++;
        res.writeHead(401).end();
        return;
      }
      receive('webhook', body.toString('utf8'));
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => webhookServer!.listen(HOOK_PORT, HOOK_IP, resolve));
  rabbit = await amqp.connect('amqp://127.0.0.1:5672');
  const channel = await rabbit.createChannel();
  await channel.assertQueue(`${PREFIX}.queue`, { durable: true });
  await channel.prefetch(500);
  await channel.consume(`${PREFIX}.queue`, (msg) => {
    if (!msg) return;
    receive('amqp', msg.content.toString('utf8'));
    channel.ack(msg);
  });
  mqttClient = await mqtt.connectAsync('mqtt://127.0.0.1:1883', { clientId: `${PREFIX}-receiver`, protocolVersion: 5, clean: true });
  await mqttClient.subscribeAsync(`${PREFIX}/#`, { qos: 1 });
  mqttClient.on('message', (_topic, payload) => receive('mqtt', payload.toString('utf8')));

  await launcher.up();
  await db.connect();
  const gateway = launcher.gatewayUrl('hub');
  const token = await issueToken({ secretsDir: join(runDir, 'certs'), topology, site: 'hub', scopes: [...SCOPES], subject: 'bench', ttlSeconds: 3600 });

  // The subscribe stream, from the live end, read as an EventSource would: on an `error` event or a closed
  // stream it reconnects with the last id it got (Last-Event-ID), so nothing is missed.
  let streamReady!: () => void;
  const ready = new Promise<void>((r) => (streamReady = r));
  let lastId = '';
  let reconnects = 0;
  void (async () => {
    while (!stream.signal.aborted) {
      try {
        const res = await fetch(`${gateway}/v1/subscribe`, {
          headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream', ...(lastId ? { 'last-event-id': lastId } : {}) },
          signal: stream.signal,
        });
        if (res.status !== 200) throw new Error(`subscribe: ${res.status} ${await res.text()}`);
        const decoder = new TextDecoder();
        let buffer = '';
        read: for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
            const frame = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const event = /^event: ?(.*)$/m.exec(frame)?.[1] ?? '';
            const id = /^id: ?(.*)$/m.exec(frame)?.[1];
            if (id) lastId = id;
            if (event === 'ready') streamReady();
            else if (event.startsWith('com.fedgate.')) receive('stream', /^data: ?(.*)$/m.exec(frame)?.[1] ?? '{}');
            else if (event === 'error') break read;
          }
        }
      } catch (err) {
        if ((err as Error).name === 'AbortError') return;
        say(`stream: ${(err as Error).message}`);
      }
      if (stream.signal.aborted) return;
      reconnects++;
      await new Promise((r) => setTimeout(r, 2000));
    }
  })();
  await ready;

  const gen = createEventGenerator({ topology, products: 1000, seed: 7 });
  const publish = async (events: unknown[]) => {
    const r = await fetch(`${gateway}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(events),
    });
    if (r.status !== 202) throw new Error(`publish: ${r.status} ${await r.text()}`);
    return ((await r.json()) as { events: { id: string }[] }).events.map((e) => e.id);
  };
  const consumedRows = async () => Number((await db.query(`SELECT count(*) AS n FROM "${SCHEMA}".monitoring_events WHERE stage = 'consumed'`)).rows[0].n);

  // 1. Burst.
  say(`burst: ${BURST} events, as fast as the gateway takes them`);
  const burstIds: string[] = [];
  const t0 = Date.now();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < BURST; i += BATCH) {
    inFlight.push(publish(Array.from({ length: Math.min(BATCH, BURST - i) }, () => gen.next())).then((ids) => void burstIds.push(...ids)));
    // Four requests at a time: a bulk importer's pace, not an unbounded flood.
    if (inFlight.length >= 4) await inFlight.shift();
  }
  await Promise.all(inFlight);
  const acceptedAt = Date.now();
  const done: Partial<Record<Protocol | 'effects', number>> = {};
  await until(
    'every burst event delivered everywhere and consumed',
    async () => {
      for (const p of PROTOCOLS)
        if (done[p] === undefined && burstIds.every((id) => got[p].has(id))) done[p] = Math.max(...burstIds.map((id) => got[p].get(id)!.at));
      if (done.effects === undefined && (await consumedRows()) >= BURST) done.effects = Date.now();
      return PROTOCOLS.every((p) => done[p] !== undefined) && done.effects !== undefined;
    },
    600_000,
  );
  const acceptRate = BURST / ((acceptedAt - t0) / 1000);
  const effectsRate = BURST / ((done.effects! - t0) / 1000);
  const burst: Record<string, unknown> = { acceptedPerSecond: round(acceptRate), effectsPerSecond: round(effectsRate) };
  for (const p of PROTOCOLS) {
    const rate = BURST / ((done[p]! - t0) / 1000);
    burst[p] = { eventsPerSecond: round(rate), ofAccepted: round(rate / acceptRate, 2), ofEffects: round(rate / effectsRate, 2) };
  }
  results.burst = burst;

  // 2. Steady rate, for latency.
  say(`steady: ${STEADY} events at ${STEADY_RATE}/s`);
  const steadyIds: string[] = [];
  const start = Date.now();
  for (let i = 0; i < STEADY; i += 20) {
    const due = start + (i / STEADY_RATE) * 1000;
    if (Date.now() < due) await new Promise((r) => setTimeout(r, due - Date.now()));
    steadyIds.push(...(await publish(Array.from({ length: 20 }, () => gen.next()))));
  }
  await until('every steady event delivered everywhere', () => PROTOCOLS.every((p) => steadyIds.every((id) => got[p].has(id))), 300_000);
  const latency: Record<string, unknown> = {};
  for (const p of PROTOCOLS) {
    const ms = steadyIds.map((id) => got[p].get(id)!).map((r) => r.at - r.publishedat);
    ms.sort((a, b) => a - b);
    latency[p] = { p50: percentile(ms, 0.5), p99: percentile(ms, 0.99) };
  }
  results.steadyLatencyMs = latency;
  results.refusedSignatures = refused;
  results.streamReconnects = reconnects;
  results.duplicatesIgnored = 'receipts count each event id once (at least once delivery)';

  console.log(
    `downstream delivery, one site, ${BURST} events in a burst and ${STEADY} at ${STEADY_RATE}/s (${new Date().toISOString().slice(0, 10)}, ${process.platform}, 2 cores):`,
  );
  console.log(`  the gateway accepted the burst at ${round(acceptRate)} events/s; the site's effect consumers finished it at ${round(effectsRate)} events/s`);
  console.log(
    table(
      ['protocol', 'burst events/s', '÷ accepted', '÷ effects', 'steady p50 ms', 'steady p99 ms'],
      PROTOCOLS.map((p) => {
        const b = burst[p] as { eventsPerSecond: number; ofAccepted: number; ofEffects: number };
        const l = latency[p] as { p50: number; p99: number };
        return [p, b.eventsPerSecond, b.ofAccepted, b.ofEffects, l.p50, l.p99];
      }),
    ),
  );
  if (refused > 0) console.log(`  ${refused} webhook requests failed signature verification`);
  if (reconnects > 0) console.log(`  the stream client reconnected ${reconnects} times (Last-Event-ID)`);
  mkdirSync(join(REPO_ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(join(REPO_ROOT, 'bench', 'results', 'delivery.json'), JSON.stringify(results, null, 2));
} finally {
  stream.abort();
  await launcher.down();
  if (profile) {
    // Each process writes its profile when it exits (a drain, above).
    const report = summarizeProfiles(profileDir, readdirSync(profileDir), roles);
    mkdirSync(join(REPO_ROOT, 'bench', 'results'), { recursive: true });
    writeFileSync(join(REPO_ROOT, 'bench', 'results', 'delivery-profile.txt'), report);
    console.log(report.split('\n').slice(0, 60).join('\n'));
  }
  await db.end().catch(() => {});
  await dropPostgresSchema(BENCH_ENV.FEDGATE_BENCH_DATABASE_URL, SCHEMA).catch(() => {});
  if (rabbit) {
    const ch = await rabbit.createChannel();
    await ch.deleteQueue(`${PREFIX}.queue`).catch(() => {});
    await ch.deleteExchange(PREFIX).catch(() => {});
    await rabbit.close().catch(() => {});
  }
  await mqttClient?.endAsync().catch(() => {});
  webhookServer?.close();
  rmSync(tlsDir, { recursive: true, force: true });
  rmSync(runDir, { recursive: true, force: true });
}
