import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certPaths, initCerts } from '../certs/index.ts';
import { isOurProcess } from '../deploy/index.ts';
import { consumeUntil, createTestFederation, createTopics, newProducer, type TestFederation, testTopology } from './support/federation.ts';

/**
 * Every listener of a site's broker takes only clients with a certificate
 * from the federation CA. Real broker, started by the project's launcher.
 */
describe('mTLS on every Kafka listener', () => {
  const topology = testTopology(101, [{ name: 'solo', regions: ['eu'] }]);
  let fed: TestFederation;
  const topic = `mtls-${Date.now()}`;
  const rogueDir = mkdtempSync(join(tmpdir(), 'fedgate-rogue-ca-'));

  beforeAll(async () => {
    fed = createTestFederation('mtls', topology);
    await fed.launcher.start('solo', 'broker');
    await createTopics(fed.local('solo'), [topic], 1);
  });

  afterAll(async () => {
    const pids = fed?.startedPids() ?? [];
    await fed?.stop();
    rmSync(rogueDir, { recursive: true, force: true });
    for (const pid of pids) expect(isOurProcess(pid, fed.runDir)).toBe(false);
  });

  async function highWatermark(): Promise<number> {
    const admin = fed.local('solo').admin();
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(topic);
    await admin.disconnect();
    return offsets.reduce((s, p) => s + Number(p.high), 0);
  }

  it('lets a client with a federation certificate produce and consume', async () => {
    const kafka = fed.interSite('solo', fed.clientTls('solo', 'admin'));
    const producer = newProducer(kafka);
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ key: 'p-1', value: 'over mTLS', headers: { id: 'e-1' } }] });
    await producer.disconnect();
    const seen = await consumeUntil(
      kafka,
      topic,
      (m) => m,
      (s) => s.length >= 1,
      30_000,
    );
    expect(seen).toEqual([{ key: 'p-1', value: 'over mTLS', headers: { id: 'e-1' } }]);
  });

  it('refuses a client without a certificate, and nothing is written', async () => {
    const before = await highWatermark();
    const producer = newProducer(fed.interSite('solo', null));
    await expect(producer.connect().then(() => producer.send({ topic, messages: [{ value: 'no cert' }] }))).rejects.toThrow(
      /alert bad certificate|certificate required/,
    );
    await producer.disconnect().catch(() => {});
    expect(await highWatermark()).toBe(before);
  });

  it('refuses a client with no credentials on every listener of the site (local, inter-site, controller), and nothing is written', async () => {
    const site = fed.site('solo');
    const ca = readFileSync(certPaths(fed.certsDir).caCert, 'utf8');
    const before = await highWatermark();
    for (const [listener, port] of [
      ['local', site.ports.kafka],
      ['inter-site', site.ports.interSite],
      ['controller', site.ports.controller],
    ] as const) {
      const brokers = [`${site.address}:${port}`];
      // Plaintext: no TLS at all.
      const plain = newProducer(
        new Kafka({ clientId: 'rogue', brokers, logLevel: logLevel.NOTHING, connectionTimeout: 2000, requestTimeout: 3000, retry: { retries: 0 } }),
      );
      await expect(
        plain.connect().then(() => plain.send({ topic, messages: [{ value: `plain ${listener}` }] })),
        listener,
      ).rejects.toThrow();
      await plain.disconnect().catch(() => {});
      // TLS that trusts the CA but offers no client certificate.
      const anonymous = newProducer(
        new Kafka({
          clientId: 'rogue',
          brokers,
          ssl: { ca: [ca], servername: undefined },
          logLevel: logLevel.NOTHING,
          connectionTimeout: 2000,
          requestTimeout: 3000,
          retry: { retries: 0 },
        }),
      );
      await expect(
        anonymous.connect().then(() => anonymous.send({ topic, messages: [{ value: `anonymous ${listener}` }] })),
        listener,
      ).rejects.toThrow();
      await anonymous.disconnect().catch(() => {});
    }
    expect(await highWatermark()).toBe(before);
  });

  it('refuses a client whose certificate comes from a different CA, and nothing is written', async () => {
    initCerts({ dir: rogueDir, caKeyDir: join(rogueDir, 'ca-key'), topology, days: 2, caName: 'rogue CA' });
    const rogue = certPaths(rogueDir).role('solo', 'gateway');
    const before = await highWatermark();
    const producer = newProducer(
      fed.interSite('solo', {
        // Trusts the real CA (so the client side accepts the broker) but presents a rogue certificate.
        ca: readFileSync(certPaths(fed.certsDir).caCert, 'utf8'),
        cert: readFileSync(rogue.cert, 'utf8'),
        key: readFileSync(rogue.key, 'utf8'),
      }),
    );
    await expect(producer.connect().then(() => producer.send({ topic, messages: [{ value: 'rogue' }] }))).rejects.toThrow(
      /alert (certificate unknown|unknown ca|bad certificate)/,
    );
    await producer.disconnect().catch(() => {});
    expect(await highWatermark()).toBe(before);
  });

  it('refuses a broker that does not chain to the trusted CA (server side is verified too)', async () => {
    initCerts({ dir: rogueDir, caKeyDir: join(rogueDir, 'ca-key'), topology, days: 2, caName: 'rogue CA' });
    const tls = fed.clientTls('solo', 'gateway');
    const producer = newProducer(fed.interSite('solo', { ...tls, ca: readFileSync(certPaths(rogueDir).caCert, 'utf8') }));
    await expect(producer.connect()).rejects.toThrow(/self-signed certificate|unable to verify/);
    await producer.disconnect().catch(() => {});
  });
});
