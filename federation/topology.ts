import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { DeliverySchema, findDeliveryProblems } from './delivery.ts';
import { allRoutedTopics, routedTopicsForSite } from './topics.ts';

/**
 * The topology file: one JSON document that describes the whole federation.
 * Every address, port and flow comes from here; code never hard-codes them.
 *
 * Validation happens in two passes: zod checks the shape (types, formats),
 * then `findTopologyProblems` checks the federation-level rules (unknown
 * sites, duplicate listeners, flows that would chain, flows that deliver too
 * much or too little). Each problem names the field and the fix.
 */

const siteName = z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, 'use lower-case letters, digits and dashes, starting with a letter');
const port = z.number().int().min(1024).max(65535);

export const SitePortsSchema = z
  .object({
    /** Site-local PLAINTEXT listener, for the site's own services. */
    kafka: port,
    /** Inter-site SSL listener; client certificates are required. */
    interSite: port,
    /** KRaft controller listener. */
    controller: port,
    /** The site's instance read API (HTTP, site-local). */
    instance: port,
    /** The gateway's public HTTP API and dashboard. */
    gateway: port,
    /** The gateway's peer listener (HTTPS with client certificates). */
    peer: port,
    /**
     * The MM2 node's internal REST listener (KIP-710), site-local. Needed only
     * with `mm2.exactlyOnce`: the worker that leads a flow fences zombie tasks
     * and receives task configs through it.
     */
    mm2Rest: port.optional(),
    /**
     * The Prometheus JMX exporter of the site's broker (broker n: this + 100·(n−1)), site-local, behind the
     * site's scrape credential. Without it the broker runs without an exporter.
     */
    brokerMetrics: port.optional(),
    /** The Prometheus JMX exporter of the site's MM2 node, site-local, behind the site's scrape credential. */
    mm2Metrics: port.optional(),
  })
  .strict();
export type SitePorts = z.infer<typeof SitePortsSchema>;

const hostPort = z
  .string()
  .regex(/^[A-Za-z0-9.-]+:\d{2,5}$/, 'use host:port, such as cloud-a-kafka-bootstrap:9093')
  .refine((v) => Number(v.split(':')[1]) <= 65535, 'the port must be at most 65535');

/**
 * Where a site's own processes reach what the addresses and ports would
 * otherwise give, when the site runs where names, not loopback addresses,
 * lead to its services (Kubernetes: `fedgate k8s render` sets them). Each
 * field overrides one derivation; natively none is set.
 */
export const EndpointsSchema = z
  .object({
    /** The Kafka listeners the site's gateway and instance bootstrap from (host:port each). */
    kafka: z.array(hostPort).min(1).optional(),
    /** The instance read API, as the site's gateway reaches it (host:port). */
    instance: hostPort.optional(),
    /** This site's gateway peer listener, as the other sites' gateways reach it (host:port); the host goes into its certificate. */
    peer: hostPort.optional(),
    /** The address the site's gateway and instance listen on ("0.0.0.0" in a pod); else the site's address (and wanAddress for the peer listener). */
    bind: z.string().ip({ version: 'v4' }).optional(),
  })
  .strict();
export type Endpoints = z.infer<typeof EndpointsSchema>;

export const FlowSchema = z
  .object({
    /** The site that receives the replicated topics. */
    to: siteName,
    /** Java regex over this site's *local* topic names (full match). */
    topics: z.string().min(1),
  })
  .strict();
export type Flow = z.infer<typeof FlowSchema>;

export const SiteLimitsSchema = z
  .object({
    /** Events a second each publisher (token issuer and subject) may publish: a token bucket. */
    publishPerSecond: z.number().int().min(1).default(2000),
    /** Events a publisher may send at once above its rate; keep it at least the largest batch (MAX_BATCH_EVENTS). */
    publishBurst: z.number().int().min(1).default(4000),
    /** How far in the future an event's `time` may be: a far-future time would pin a product's state under last-writer-wins. */
    maxFutureSkewSeconds: z.number().int().min(0).max(86_400).default(300),
    /** Live streams (SSE) open at once per client address. */
    liveStreamsPerClient: z.number().int().min(1).max(1000).default(4),
    /**
     * How long the site's gateways remember an accepted event id or an
     * Idempotency-Key answer (durably, in the site's `site.idempotency`
     * topic): a retry within it is answered as the first time was.
     */
    idempotencyWindowSeconds: z
      .number()
      .int()
      .min(60)
      .max(30 * 86_400)
      .default(86_400),
  })
  .strict();

/**
 * Row retention in the site's database: the event store keeps each event for
 * `storedEventsDays` after the site received it (history and replay read
 * it; an event older than that is still in every other store that received
 * it later, and in Kafka until the topics' retention), and the monitoring
 * rows (stats, traces) are kept for `monitoringDays` after their stage.
 */
export const SiteRetentionSchema = z
  .object({
    storedEventsDays: z.number().int().min(1).max(3650).default(30),
    monitoringDays: z.number().int().min(1).max(3650).default(7),
  })
  .strict();

export const SiteSchema = z
  .object({
    name: siteName,
    label: z.string().optional(),
    /** Regions this site serves: it needs their price and discount updates. */
    regions: z.array(z.string().regex(/^[a-z][a-z0-9-]*$/, 'use a lower-case region id such as "eu"')).min(1),
    /** Countries this site serves (ISO 3166-1 alpha-2): it needs their availability updates. */
    countries: z.array(z.string().regex(/^[A-Z]{2}$/, 'use an upper-case ISO 3166-1 alpha-2 code such as "DE"')).default([]),
    /** The site's own loopback (or host) address; its site-local listeners bind it. */
    address: z.string().ip({ version: 'v4' }),
    /**
     * Where the inter-site listeners bind (Kafka mTLS, gateway peer HTTPS), when
     * sites reach each other on a separate WAN network (docker-compose.multi.yml).
     * Defaults to `address`.
     */
    wanAddress: z.string().ip({ version: 'v4' }).optional(),
    ports: SitePortsSchema,
    /** Names instead of addresses for the site's own processes (Kubernetes); see EndpointsSchema. */
    endpoints: EndpointsSchema.optional(),
    /**
     * Kafka brokers of the site (KRaft combined mode, each also a controller).
     * 1 (a laptop): one copy of each record. 3: a three-voter quorum, every
     * topic replicated three times with min.insync.replicas=2, so an
     * acknowledged write is on two brokers and the site survives losing one.
     * Broker n (1-based) listens on the site's ports + 100·(n−1).
     */
    brokers: z.union([z.literal(1), z.literal(3)]).default(1),
    /**
     * Instance workers of the site. They share the site's consumer groups and
     * delivery subscription groups (Kafka spreads the partitions over them);
     * worker 1 also serves the read API and watches the links. More than one
     * needs a database they share: a PostgreSQL server (DATABASE_URL).
     */
    workers: z.number().int().min(1).max(8).default(1),
    /**
     * Which of this site's local topics flow to which other sites. Optional:
     * left out, the flows follow from what the other sites serve (each gets
     * exactly its regions' and countries' topics: interest-based routing).
     * Given, every regex is checked against that same rule.
     */
    flows: z.array(FlowSchema).optional(),
    /** Abuse limits of this site's gateway. */
    limits: SiteLimitsSchema.default({}),
    /** How long the site's database keeps what it received (instances/row-retention.ts). */
    retention: SiteRetentionSchema.default({}),
    /** Downstream systems this site delivers its events to (federation/delivery.ts). */
    delivery: DeliverySchema.default({}),
  })
  .strict();
/** A site as the federation runs it: its flows given or derived (never absent). */
export type Site = Omit<z.infer<typeof SiteSchema>, 'flows'> & { flows: Flow[] };

/**
 * The Product Information System's database and its change capture
 * (federation/pis.ts): the launcher starts a PostgreSQL with
 * `wal_level=logical` for it and a Kafka Connect worker running Debezium at
 * `site`, whose gateway publishes every captured change.
 */
export const PisSchema = z
  .object({
    /** The site the PIS belongs to: its Kafka receives the changes and its gateway publishes them. */
    site: siteName,
    /** The PIS database's port on the site's address (PostgreSQL, password authentication), when fedgate runs it. */
    databasePort: port.default(5442),
    /**
     * The PIS's own PostgreSQL, when it already runs somewhere: fedgate then
     * starts no database and reads this one as `fedgate_cdc` (change
     * capture) and `fedgate_catalog` (enrichment), with the passwords in the
     * PIS site's secrets folder. `npx fedgate pis check` says what it still
     * needs (`wal_level=logical`, the roles, the tables, the publication).
     */
    database: z
      .object({
        host: z.string().min(1),
        port: port.default(5432),
        name: z
          .string()
          .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a lower-case PostgreSQL identifier')
          .default('pis'),
        /**
         * How fedgate's connections reach it (libpq's names): "verify-full"
         * (TLS; the server's certificate must chain to `sslrootcert` and name
         * `host`) or "disable" (plaintext, for a database on this machine's
         * loopback only).
         */
        sslmode: z.enum(['verify-full', 'disable']).default('verify-full'),
        /** The CA certificate (PEM, an absolute path) that issued the database server's certificate; required for "verify-full". */
        sslrootcert: z.string().startsWith('/', 'an absolute path').optional(),
      })
      .strict()
      .optional(),
    /** The Connect worker's REST listener on the site's address (HTTPS; a client certificate of the federation is required). */
    connectPort: port.default(8093),
    /** JVM heap of the Connect worker, as for -Xmx. */
    connectHeap: z.string().default('256m'),
    /**
     * Enrichment: every gateway adds the PIS catalog's name, brand and
     * category to each event it accepts, from the PIS's `products` table
     * (through the PIS site's gateway), cached for `cacheSeconds`.
     * `unknownProduct`: "pass" (the event goes on, marked unenriched) or
     * "dead-letter" (refused: problem `unknown-product` over HTTP, the
     * dead-letter topic for change capture and the source topic).
     */
    enrichment: z
      .object({
        unknownProduct: z.enum(['pass', 'dead-letter']).default('pass'),
        cacheSeconds: z.number().int().min(1).max(3600).default(60),
      })
      .strict()
      .default({}),
  })
  .strict();
export type Pis = z.output<typeof PisSchema>;

export const TopologySchema = z
  .object({
    federation: z.string().min(1),
    replicationPolicy: z.enum(['default', 'identity']).default('default'),
    /** Partitions of every routed topic. */
    partitions: z.number().int().min(1).max(64).default(3),
    /** JVM heap per broker and per MM2 node, as for -Xmx. */
    heap: z
      .object({ broker: z.string().default('384m'), mm2: z.string().default('256m') })
      .strict()
      .default({}),
    /** MirrorMaker 2 intervals. Seconds, not the WAN defaults of 60-600 s. */
    mm2: z
      .object({
        heartbeatSeconds: z.number().int().min(1).default(1),
        checkpointSeconds: z.number().int().min(1).default(2),
        syncGroupOffsetsSeconds: z.number().int().min(1).default(2),
        refreshSeconds: z.number().int().min(1).default(2),
        offsetLagMax: z.number().int().min(0).default(10),
        /**
         * Exactly-once copies (KIP-618 in dedicated MM2, Kafka 3.5+): each
         * source task writes its copies and its source offsets in one
         * transaction, so a killed node resumes without copying anything twice.
         * Readers of the copies must read committed (kafkajs does by default).
         * Needs `ports.mm2Rest` on every site that receives a flow.
         */
        exactlyOnce: z.boolean().default(false),
      })
      .strict()
      .default({}),
    sites: z.array(SiteSchema).min(1),
    /** The PIS database and its change capture; absent: events come in only through the gateways' APIs. */
    pis: PisSchema.optional(),
  })
  .strict()
  .transform((t) => ({ ...t, sites: t.sites.map((s) => ({ ...s, flows: s.flows ?? derivedFlows(t.sites, s.name) })) }));
export type Topology = z.output<typeof TopologySchema>;

/**
 * The flows of a site that declares none: to every other site that serves
 * something, exactly the topics it serves (routedTopicsForSite, the same
 * rule the ACLs and the flow checks use).
 */
export function derivedFlows(sites: ReadonlyArray<Pick<Site, 'name' | 'regions' | 'countries'>>, from: string): Flow[] {
  return sites.filter((t) => t.name !== from && routedTopicsForSite(t).length > 0).map((t) => ({ to: t.name, topics: suggestedFlowRegex(t) }));
}

export interface TopologyProblem {
  /** Dotted path of the offending field, e.g. `sites[1].flows[0].topics`. */
  field: string;
  message: string;
  fix: string;
}

export class TopologyError extends Error {
  readonly problems: TopologyProblem[];
  constructor(source: string, problems: TopologyProblem[]) {
    super(`${source} is not a valid topology:\n${problems.map((p) => `  - ${p.field}: ${p.message}\n    fix: ${p.fix}`).join('\n')}`);
    this.name = 'TopologyError';
    this.problems = problems;
  }
}

/** Each broker of a site has its own Kafka listeners: broker n uses these ports + BROKER_PORT_STRIDE·(n−1). */
export const BROKER_PORTS = ['kafka', 'interSite', 'controller', 'brokerMetrics'] as const;
export const BROKER_PORT_STRIDE = 100;

/** One broker of a site: its node id (1-based) and its listeners' ports. */
export interface BrokerNode {
  id: number;
  kafka: number;
  interSite: number;
  controller: number;
  /** The node's JMX exporter, when the site has `ports.brokerMetrics`. */
  metrics?: number;
}

export function brokerNodes(site: Pick<Site, 'brokers' | 'ports'>): BrokerNode[] {
  return Array.from({ length: site.brokers }, (_, i) => ({
    id: i + 1,
    kafka: site.ports.kafka + BROKER_PORT_STRIDE * i,
    interSite: site.ports.interSite + BROKER_PORT_STRIDE * i,
    controller: site.ports.controller + BROKER_PORT_STRIDE * i,
    ...(site.ports.brokerMetrics === undefined ? {} : { metrics: site.ports.brokerMetrics + BROKER_PORT_STRIDE * i }),
  }));
}

/** Copies of every topic at the site, and how many must have a write before it is acknowledged. */
export function replicationOf(site: Pick<Site, 'brokers'>): { factor: number; minInsync: number } {
  return site.brokers >= 3 ? { factor: 3, minInsync: 2 } : { factor: 1, minInsync: 1 };
}

/** The ports that face other sites; they bind the WAN address. */
export const WAN_PORTS: ReadonlyArray<keyof SitePorts> = ['interSite', 'peer'];

export function wanAddressOf(site: Pick<Site, 'address' | 'wanAddress'>): string {
  return site.wanAddress ?? site.address;
}

/** The address a listener of the site binds. */
/** Where the site's gateway (public and peer listeners) and instance listen: `endpoints.bind`, else the native address. */
export function nodeBindAddress(site: Pick<Site, 'address' | 'wanAddress' | 'endpoints'>, port: 'gateway' | 'peer' | 'instance'): string {
  return site.endpoints?.bind ?? bindAddressOf(site, port);
}

/** host and port of the site's read API as its gateway reaches it. */
export function instanceEndpoint(site: Pick<Site, 'address' | 'ports' | 'endpoints'>): { host: string; port: number } {
  return site.endpoints?.instance ? splitHostPort(site.endpoints.instance) : { host: site.address, port: site.ports.instance };
}

/** host and port of the site's gateway peer listener as the other sites reach it. */
export function peerEndpoint(site: Pick<Site, 'address' | 'wanAddress' | 'ports' | 'endpoints'>): { host: string; port: number } {
  return site.endpoints?.peer ? splitHostPort(site.endpoints.peer) : { host: wanAddressOf(site), port: site.ports.peer };
}

function splitHostPort(value: string): { host: string; port: number } {
  const i = value.lastIndexOf(':');
  return { host: value.slice(0, i), port: Number(value.slice(i + 1)) };
}

export function bindAddressOf(site: Pick<Site, 'address' | 'wanAddress'>, port: keyof SitePorts): string {
  return WAN_PORTS.includes(port) ? wanAddressOf(site) : site.address;
}

/** A literal as a regex (Java's and JavaScript's syntax agree on these escapes). */
export const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\-]/g, (c) => `\\${c}`);

/** Compiles a flow regex with Java's full-match semantics. */
export function compileFlowRegex(source: string): RegExp {
  return new RegExp(`^(?:${source})$`);
}

/** The regex that carries exactly the topics `target` serves; offered as the fix. */
export function suggestedFlowRegex(target: Pick<Site, 'regions' | 'countries'>): string {
  return routedTopicsForSite(target).map(escapeRegex).join('|');
}

/**
 * Federation-level rules. Pure: takes a parsed topology, returns problems.
 * An empty list means the topology is safe to render and run.
 */
export function findTopologyProblems(topology: Topology): TopologyProblem[] {
  const problems: TopologyProblem[] = [];
  const names = new Map<string, number>();
  const listeners = new Map<string, string>();
  const addresses = new Map<string, string>();

  topology.sites.forEach((site, i) => {
    const at = `sites[${i}]`;
    if (names.has(site.name)) {
      problems.push({ field: `${at}.name`, message: `site "${site.name}" is defined twice`, fix: 'give every site a unique name' });
    }
    names.set(site.name, i);

    const previous = addresses.get(site.address);
    if (previous !== undefined) {
      problems.push({
        field: `${at}.address`,
        message: `address ${site.address} is already used by site "${previous}"`,
        fix: 'give each site its own loopback address, e.g. 127.0.1.1, 127.0.2.1, 127.0.3.1',
      });
    }
    addresses.set(site.address, site.name);

    if (site.wanAddress && site.wanAddress !== site.address) {
      const owner = addresses.get(site.wanAddress);
      if (owner !== undefined) {
        problems.push({
          field: `${at}.wanAddress`,
          message: `address ${site.wanAddress} is already used by site "${owner}"`,
          fix: 'give each site its own WAN address',
        });
      }
      addresses.set(site.wanAddress, site.name);
    }

    // Every listener, the extra brokers' included (their ports are the site's + 100·(n−1)).
    const used: Array<[string, number, string]> = Object.entries(site.ports).map(([key, value]) => [key, value as number, `${site.name}.ports.${key}`]);
    for (let n = 2; n <= site.brokers; n++)
      for (const key of BROKER_PORTS) {
        const base = site.ports[key];
        if (base !== undefined)
          used.push([key, base + BROKER_PORT_STRIDE * (n - 1), `${site.name}'s broker ${n} (ports.${key} + ${BROKER_PORT_STRIDE * (n - 1)})`]);
      }
    for (const [key, value, name] of used) {
      const endpoint = `${bindAddressOf(site, key as keyof SitePorts)}:${value}`;
      const owner = listeners.get(endpoint);
      if (owner !== undefined) {
        problems.push({
          field: `${at}.ports.${key}`,
          message: `${endpoint}${name === `${site.name}.ports.${key}` ? '' : ` (${name})`} is already used by ${owner}`,
          fix: 'use a port that no other listener of this address uses',
        });
      }
      listeners.set(endpoint, name);
    }
  });

  const siteByName = new Map(topology.sites.map((s) => [s.name, s]));
  const localTopics = allRoutedTopics(topology);
  const flowTargetsBySource = new Map<string, Set<string>>();

  topology.sites.forEach((site, i) => {
    const targets = new Set<string>();
    flowTargetsBySource.set(site.name, targets);
    site.flows.forEach((flow, j) => {
      const at = `sites[${i}].flows[${j}]`;
      const target = siteByName.get(flow.to);
      if (!target) {
        problems.push({
          field: `${at}.to`,
          message: `unknown site "${flow.to}"`,
          fix: `use one of: ${[...siteByName.keys()].join(', ')}`,
        });
        return;
      }
      if (flow.to === site.name) {
        problems.push({ field: `${at}.to`, message: 'a site cannot flow to itself', fix: 'remove this flow' });
        return;
      }
      if (targets.has(flow.to)) {
        problems.push({ field: `${at}.to`, message: `a second flow from "${site.name}" to "${flow.to}"`, fix: 'merge the two regexes into one flow' });
      }
      targets.add(flow.to);

      let regex: RegExp;
      try {
        regex = compileFlowRegex(flow.topics);
      } catch (err) {
        problems.push({
          field: `${at}.topics`,
          message: `not a valid regex (${(err as Error).message})`,
          fix: 'escape dots as \\\\. and balance the parentheses',
        });
        return;
      }

      // A flow regex that matches a remote topic (`<alias>.<topic>`) makes MM2
      // copy copies: cloud-a.fed.x at cloud-b would flow on as cloud-b.cloud-a.fed.x.
      const remoteSamples = topology.sites
        .filter((s) => s.name !== site.name)
        .flatMap((s) => [...localTopics, 'any', 'heartbeats'].map((t) => `${s.name}.${t}`));
      const chained = remoteSamples.find((name) => regex.test(name));
      if (chained) {
        problems.push({
          field: `${at}.topics`,
          message: `matches the replicated topic "${chained}", which would chain copies from site to site`,
          fix: `match only local topic names, e.g. "${suggestedFlowRegex(target)}"`,
        });
        return;
      }

      // Exactly the sites that need an event: a flow carries what its target
      // serves, nothing more and nothing less.
      const carried = new Set(localTopics.filter((t) => regex.test(t)));
      const needed = new Set(routedTopicsForSite(target));
      const missing = [...needed].filter((t) => !carried.has(t)).sort();
      const extra = [...carried].filter((t) => !needed.has(t)).sort();
      if (missing.length > 0 || extra.length > 0) {
        const parts = [];
        if (missing.length) parts.push(`does not carry ${missing.join(', ')} which "${target.name}" serves`);
        if (extra.length) parts.push(`carries ${extra.join(', ')} which "${target.name}" does not serve`);
        problems.push({ field: `${at}.topics`, message: parts.join('; '), fix: `use "${suggestedFlowRegex(target)}"` });
      }
    });
  });

  // Every site that serves something must be reachable from every publisher.
  for (const [i, source] of topology.sites.entries()) {
    for (const target of topology.sites) {
      if (target.name === source.name || routedTopicsForSite(target).length === 0) continue;
      if (!flowTargetsBySource.get(source.name)?.has(target.name)) {
        problems.push({
          field: `sites[${i}].flows`,
          message: `no flow from "${source.name}" to "${target.name}": events published at ${source.name} would never reach ${target.name}`,
          fix: `add { "to": "${target.name}", "topics": "${suggestedFlowRegex(target)}" }`,
        });
      }
    }
  }

  topology.sites.forEach((site, i) => {
    problems.push(...findDeliveryProblems(site, `sites[${i}]`));
  });

  // Exactly-once MM2 needs the node's internal REST listener wherever a flow arrives.
  if (topology.mm2.exactlyOnce) {
    topology.sites.forEach((site, i) => {
      const receives = topology.sites.some((s) => s.name !== site.name && s.flows.some((f) => f.to === site.name));
      if (receives && site.ports.mm2Rest === undefined) {
        problems.push({
          field: `sites[${i}].ports.mm2Rest`,
          message: `mm2.exactlyOnce is on, and "${site.name}"'s MM2 node needs its internal REST listener (KIP-710) to fence zombie tasks`,
          fix: 'add a free port, e.g. "mm2Rest": 8083',
        });
      }
    });
  }

  // IdentityReplicationPolicy keeps topic names, so MM2 cannot tell a copy
  // from an original: two-way flows loop forever.
  if (topology.replicationPolicy === 'identity') {
    for (const site of topology.sites) {
      for (const flow of site.flows) {
        const back = siteByName.get(flow.to)?.flows.some((f) => f.to === site.name);
        if (back && site.name < flow.to) {
          problems.push({
            field: 'replicationPolicy',
            message: `"identity" with flows both ways between "${site.name}" and "${flow.to}" replicates records in a loop forever`,
            fix: 'use "default" (topics become <source>.<topic>), or keep flows one-way',
          });
        }
      }
    }
  }
  if (topology.pis) {
    const pisSite = topology.sites.find((s) => s.name === topology.pis!.site);
    if (!pisSite) {
      problems.push({
        field: 'pis.site',
        message: `unknown site "${topology.pis.site}"`,
        fix: `use one of: ${topology.sites.map((s) => s.name).join(', ')}`,
      });
    } else {
      // An external database listens elsewhere: only the ports fedgate opens on the site's address can collide.
      for (const key of topology.pis.database ? (['connectPort'] as const) : (['databasePort', 'connectPort'] as const)) {
        const taken = Object.entries(pisSite.ports).find(([, p]) => p === topology.pis![key]);
        if (taken)
          problems.push({
            field: `pis.${key}`,
            message: `port ${topology.pis[key]} is already ${pisSite.name}.ports.${taken[0]} on ${pisSite.address}`,
            fix: 'choose a free port',
          });
      }
      const db = topology.pis.database;
      if (db?.sslmode === 'verify-full' && !db.sslrootcert)
        problems.push({
          field: 'pis.database.sslrootcert',
          message: 'fedgate reaches the PIS database over TLS and verifies its certificate, and needs the CA that issued it',
          fix: 'set "sslrootcert" to the absolute path of that CA certificate (PEM); for a database on this machine\'s loopback only, "sslmode": "disable"',
        });
      if (db?.sslmode === 'disable' && !isLoopbackHost(db.host))
        problems.push({
          field: 'pis.database.sslmode',
          message: `"disable" sends the capture and catalog roles' passwords and every captured row in plaintext to ${db.host}`,
          fix: 'use "verify-full" with "sslrootcert" (the CA of the database server\'s certificate); "disable" is for a database on loopback (127.0.0.0/8, ::1, localhost)',
        });
      if (!topology.pis.database && topology.pis.databasePort === topology.pis.connectPort)
        problems.push({ field: 'pis.connectPort', message: 'the database and the Connect worker cannot share a port', fix: 'choose another port' });
    }
  }
  return problems;
}

/** True for an address that never leaves this machine. */
export const isLoopbackHost = (host: string) => host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);

/** Parses and validates; throws a TopologyError listing every problem. */
export function parseTopology(input: unknown, source = 'topology'): Topology {
  const parsed = TopologySchema.safeParse(input);
  if (!parsed.success) {
    throw new TopologyError(
      source,
      parsed.error.issues.map((issue) => ({
        field: formatPath(issue.path),
        message: issue.message,
        fix: fixForZodIssue(issue),
      })),
    );
  }
  const problems = findTopologyProblems(parsed.data);
  if (problems.length > 0) throw new TopologyError(source, problems);
  return parsed.data;
}

export function loadTopology(file: string): Topology {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new TopologyError(file, [
      { field: '(file)', message: (err as Error).message, fix: 'pass --topology <file>, or run from the project folder that has topology.json' },
    ]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new TopologyError(file, [{ field: '(file)', message: `not JSON: ${(err as Error).message}`, fix: 'fix the JSON syntax' }]);
  }
  return parseTopology(json, file);
}

export function siteOf(topology: Topology, name: string): Site {
  const site = topology.sites.find((s) => s.name === name);
  if (!site) throw new Error(`unknown site "${name}"; the topology has: ${topology.sites.map((s) => s.name).join(', ')}`);
  return site;
}

/** The sites whose flows carry topics into `site` (its MM2 node consumes them). */
export function upstreamSites(topology: Topology, site: string): Site[] {
  return topology.sites.filter((s) => s.flows.some((f) => f.to === site));
}

function formatPath(path: (string | number)[]): string {
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '') || '(root)';
}

function fixForZodIssue(issue: z.ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.received === 'undefined' ? `add the field (${issue.expected})` : `use a ${issue.expected}`;
    case 'unrecognized_keys':
      return `remove ${issue.keys.join(', ')} (not a topology field)`;
    default:
      return issue.message;
  }
}
