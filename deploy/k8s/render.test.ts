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
import { CA_SECRET, databaseSecret, POD_UID, siteSecret } from './workloads.ts';

const root = new URL('../../', import.meta.url);
const load = (file: string) => parseTopology(JSON.parse(readFileSync(new URL(file, root), 'utf8')));
const topology = load('topology.json');
const kt = k8sTopology(topology, DEFAULT_K8S_OPTIONS);

const ofKind = (resources: K8sResource[], kind: string) => resources.filter((r) => r.kind === kind);
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

  describe('the gateway and instance workloads', () => {
    const scaled = parseTopology({ ...topology, sites: topology.sites.map(({ flows, ...s }) => ({ ...s, flows, workers: s.name === 'onprem' ? 3 : 1 })) });
    const podSpec = (d: K8sResource) => (d.spec as any).template.spec;

    it('runs every pod as the image’s unprivileged user, read-only, without privileges, with probes and resource requests', () => {
      for (const site of scaled.sites) {
        for (const d of ofKind(renderSiteResources(scaled, site.name), 'Deployment')) {
          const pod = podSpec(d);
          expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: POD_UID, seccompProfile: { type: 'RuntimeDefault' } });
          expect(pod.automountServiceAccountToken).toBe(false);
          for (const c of pod.containers) {
            expect(c.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
            expect(c.readinessProbe).toBeDefined();
            expect(c.livenessProbe).toBeDefined();
            expect(c.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
            expect(c.resources.limits.memory).toBeDefined();
          }
        }
      }
    });

    it('runs the processes as the launcher does, with the gateway’s larger young generation (NODE_V8_OPTIONS)', () => {
      const byName = new Map(ofKind(renderSiteResources(scaled, 'onprem'), 'Deployment').map((d) => [d.metadata.name, podSpec(d).containers[0].command]));
      expect(byName.get('fedgate-onprem-gateway')).toEqual(['node', '--max-semi-space-size=64', '--import', 'tsx', 'gateway/main.ts']);
      expect(byName.get('fedgate-onprem-instance')).toEqual(['node', '--import', 'tsx', 'instances/main.ts']);
      expect(byName.get('fedgate-onprem-instance-workers')).toEqual(['node', '--import', 'tsx', 'instances/main.ts']);
    });

    it('runs one gateway, worker 1 with the read API, and the other workers as one more Deployment', () => {
      const onprem = renderSiteResources(scaled, 'onprem');
      const byName = new Map(ofKind(onprem, 'Deployment').map((d) => [d.metadata.name, d]));
      expect([...byName.keys()]).toEqual(['fedgate-onprem-gateway', 'fedgate-onprem-instance', 'fedgate-onprem-instance-workers']);
      const workers = byName.get('fedgate-onprem-instance-workers')!;
      expect(spec(workers).replicas).toBe(2);
      const env = podSpec(workers).containers[0].env as { name: string; value?: string }[];
      expect(env.find((e) => e.name === 'FEDGATE_WORKER')?.value).toBe('2');
      expect(podSpec(workers).containers[0].readinessProbe.exec.command).toEqual(['test', '-s', env.find((e) => e.name === 'FEDGATE_READY_FILE')?.value]);
      expect(ofKind(renderSiteResources(scaled, 'cloud-a'), 'Deployment')).toHaveLength(2);
      // Every Service selects the pods of a Deployment and names a port they expose.
      for (const svc of ofKind(onprem, 'Service')) {
        const selected = ofKind(onprem, 'Deployment').filter((d) =>
          Object.entries(spec(svc).selector).every(([k, v]) => podSpec(d) && (spec(d).template.metadata.labels as Record<string, string>)[k] === v),
        );
        expect(selected.length, svc.metadata.name).toBeGreaterThan(0);
        for (const port of spec(svc).ports) {
          for (const d of selected) expect(podSpec(d).containers[0].ports.map((p: { name: string }) => p.name)).toContain(port.targetPort);
        }
      }
    });

    it('references Secrets by name only: the CA, the site’s files, its brokers’ CA, the database URL', () => {
      const resources = renderSiteResources(scaled, 'cloud-b');
      const secrets = new Set<string>();
      for (const d of ofKind(resources, 'Deployment')) {
        for (const v of podSpec(d).volumes) if (v.secret) secrets.add(v.secret.secretName);
        for (const e of podSpec(d).containers[0].env) if (e.valueFrom) secrets.add(e.valueFrom.secretKeyRef.name);
      }
      expect([...secrets].sort()).toEqual([CA_SECRET, 'cloud-b-cluster-ca-cert', databaseSecret('cloud-b'), siteSecret('cloud-b')].sort());
    });

    it('gives the pods the same federation, with names for each site’s Kafka, read API and gateway peer', () => {
      const [config] = ofKind(renderSiteResources(scaled, 'cloud-a'), 'ConfigMap').filter((c) => c.metadata.name === 'fedgate-cloud-a-topology');
      const pods = parseTopology(JSON.parse((config as unknown as { data: Record<string, string> }).data['topology.json']!));
      expect(pods.sites.map((s) => [s.name, s.regions, s.countries, s.flows])).toEqual(kt.sites.map((s) => [s.name, s.regions, s.countries, s.flows]));
      const a = pods.sites.find((s) => s.name === 'cloud-a')!;
      expect(a.endpoints).toEqual({
        kafka: ['cloud-a-kafka-bootstrap:9093'],
        instance: `fedgate-cloud-a-instance:${a.ports.instance}`,
        peer: `gateway.cloud-a.${DEFAULT_K8S_OPTIONS.domain}:${a.ports.peer}`,
        bind: '0.0.0.0',
      });
    });
  });

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
