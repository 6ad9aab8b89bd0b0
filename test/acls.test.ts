import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import kafkajs, { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnJava, stopProcess } from '../deploy/index.ts';
import { localBootstrap, remoteTopic, routedTopic } from '../federation/index.ts';
import { TEST_ENV } from './support/env.ts';
import { createTestFederation, newProducer, type TestFederation, testTopology, waitForRecords } from './support/federation.ts';

/**
 * Least privilege at the source, on real brokers with StandardAuthorizer and
 * the ACLs the launcher renders from the topology: a serves eu, b serves us.
 */
describe('ACLs from the topology', () => {
  const topology = testTopology(151, [
    { name: 'a', regions: ['eu'], countries: ['DE'] },
    { name: 'b', regions: ['us'], countries: ['US'] },
  ]);
  const toB = routedTopic('price', 'us');
  const notToB = routedTopic('price', 'eu');
  let fed: TestFederation;

  beforeAll(async () => {
    fed = createTestFederation('acls', topology);
    await Promise.all(['a', 'b'].map((s) => fed.launcher.start(s, 'broker')));
  });
  afterAll(async () => {
    await fed?.stop();
  });

  /** A client that fails at once instead of retrying an authorization error. */
  const asRole = (site: string, role: 'gateway' | 'instance' | 'mm2', at: 'local' | 'interSite', as = site) =>
    new Kafka({
      clientId: `acl-test-${as}-${role}`,
      brokers: [at === 'local' ? localBootstrap(fed.site(site)) : `${fed.site(site).address}:${fed.site(site).ports.interSite}`],
      ssl: { ...fed.clientTls(as, role), ca: [fed.clientTls(as, role).ca], servername: undefined },
      logLevel: logLevel.NOTHING,
      retry: { retries: 0 },
      requestTimeout: 5000,
    });
  async function ends(site: string, topic: string): Promise<number> {
    const admin = fed.local(site).admin();
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(topic);
    await admin.disconnect();
    return offsets.reduce((n, p) => n + Number(p.high), 0);
  }

  it("with b's MM2 certificate at a: a topic not routed to b cannot even be described, nothing can be written, and the routed flow replicates", async () => {
    const mm2 = asRole('a', 'mm2', 'interSite', 'b');
    const admin = mm2.admin();
    await admin.connect();
    await expect(admin.fetchTopicOffsets(notToB)).rejects.toThrow(/authoriz/i);
    expect((await admin.fetchTopicOffsets(toB)).length).toBeGreaterThan(0);
    await admin.disconnect();

    const before = await ends('a', toB);
    const producer = newProducer(mm2);
    await producer.connect();
    await expect(producer.send({ topic: toB, acks: -1, messages: [{ key: 'k', value: 'from b at a' }] })).rejects.toThrow(/authoriz/i);
    await producer.disconnect();
    expect(await ends('a', toB)).toBe(before);

    const publish = newProducer(fed.local('a'));
    await publish.connect();
    await publish.send({ topic: toB, acks: -1, messages: [{ key: 'sku-1', value: 'routed to b' }] });
    await publish.send({ topic: notToB, acks: -1, messages: [{ key: 'sku-2', value: 'not for b' }] });
    await publish.disconnect();
    await fed.launcher.start('b', 'mm2');
    await waitForRecords(fed.local('b'), remoteTopic('a', toB), 1, 90_000);
    const atB = await fed.local('b').admin();
    await atB.connect();
    expect(await atB.listTopics()).not.toContain(remoteTopic('a', notToB));
    await atB.disconnect();
  });

  it("with b's MM2 regex widened by hand to every routed topic, a still serves b nothing more (routing enforced at the source)", async () => {
    await fed.launcher.stop('b', 'mm2');
    const layout = fed.launcher.layout('b');
    const props = readFileSync(layout.mm2Props, 'utf8');
    expect(props).toMatch(/^a->b\.topics=/m);
    const widened = join(layout.dir, 'mm2-widened.properties');
    writeFileSync(widened, props.replace(/^a->b\.topics=.*$/m, 'a->b.topics=fed\\\\..*'));
    const runtime = await fed.launcher.prepare();
    const pid = spawnJava({
      role: 'b/mm2-widened',
      runDir: fed.runDir,
      classpath: runtime.classpath,
      mainClass: 'org.apache.kafka.connect.mirror.MirrorMaker',
      args: [widened, '--clusters', 'b'],
      jvmOptions: ['-Xms64m', '-Xmx256m', '-XX:+UseSerialGC'],
      logFile: join(layout.logDir, 'mm2-widened.out'),
      pidFile: join(layout.dir, 'mm2-widened.pid'),
      env: TEST_ENV.system,
    });
    try {
      const copies = await ends('b', remoteTopic('a', toB));
      const publish = newProducer(fed.local('a'));
      await publish.connect();
      await publish.send({ topic: notToB, acks: -1, messages: [{ key: 'sku-5', value: 'eu, not for b' }] });
      await publish.send({ topic: toB, acks: -1, messages: [{ key: 'sku-6', value: 'marker for b' }] });
      await publish.disconnect();
      // Once the marker (sent after the eu record) is copied, the widened node has listed a's topics several times over.
      await waitForRecords(fed.local('b'), remoteTopic('a', toB), copies + 1, 120_000);
      await new Promise((r) => setTimeout(r, 6000));
      const atB = fed.local('b').admin();
      await atB.connect();
      expect((await atB.listTopics()).filter((t) => t.startsWith('a.fed.') && !t.endsWith('.us'))).toEqual([]);
      await atB.disconnect();
    } finally {
      await stopProcess(pid, fed.runDir, { hard: true });
    }
  });

  it("the gateway's identity writes its routed topics but cannot delete topics or read groups", async () => {
    const gateway = asRole('a', 'gateway', 'local');
    const producer = newProducer(gateway);
    await producer.connect();
    await producer.send({ topic: notToB, acks: -1, messages: [{ key: 'sku-3', value: 'a publish' }] });
    await producer.disconnect();
    const admin = gateway.admin();
    await admin.connect();
    await expect(admin.deleteTopics({ topics: [notToB], timeout: 5000 })).rejects.toThrow(/authoriz/i);
    // Without DESCRIBE on the group the broker refuses FindCoordinator; kafkajs words that as not finding the coordinator.
    await expect(admin.fetchOffsets({ groupId: 'fedgate.a.price-book', topics: [notToB] })).rejects.toThrow(/authoriz|group coordinator/i);
    await admin.disconnect();
    // The site's admin reads the same group's offsets: the refusal is the gateway's identity, not the group.
    const siteAdmin = fed.local('a').admin();
    await siteAdmin.connect();
    // A retriable answer (NOT_COORDINATOR while the offsets partition loads on a busy machine) is asked again; a refusal is not retriable.
    const asAdmin = async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await siteAdmin.fetchOffsets({ groupId: 'fedgate.a.price-book', topics: [notToB] });
        } catch (err) {
          if (!(err as { retriable?: boolean }).retriable || attempt === 10) throw err;
          await new Promise((r) => setTimeout(r, 500));
        }
      }
    };
    await expect(asAdmin()).resolves.toBeDefined();
    await siteAdmin.disconnect();
    expect(await ends('a', notToB)).toBeGreaterThan(0);
  });

  it("the instance's identity cannot produce to routed topics, but writes monitoring", async () => {
    const instance = asRole('a', 'instance', 'local');
    const producer = newProducer(instance);
    await producer.connect();
    const before = await ends('a', notToB);
    await expect(producer.send({ topic: notToB, acks: -1, messages: [{ key: 'k', value: 'forged' }] })).rejects.toThrow(/authoriz/i);
    await producer.send({ topic: 'site.monitoring', acks: -1, messages: [{ key: 'e', value: '{}' }] });
    await producer.disconnect();
    expect(await ends('a', notToB)).toBe(before);
  });

  it('removes a grant the topology no longer makes when the site is set up again, and keeps the rendered ones', async () => {
    const admin = fed.local('a').admin();
    await admin.connect();
    const stale = {
      resourceType: kafkajs.AclResourceTypes.TOPIC,
      resourceName: notToB,
      resourcePatternType: kafkajs.ResourcePatternTypes.LITERAL,
      principal: 'User:b.mm2.fedgate',
      host: '*',
      operation: kafkajs.AclOperationTypes.READ,
      permissionType: kafkajs.AclPermissionTypes.ALLOW,
    };
    await admin.createAcls({ acl: [stale] });
    const grantsOnEu = async () => {
      const filter = {
        resourceType: kafkajs.AclResourceTypes.TOPIC,
        resourceName: notToB,
        resourcePatternType: kafkajs.ResourcePatternTypes.LITERAL,
        operation: kafkajs.AclOperationTypes.ANY,
        permissionType: kafkajs.AclPermissionTypes.ANY,
      };
      return (await admin.describeAcls(filter)).resources.flatMap((r) => r.acls.map((a) => a.principal));
    };
    expect(await grantsOnEu()).toContain('User:b.mm2.fedgate');
    // start() on a running broker runs its admin step again (as every start does).
    await fed.launcher.start('a', 'broker');
    const after = await grantsOnEu();
    expect(after).not.toContain('User:b.mm2.fedgate');
    expect(after).toContain('User:a.gateway.fedgate');
    await admin.disconnect();
  });
});
