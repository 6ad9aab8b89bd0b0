import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { localKafkaConfig } from './kafka-endpoints.ts';
import { routedTopicsForSite } from './topics.ts';
import {
  brokerNodes,
  compileFlowRegex,
  findTopologyProblems,
  instanceEndpoint,
  nodeBindAddress,
  parseTopology,
  peerEndpoint,
  replicationOf,
  suggestedFlowRegex,
  type Topology,
  TopologyError,
} from './topology.ts';

/** topology.json as written: no site declares flows, so they are derived. */
const rawJson = JSON.parse(readFileSync(new URL('../topology.json', import.meta.url), 'utf8'));
/** The same federation with every flow written out, as a hand-written topology would. */
const defaultJson = JSON.parse(JSON.stringify(parseTopology(rawJson)));

function variant(change: (t: any) => void, base: unknown = defaultJson): unknown {
  const copy = structuredClone(base);
  change(copy);
  return copy;
}

function problemsOf(input: unknown): { field: string; message: string; fix: string }[] {
  try {
    parseTopology(input);
    return [];
  } catch (err) {
    expect(err).toBeInstanceOf(TopologyError);
    return (err as TopologyError).problems;
  }
}

describe('topology validation', () => {
  it('derives the flows of a site that declares none from what the other sites serve (interest-based)', () => {
    expect(rawJson.sites.some((s: { flows?: unknown }) => s.flows !== undefined)).toBe(false);
    const t = parseTopology(rawJson);
    const carried = (from: string, to: string) => {
      const flow = t.sites.find((s) => s.name === from)!.flows.find((f) => f.to === to)!;
      const all = t.sites.flatMap((s) => routedTopicsForSite(s));
      return [...new Set(all.filter((topic) => compileFlowRegex(flow.topics).test(topic)))].sort();
    };
    for (const from of t.sites) {
      expect(from.flows.map((f) => f.to)).toEqual(t.sites.filter((s) => s !== from).map((s) => s.name));
      for (const to of t.sites.filter((s) => s !== from)) expect(carried(from.name, to.name)).toEqual([...routedTopicsForSite(to)].sort());
    }
    expect(carried('cloud-a', 'onprem')).toEqual([
      'fed.country.au',
      'fed.country.ch',
      'fed.country.jp',
      'fed.country.sg',
      'fed.discount.apac',
      'fed.discount.eu',
      'fed.price.apac',
      'fed.price.eu',
    ]);
    // Change what a site serves, and the flows to it follow.
    const quiet = parseTopology(variant((x) => (x.sites[1].regions = ['mars']), rawJson));
    expect(quiet.sites[0]!.flows.find((f) => f.to === 'cloud-b')!.topics).toBe(
      'fed\\.price\\.mars|fed\\.discount\\.mars|fed\\.country\\.us|fed\\.country\\.ca|fed\\.country\\.mx',
    );
  });

  it('still checks an explicit flow regex against the same rule, next to derived ones', () => {
    const wide = variant(
      (x) =>
        (x.sites[0].flows = [
          { to: 'cloud-b', topics: 'fed\\..*' },
          { to: 'onprem', topics: 'fed\\.(price|discount)\\.(eu|apac)|fed\\.country\\.(ch|jp|au|sg)' },
        ]),
      rawJson,
    );
    expect(problemsOf(wide).map((p) => p.field)).toEqual(['sites[0].flows[0].topics']);
    expect(problemsOf(wide)[0]!.message).toMatch(/carries .*fed\.price\.eu.* which "cloud-b" does not serve/);
    // An explicit empty list is a choice, and the check names what it leaves out.
    const none = variant((x) => (x.sites[2].flows = []), rawJson);
    expect(problemsOf(none).map((p) => p.message)).toEqual([
      'no flow from "onprem" to "cloud-a": events published at onprem would never reach cloud-a',
      'no flow from "onprem" to "cloud-b": events published at onprem would never reach cloud-b',
    ]);
  });

  it('accepts the default three-site topology', () => {
    const t = parseTopology(defaultJson);
    expect(t.sites.map((s) => s.name)).toEqual(['cloud-a', 'cloud-b', 'onprem']);
    expect(new Set(t.sites.map((s) => s.address)).size).toBe(3);
  });

  it('names an unknown site in a flow and lists the known ones', () => {
    const problems = problemsOf(variant((t) => (t.sites[0].flows[0].to = 'cloud-z')));
    expect(problems).toContainEqual(expect.objectContaining({ field: 'sites[0].flows[0].to', message: 'unknown site "cloud-z"' }));
    expect(problems.find((p) => p.field === 'sites[0].flows[0].to')!.fix).toContain('cloud-a, cloud-b, onprem');
  });

  it('refuses duplicate addresses', () => {
    const problems = problemsOf(variant((t) => (t.sites[1].address = t.sites[0].address)));
    expect(problems).toContainEqual(expect.objectContaining({ field: 'sites[1].address', message: expect.stringContaining('already used by site "cloud-a"') }));
  });

  it('refuses a WAN address another site already uses', () => {
    const problems = problemsOf(
      variant((t) => {
        t.sites[0].wanAddress = '10.0.0.1';
        t.sites[2].wanAddress = '10.0.0.1';
      }),
    );
    expect(problems).toContainEqual(
      expect.objectContaining({ field: 'sites[2].wanAddress', message: expect.stringContaining('already used by site "cloud-a"') }),
    );
  });

  it('refuses a port used twice on one address', () => {
    const problems = problemsOf(variant((t) => (t.sites[2].ports.gateway = t.sites[2].ports.kafka)));
    expect(problems).toContainEqual(
      expect.objectContaining({ field: 'sites[2].ports.gateway', message: expect.stringContaining('127.0.3.1:9092 is already used by onprem.ports.kafka') }),
    );
  });

  it('gives each of three brokers its own listeners (ports + 100·(n−1)) and refuses one that collides', () => {
    const three = parseTopology(variant((t) => (t.sites[0].brokers = 3)));
    expect(brokerNodes(three.sites[0]!)).toEqual([
      { id: 1, kafka: 9092, interSite: 9093, controller: 9094, metrics: 9404 },
      { id: 2, kafka: 9192, interSite: 9193, controller: 9194, metrics: 9504 },
      { id: 3, kafka: 9292, interSite: 9293, controller: 9294, metrics: 9604 },
    ]);
    // The JMX exporter's port is optional: without it, no exporter runs.
    const bare = parseTopology(
      variant((t) => {
        t.sites[0].brokers = 3;
        delete t.sites[0].ports.brokerMetrics;
      }),
    );
    expect(brokerNodes(bare.sites[0]!).map((n) => n.metrics)).toEqual([undefined, undefined, undefined]);
    expect(replicationOf(three.sites[0]!)).toEqual({ factor: 3, minInsync: 2 });
    expect(replicationOf(three.sites[1]!)).toEqual({ factor: 1, minInsync: 1 });
    const problems = problemsOf(
      variant((t) => {
        t.sites[0].brokers = 3;
        t.sites[0].ports.gateway = 9192;
      }),
    );
    expect(problems).toContainEqual(
      expect.objectContaining({
        field: 'sites[0].ports.kafka',
        message: "127.0.1.1:9192 (cloud-a's broker 2 (ports.kafka + 100)) is already used by cloud-a.ports.gateway",
      }),
    );
    expect(problemsOf(variant((t) => (t.sites[0].brokers = 2)))[0]).toMatchObject({ field: 'sites[0].brokers' });
    // An exporter port of broker 2 that collides is caught too.
    const exporter = problemsOf(
      variant((t) => {
        t.sites[0].brokers = 3;
        t.sites[0].ports.mm2Metrics = 9504;
      }),
    );
    expect(exporter).toContainEqual(
      expect.objectContaining({ message: "127.0.1.1:9504 (cloud-a's broker 2 (ports.brokerMetrics + 100)) is already used by cloud-a.ports.mm2Metrics" }),
    );
  });

  it('accepts the documented three-broker topology: the default sites, each with three brokers', () => {
    const three = parseTopology(JSON.parse(readFileSync(new URL('../topology.three-brokers.json', import.meta.url), 'utf8')));
    const base = parseTopology(rawJson);
    expect(three.sites.map((s) => [s.name, s.brokers])).toEqual(base.sites.map((s) => [s.name, 3]));
    expect(three.sites.map((s) => s.flows)).toEqual(base.sites.map((s) => s.flows));
  });

  it('refuses a flow regex that also matches replicated topics (multi-hop chains)', () => {
    const problems = problemsOf(variant((t) => (t.sites[0].flows[0].topics = '.*fed\\.(price|discount)\\.us|.*fed\\.country\\.(us|ca|mx)')));
    const p = problems.find((x) => x.field === 'sites[0].flows[0].topics');
    expect(p?.message).toMatch(/matches the replicated topic "cloud-b\.fed\.|onprem\.fed\./);
    expect(p?.fix).toContain('fed\\.price\\.us');
  });

  it('asks for the MM2 REST port of every receiving site when mm2.exactlyOnce is on', () => {
    const problems = problemsOf(variant((t) => (t.mm2 = { exactlyOnce: true })));
    expect(problems.map((p) => p.field)).toEqual(['sites[0].ports.mm2Rest', 'sites[1].ports.mm2Rest', 'sites[2].ports.mm2Rest']);
    expect(problems[0]!.fix).toContain('"mm2Rest"');
    const ok = variant((t) => {
      t.mm2 = { exactlyOnce: true };
      for (const s of t.sites) s.ports.mm2Rest = 8083;
    });
    expect(problemsOf(ok)).toEqual([]);
  });

  it('refuses IdentityReplicationPolicy with flows in both directions', () => {
    const problems = problemsOf(variant((t) => (t.replicationPolicy = 'identity')));
    expect(problems.filter((p) => p.field === 'replicationPolicy').length).toBe(3);
    expect(problems[0]!.message).toContain('loop forever');
  });

  it('accepts IdentityReplicationPolicy when every flow is one-way', () => {
    const oneWay = {
      federation: 'x',
      replicationPolicy: 'identity',
      sites: [
        { name: 'hq', regions: ['eu'], address: '127.0.9.1', ports: ports(1), flows: [{ to: 'edge', topics: 'fed\\.(price|discount)\\.us' }] },
        { name: 'edge', regions: ['us'], address: '127.0.9.2', ports: ports(1), flows: [] },
      ],
    };
    // The identity rule is about loops only; the missing edge->hq flow is a separate (coverage) problem.
    const problems = problemsOf(oneWay);
    expect(problems.some((p) => p.field === 'replicationPolicy')).toBe(false);
    expect(problems).toContainEqual(expect.objectContaining({ field: 'sites[1].flows', message: expect.stringContaining('no flow from "edge" to "hq"') }));
  });

  it('refuses a flow that delivers to a site topics it does not serve, or misses ones it does', () => {
    const problems = problemsOf(variant((t) => (t.sites[0].flows[0].topics = 'fed\\.(price|discount)\\.(us|apac)')));
    const p = problems.find((x) => x.field === 'sites[0].flows[0].topics')!;
    expect(p.message).toContain('does not carry fed.country.ca, fed.country.mx, fed.country.us');
    expect(p.message).toContain('carries fed.discount.apac, fed.price.apac which "cloud-b" does not serve');
  });

  it('reports an invalid regex instead of throwing', () => {
    const problems = problemsOf(variant((t) => (t.sites[0].flows[0].topics = 'fed\\.(price')));
    expect(problems[0]).toMatchObject({ field: 'sites[0].flows[0].topics', message: expect.stringContaining('not a valid regex') });
  });

  it('names the field of a shape error', () => {
    const problems = problemsOf(
      variant((t) => {
        t.sites[1].ports.kafka = 'x';
        t.sites[0].countries = ['de'];
        t.extra = 1;
      }),
    );
    expect(problems.map((p) => p.field)).toEqual(expect.arrayContaining(['sites[1].ports.kafka', 'sites[0].countries[0]', '(root)']));
    expect(problems.find((p) => p.field === '(root)')!.fix).toContain('remove extra');
  });

  it('reports every problem at once, each with a fix', () => {
    const problems = problemsOf(
      variant((t) => {
        t.sites[1].address = t.sites[0].address;
        t.sites[0].flows[0].to = 'nowhere';
      }),
    );
    expect(problems.length).toBeGreaterThanOrEqual(2);
    for (const p of problems) expect(p.fix.length).toBeGreaterThan(5);
  });

  it('suggests a flow regex that the validator accepts', () => {
    const t = parseTopology(defaultJson) as Topology;
    const rebuilt = structuredClone(t);
    for (const site of rebuilt.sites) for (const flow of site.flows) flow.topics = suggestedFlowRegex(rebuilt.sites.find((s) => s.name === flow.to)!);
    expect(findTopologyProblems(rebuilt)).toEqual([]);
  });
});

function ports(offset: number) {
  return { kafka: 9092 + offset * 10, interSite: 9093 + offset * 10, controller: 9094 + offset * 10, instance: 8081, gateway: 8080, peer: 8443 };
}

describe('site endpoints (names instead of addresses, for Kubernetes)', () => {
  const named = variant((t) => {
    t.sites[0].endpoints = {
      kafka: ['cloud-a-kafka-bootstrap:9093'],
      instance: 'fedgate-cloud-a-instance:8081',
      peer: 'gateway.cloud-a.fedgate.example:8443',
      bind: '0.0.0.0',
    };
  });

  it("sends the site's own processes to the names, and leaves the other sites on their addresses", () => {
    const t = parseTopology(named);
    const [a, b] = t.sites;
    expect(localKafkaConfig(a!, 'x', { ca: '', cert: '', key: '' }).brokers).toEqual(['cloud-a-kafka-bootstrap:9093']);
    expect(instanceEndpoint(a!)).toEqual({ host: 'fedgate-cloud-a-instance', port: 8081 });
    expect(peerEndpoint(a!)).toEqual({ host: 'gateway.cloud-a.fedgate.example', port: 8443 });
    expect(nodeBindAddress(a!, 'gateway')).toBe('0.0.0.0');
    expect(nodeBindAddress(a!, 'peer')).toBe('0.0.0.0');
    expect(localKafkaConfig(b!, 'x', { ca: '', cert: '', key: '' }).brokers).toEqual([`${b!.address}:${b!.ports.kafka}`]);
    expect(peerEndpoint(b!)).toEqual({ host: b!.wanAddress ?? b!.address, port: b!.ports.peer });
    expect(instanceEndpoint(b!)).toEqual({ host: b!.address, port: b!.ports.instance });
    expect(nodeBindAddress(b!, 'instance')).toBe(b!.address);
  });

  it('refuses an endpoint that is not host:port, naming the field', () => {
    const problems = problemsOf(
      variant((t) => {
        t.sites[1].endpoints = { kafka: ['cloud-b-kafka-bootstrap'] };
      }),
    );
    expect(problems.map((p) => p.field)).toContain('sites[1].endpoints.kafka[0]');
  });
});
