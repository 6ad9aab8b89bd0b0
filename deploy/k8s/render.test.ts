import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import {
  type AclRule,
  parseProperties,
  parseTopology,
  renderAcls,
  renderMm2Properties,
  siteTopicPlan,
  superUsers,
  TopologyError,
  upstreamSites,
} from '../../federation/index.ts';
import {
  DEFAULT_K8S_OPTIONS,
  type K8sResource,
  k8sTopology,
  NODE_POOL,
  renderSiteResources,
  renderSiteYaml,
  type StrimziAclRule,
  topicResourceName,
  userOfPrincipal,
} from './render.ts';

const root = new URL('../../', import.meta.url);
const load = (file: string) => parseTopology(JSON.parse(readFileSync(new URL(file, root), 'utf8')));
const topology = load('topology.json');
const kt = k8sTopology(topology, DEFAULT_K8S_OPTIONS);

const ofKind = (resources: K8sResource[], kind: string) => resources.filter((r) => r.kind === kind);
// biome-ignore lint/suspicious/noExplicitAny: reading rendered resources by path
const spec = (r: K8sResource) => r.spec as any;

/** Strimzi ACL rules back into the native form, to compare with renderAcls. */
function nativeRules(user: string, acls: StrimziAclRule[]): string[] {
  const op = (o: string) => o.replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase();
  const type = (t: string) => (t === 'transactionalId' ? 'transactional_id' : t);
  return acls.flatMap((a) =>
    a.operations.map((o) =>
      [
        `User:${user}`,
        type(a.resource.type),
        a.resource.name ?? 'kafka-cluster',
        a.resource.type === 'cluster' ? 'literal' : a.resource.patternType === 'prefix' ? 'prefixed' : 'literal',
        op(o),
      ].join('|'),
    ),
  );
}
const key = (r: AclRule) => [r.principal, r.resource, r.name, r.pattern, r.operation].join('|');

describe('k8s render (Strimzi resources from the topology)', () => {
  for (const site of topology.sites) {
    describe(site.name, () => {
      const resources = renderSiteResources(topology, site.name);

      it('runs a KRaft Kafka named after the site on one pool of three dual-role nodes, replicating three times', () => {
        const [kafka] = ofKind(resources, 'Kafka');
        expect(kafka?.metadata.name).toBe(site.name);
        expect(kafka?.metadata.annotations).toEqual({ 'strimzi.io/node-pools': 'enabled', 'strimzi.io/kraft': 'enabled' });
        const config = spec(kafka!).kafka.config;
        expect(config).toMatchObject({
          'default.replication.factor': 3,
          'min.insync.replicas': 2,
          'unclean.leader.election.enable': false,
          'auto.create.topics.enable': false,
        });
        // Every listener is TLS with client certificates; ACLs decide the rest.
        for (const l of spec(kafka!).kafka.listeners) expect(l).toMatchObject({ tls: true, authentication: { type: 'tls' } });
        expect(spec(kafka!).kafka.authorization).toEqual({ type: 'simple' });
        const [pool] = ofKind(resources, 'KafkaNodePool');
        expect(pool?.metadata).toMatchObject({ name: NODE_POOL, labels: { 'strimzi.io/cluster': site.name } });
        expect(spec(pool!)).toMatchObject({ replicas: 3, roles: ['controller', 'broker'] });
      });

      it('declares exactly the topics the native launcher creates for the site, with their partitions and configs', () => {
        const rendered = ofKind(resources, 'KafkaTopic').map((t) => ({
          topic: spec(t).topicName ?? t.metadata.name,
          numPartitions: spec(t).partitions,
          replicationFactor: spec(t).replicas,
          config: spec(t).config ?? {},
        }));
        const plan = siteTopicPlan(kt, site.name).map((t) => ({
          topic: t.topic,
          numPartitions: t.numPartitions,
          replicationFactor: t.replicationFactor,
          config: Object.fromEntries((t.configEntries ?? []).map((e) => [e.name, e.value])),
        }));
        expect(rendered).toEqual(plan);
        expect(plan.every((t) => t.replicationFactor === 3)).toBe(true);
      });

      it('grants every principal exactly the ACLs the native brokers apply (one function renders both), to a certificate fedgate issues', () => {
        const users = ofKind(resources, 'KafkaUser');
        const rendered = users.flatMap((u) => nativeRules(u.metadata.name, spec(u).authorization.acls));
        const native = renderAcls(kt, site.name)
          .filter((r) => !superUsers(site.name).includes(r.principal))
          .map(key);
        expect(rendered.sort()).toEqual(native.sort());
        expect(new Set(rendered).size).toBe(rendered.length);
        for (const u of users) {
          expect(spec(u).authentication).toEqual({ type: 'tls-external' });
          expect(u.metadata.labels?.['strimzi.io/cluster']).toBe(site.name);
        }
        // The other sites' MirrorMaker 2 nodes that read here get users here.
        const readers = topology.sites.filter((t) => upstreamSites(topology, t.name).some((u) => u.name === site.name));
        for (const r of readers) expect(users.map((u) => u.metadata.name)).toContain(userOfPrincipal(`User:${r.name}.mm2.fedgate`));
      });

      it('mirrors exactly the flows into the site, with the native MM2 node’s settings', () => {
        const [mm2] = ofKind(resources, 'KafkaMirrorMaker2');
        const upstream = upstreamSites(kt, site.name);
        expect(spec(mm2!).connectCluster).toBe(site.name);
        expect(
          spec(mm2!).mirrors.map((m: { sourceCluster: string; targetCluster: string; topicsPattern: string }) => [
            m.sourceCluster,
            m.targetCluster,
            m.topicsPattern,
          ]),
        ).toEqual(upstream.map((u) => [u.name, site.name, u.flows.find((f) => f.to === site.name)!.topics]));
        const native = parseProperties(renderMm2Properties(kt, site.name, { caFile: '/ca', keystoreFile: '/ks' }));
        const str = (v: unknown) => String(v);
        // The Connect worker: internal topics' replication at top level, the rest under the site's prefix natively.
        const [local] = spec(mm2!).clusters;
        expect(local.alias).toBe(site.name);
        for (const [k, v] of Object.entries(local.config as Record<string, unknown>)) {
          if (/^(group\.id|(offset|config|status)\.storage\.topic)$/.test(k)) continue;
          expect(native.get(k) ?? native.get(`${site.name}.${k}`), k).toBe(str(v));
        }
        expect(local.config['producer.linger.ms']).toBeDefined();
        expect(local.config['scheduled.rebalance.max.delay.ms']).toBeDefined();
        for (const m of spec(mm2!).mirrors) {
          expect(m.groupsPattern).toBe(native.get(`${m.sourceCluster}->${site.name}.groups`));
          for (const connector of ['sourceConnector', 'checkpointConnector', 'heartbeatConnector']) {
            expect(m[connector].tasksMax).toBe(Number(native.get('tasks.max')));
            for (const [k, v] of Object.entries(m[connector].config as Record<string, unknown>)) {
              const nativeKey = k.startsWith('consumer.') ? `${m.sourceCluster}.${k}` : k;
              expect(native.get(nativeKey), `${connector} ${k}`).toBe(str(v));
            }
          }
          expect(m.sourceConnector.config['consumer.max.partition.fetch.bytes']).toBeDefined();
        }
      });

      it('references Secrets by name and never writes one', () => {
        const yaml = renderSiteYaml(topology, site.name);
        expect(yaml).not.toMatch(/BEGIN [A-Z ]*(PRIVATE KEY|CERTIFICATE)/);
        const kinds = parseAllDocuments(yaml).map((d) => d.toJS()?.kind);
        expect(kinds).not.toContain('Secret');
        expect(kinds).toEqual(resources.map((r) => r.kind));
      });
    });
  }

  it('renders the three-broker topology file the same way', () => {
    const three = load('topology.three-brokers.json');
    for (const site of three.sites)
      expect(ofKind(renderSiteResources(three, site.name), 'KafkaMirrorMaker2')).toHaveLength(upstreamSites(three, site.name).length > 0 ? 1 : 0);
  });

  it('names topics as Kubernetes allows, keeping distinct topics distinct', () => {
    expect(topicResourceName('fed.price.eu')).toBe('fed.price.eu');
    const upper = topicResourceName('fed.country.DE');
    expect(upper).toMatch(/^fed\.country\.de-[0-9a-f]{8}$/);
    expect(topicResourceName('fed.country.de')).not.toBe(upper);
  });

  it('refuses what it cannot carry yet, naming the field and the fix', () => {
    const eos = { ...topology, mm2: { ...topology.mm2, exactlyOnce: true } };
    expect(() => k8sTopology(eos, DEFAULT_K8S_OPTIONS)).toThrow(TopologyError);
    expect(() => k8sTopology(eos, DEFAULT_K8S_OPTIONS)).toThrow(/mm2\.exactlyOnce[\s\S]*fix:/);
  });
});
