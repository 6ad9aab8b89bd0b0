import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import {
  type AclOperation,
  type AclRule,
  checkpointedGroups,
  mm2Tuning,
  parseTopology,
  renderAcls,
  type Site,
  siteOf,
  siteTopicPlan,
  superUsers,
  type Topology,
  TopologyError,
  upstreamSites,
} from '../../federation/index.ts';
import { brokerPolicy } from '../broker-config.ts';
import { renderJmxExporterRules } from '../jmx-exporter.ts';
import { CDC_PASSWORD_KEY, cdcPasswordSecret, connectResources, PIS_CA_KEY, pisCaSecret } from './connect.ts';
import { CA_SECRET, databaseSecret, defaultImage, peerHost, siteSecret, workloadResources } from './workloads.ts';

/**
 * Kubernetes resources for the Strimzi operator, rendered from the same
 * topology as the native federation (pure): per site, in that site's own
 * cluster,
 * - a `Kafka` in KRaft mode with one `KafkaNodePool` of dual-role nodes
 *   (3 by default: replication factor 3, min.insync.replicas 2);
 * - a `KafkaTopic` per topic of the site's topic plan (siteTopicPlan, as the
 *   launcher creates them natively);
 * - a `KafkaUser` per principal that the native ACLs name (renderAcls, the same
 *   function), authenticated by its fedgate certificate (`tls-external`);
 * - one `KafkaMirrorMaker2` that reads every upstream site and writes here,
 *   with the native node's settings (mm2Tuning, the same function);
 * - at the PIS site, when the PIS's own database is given, a `KafkaConnect`
 *   built with Debezium and the `KafkaConnector` of the native worker
 *   (connect.ts).
 *
 * Secrets are referenced by name and never written here.
 */

export const STRIMZI_API = 'kafka.strimzi.io/v1beta2';
/** The Kafka version Strimzi 0.45 runs (it supports 3.8.0, 3.8.1 and 3.9.0; the native federation runs 3.9.1). */
export const STRIMZI_KAFKA_VERSION = '3.9.0';
export const STRIMZI_METADATA_VERSION = '3.9-IV0';
/** Listener ports inside each site's cluster: `local` for the site's own clients, `fed` for the other sites. */
export const K8S_PORTS = { local: 9093, fed: 9094 } as const;
/** The pool of KRaft nodes (each broker and controller) of every site. */
export const NODE_POOL = 'dual';

export interface K8sOptions {
  /** Namespace of every resource, in each site's cluster. */
  namespace: string;
  /**
   * DNS domain under which each site publishes its inter-site Kafka listener:
   * `kafka.<site>.<domain>` points at the `fed` listener's bootstrap load balancer.
   */
  domain: string;
  /** Kafka nodes per site (KafkaNodePool replicas). */
  brokers: 1 | 3;
  /** The fedgate image the gateway and instance pods run (deploy/docker/Dockerfile). */
  image: string;
  /** Where Strimzi's build pushes the PIS site's Connect image with Debezium (rendered only for the PIS's own database). */
  connectImage: string;
}

export const DEFAULT_K8S_OPTIONS: K8sOptions = {
  namespace: 'fedgate',
  domain: 'fedgate.example',
  brokers: 3,
  image: defaultImage(),
  connectImage: 'registry.fedgate.example/fedgate/connect-debezium:latest',
};

export interface K8sResource {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

/** The address other sites reach a site's `fed` listener at. */
export const fedBootstrapHost = (site: string, options: Pick<K8sOptions, 'domain'>) => `kafka.${site}.${options.domain}`;
/** The in-cluster bootstrap service Strimzi creates for a Kafka named after the site. */
export const localBootstrapService = (site: string) => `${site}-kafka-bootstrap:${K8S_PORTS.local}`;
/** The Secret (tls.crt, tls.key) holding a principal's fedgate certificate: named like the KafkaUser. */
export const userSecret = (user: string) => user;
/** The Secret, copied from site `upstream`'s cluster, with the CA of its brokers (`<upstream>-cluster-ca-cert` there). */
export const upstreamClusterCaSecret = (upstream: string) => `fedgate-${upstream}-cluster-ca-cert`;

/** The topology as Kubernetes runs it: every site with `options.brokers` Kafka nodes, so topics and MM2 replicate as many times. */
export function k8sTopology(topology: Topology, options: Pick<K8sOptions, 'brokers'>): Topology {
  if (topology.mm2.exactlyOnce) {
    throw new TopologyError('the topology for Kubernetes', [
      {
        field: 'mm2.exactlyOnce',
        message: 'k8s render does not yet carry exactly-once MirrorMaker 2 (its transactional ids and internal REST listener differ under Strimzi)',
        fix: 'render from a topology with "mm2": { "exactlyOnce": false }, or run exactly-once MM2 with `npx fedgate up`',
      },
    ]);
  }
  return parseTopology(
    { ...topology, sites: topology.sites.map(({ flows, ...s }) => ({ ...s, flows, brokers: options.brokers })) },
    'the topology for Kubernetes',
  );
}

/** Every resource of one site, in the order they can be applied. */
export function renderSiteResources(topology: Topology, siteName: string, options: K8sOptions = DEFAULT_K8S_OPTIONS): K8sResource[] {
  const kt = k8sTopology(topology, options);
  const site = siteOf(kt, siteName);
  return [
    ...kafkaResources(kt, site, options),
    ...topicResources(kt, site, options),
    ...userResources(kt, site, options),
    ...(upstreamSites(kt, site.name).length > 0 ? [mirrorMaker2Resource(kt, site, options)] : []),
    ...(connectResources(kt, site, {
      connectImage: options.connectImage,
      kafkaVersion: STRIMZI_KAFKA_VERSION,
      localBootstrap: localBootstrapService(site.name),
      meta: (name, s, extra) => meta(name, s, options, extra),
    }) as K8sResource[]),
    ...(workloadResources(kt, site.name, options) as K8sResource[]),
  ];
}

const meta = (name: string, site: string, options: K8sOptions, extra: Partial<K8sResource['metadata']> = {}): K8sResource['metadata'] => ({
  name,
  namespace: options.namespace,
  ...extra,
  labels: { 'app.kubernetes.io/part-of': 'fedgate', 'fedgate.dev/site': site, ...extra.labels },
});
const ofCluster = (site: string) => ({ 'strimzi.io/cluster': site });

/** Strimzi owns these broker settings itself (KafkaClusterSpec.FORBIDDEN_PREFIXES): the KRaft heartbeats among them. */
const OPERATOR_OWNED = ['broker.', 'log.dir', 'listeners', 'ssl.', 'authorizer.', 'super.user', 'node.id', 'process.roles', 'controller.'];

function kafkaResources(topology: Topology, site: Site, options: K8sOptions): K8sResource[] {
  const metricsMap = (component: 'broker' | 'mm2'): K8sResource => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: meta(`${site.name}-${component === 'broker' ? 'kafka' : 'mm2'}-metrics`, site.name, options),
    data: { 'metrics-config.yml': renderJmxExporterRules(component) },
  });
  const tls = { type: 'tls' };
  const kafka: K8sResource = {
    apiVersion: STRIMZI_API,
    kind: 'Kafka',
    metadata: meta(site.name, site.name, options, { annotations: { 'strimzi.io/node-pools': 'enabled', 'strimzi.io/kraft': 'enabled' } }),
    spec: {
      kafka: {
        version: STRIMZI_KAFKA_VERSION,
        metadataVersion: STRIMZI_METADATA_VERSION,
        // Every listener is TLS with client certificates, as natively: `local` for the site's own services,
        // `fed` (a load balancer) for the other sites' MirrorMaker 2 and gateways.
        listeners: [
          { name: 'local', port: K8S_PORTS.local, type: 'internal', tls: true, authentication: tls },
          {
            name: 'fed',
            port: K8S_PORTS.fed,
            type: 'loadbalancer',
            tls: true,
            authentication: tls,
            configuration: { bootstrap: { alternativeNames: [fedBootstrapHost(site.name, options)] } },
          },
        ],
        // Least privilege: the KafkaUsers' ACLs, nothing for anyone unlisted. Strimzi's own operators and
        // brokers are its super users; fedgate's native super users (the site's broker and admin) are not needed here.
        authorization: { type: 'simple' },
        config: {
          ...Object.fromEntries(brokerPolicy(topology, site).filter(([k]) => !OPERATOR_OWNED.some((p) => k.startsWith(p)))),
          'ssl.enabled.protocols': 'TLSv1.3,TLSv1.2',
        },
        metricsConfig: metricsConfig(`${site.name}-kafka-metrics`),
      },
      entityOperator: { topicOperator: {}, userOperator: {} },
      // The brokers' certificates come from Strimzi's cluster CA of this site (other sites trust it through a copied
      // Secret). Client certificates are fedgate's: the clients CA is the federation CA, given as a Secret.
      clientsCa: { generateCertificateAuthority: false },
    },
  };
  const pool: K8sResource = {
    apiVersion: STRIMZI_API,
    kind: 'KafkaNodePool',
    metadata: meta(NODE_POOL, site.name, options, { labels: ofCluster(site.name) }),
    spec: {
      replicas: options.brokers,
      roles: ['controller', 'broker'],
      storage: { type: 'jbod', volumes: [{ id: 0, type: 'persistent-claim', size: '20Gi', deleteClaim: false, kraftMetadata: 'shared' }] },
      jvmOptions: { '-Xms': topology.heap.broker, '-Xmx': topology.heap.broker },
      resources: { requests: { cpu: '500m', memory: '1Gi' }, limits: { memory: '1Gi' } },
    },
  };
  return [metricsMap('broker'), metricsMap('mm2'), kafka, pool];
}

const metricsConfig = (configMap: string) => ({
  type: 'jmxPrometheusExporter',
  valueFrom: { configMapKeyRef: { name: configMap, key: 'metrics-config.yml' } },
});

/** A Kubernetes object name for a topic: lower case, and a short hash when that changed it (names must stay distinct). */
export function topicResourceName(topic: string): string {
  const lower = topic.toLowerCase().replace(/[^a-z0-9.-]/g, '-');
  if (lower === topic) return topic;
  let h = 0;
  for (const c of topic) h = (Math.imul(h, 31) + c.charCodeAt(0)) >>> 0;
  return `${lower}-${h.toString(16).padStart(8, '0').slice(0, 8)}`;
}

function topicResources(topology: Topology, site: Site, options: K8sOptions): K8sResource[] {
  return siteTopicPlan(topology, site.name).map((t) => {
    const name = topicResourceName(t.topic);
    return {
      apiVersion: STRIMZI_API,
      kind: 'KafkaTopic',
      metadata: meta(name, site.name, options, { labels: ofCluster(site.name) }),
      spec: {
        ...(name === t.topic ? {} : { topicName: t.topic }),
        partitions: t.numPartitions,
        replicas: t.replicationFactor,
        ...(t.configEntries?.length ? { config: Object.fromEntries(t.configEntries.map((e) => [e.name, e.value])) } : {}),
      },
    };
  });
}

const STRIMZI_OPERATIONS: Record<AclOperation, string> = {
  read: 'Read',
  write: 'Write',
  create: 'Create',
  describe: 'Describe',
  describe_configs: 'DescribeConfigs',
  alter_configs: 'AlterConfigs',
  delete: 'Delete',
};
const STRIMZI_RESOURCE_TYPES = { topic: 'topic', group: 'group', cluster: 'cluster', transactional_id: 'transactionalId' } as const;

export interface StrimziAclRule {
  resource: { type: string; name?: string; patternType?: 'literal' | 'prefix' };
  operations: string[];
}

/** The native ACL rules of one principal as Strimzi ACL rules: one per resource, with its operations. */
export function strimziAcls(rules: readonly AclRule[]): StrimziAclRule[] {
  const byResource = new Map<string, StrimziAclRule>();
  for (const r of rules) {
    const key = [r.resource, r.name, r.pattern].join('|');
    let rule = byResource.get(key);
    if (!rule) {
      rule = {
        resource:
          r.resource === 'cluster'
            ? { type: 'cluster' }
            : // A literal group pattern is Strimzi's default, and its model leaves it out when it writes the resource.
              r.resource === 'group' && r.pattern === 'literal'
              ? { type: 'group', name: r.name }
              : { type: STRIMZI_RESOURCE_TYPES[r.resource], name: r.name, patternType: r.pattern === 'prefixed' ? 'prefix' : 'literal' },
        operations: [],
      };
      byResource.set(key, rule);
    }
    rule.operations.push(STRIMZI_OPERATIONS[r.operation]);
  }
  return [...byResource.values()];
}

/** The KafkaUser name of a native principal (`User:<site>.<role>.fedgate`): its certificate's CN. */
export const userOfPrincipal = (principal: string) => principal.replace(/^User:/, '');

function userResources(topology: Topology, site: Site, options: K8sOptions): K8sResource[] {
  const supers = new Set(superUsers(site.name));
  const byPrincipal = new Map<string, AclRule[]>();
  for (const rule of renderAcls(topology, site.name)) {
    if (supers.has(rule.principal)) continue;
    byPrincipal.set(rule.principal, [...(byPrincipal.get(rule.principal) ?? []), rule]);
  }
  return [...byPrincipal].map(([principal, rules]) => ({
    apiVersion: STRIMZI_API,
    kind: 'KafkaUser',
    metadata: meta(userOfPrincipal(principal), site.name, options, { labels: ofCluster(site.name) }),
    spec: {
      // fedgate issues the certificate (subject exactly CN=<user>); the User Operator issues nothing.
      authentication: { type: 'tls-external' },
      authorization: { type: 'simple', acls: strimziAcls(rules) },
    },
  }));
}

function mirrorMaker2Resource(topology: Topology, site: Site, options: K8sOptions): K8sResource {
  const t = mm2Tuning(topology, site.name);
  const mm2User = `${site.name}.mm2.fedgate`;
  const auth = { type: 'tls', certificateAndKey: { secretName: userSecret(mm2User), certificate: 'tls.crt', key: 'tls.key' } };
  const upstream = upstreamSites(topology, site.name);
  const { 'tasks.max': tasksMax, ...connectors } = t.connectors;
  const prefixed = (prefix: string, settings: Record<string, unknown>) => Object.fromEntries(Object.entries(settings).map(([k, v]) => [`${prefix}${k}`, v]));
  // The Connect cluster's group and internal topics fall under the `mm2-` prefix its ACLs grant (federation/acls.ts).
  const internal = `mm2-${site.name}`;
  return {
    apiVersion: STRIMZI_API,
    kind: 'KafkaMirrorMaker2',
    metadata: meta(`${site.name}-mm2`, site.name, options),
    spec: {
      version: STRIMZI_KAFKA_VERSION,
      replicas: 1,
      connectCluster: site.name,
      clusters: [
        {
          alias: site.name,
          bootstrapServers: localBootstrapService(site.name),
          tls: { trustedCertificates: [{ secretName: `${site.name}-cluster-ca-cert`, certificate: 'ca.crt' }] },
          authentication: auth,
          config: {
            'group.id': internal,
            'offset.storage.topic': `${internal}-offsets`,
            'config.storage.topic': `${internal}-configs`,
            'status.storage.topic': `${internal}-status`,
            ...t.workerStorage,
            ...t.worker,
            // The Connect worker's producer writes the copies (natively `<site>.producer.*`).
            ...prefixed('producer.', t.producer),
          },
        },
        ...upstream.map((u) => ({
          alias: u.name,
          bootstrapServers: `${fedBootstrapHost(u.name, options)}:${K8S_PORTS.fed}`,
          tls: { trustedCertificates: [{ secretName: upstreamClusterCaSecret(u.name), certificate: 'ca.crt' }] },
          authentication: auth,
        })),
      ],
      mirrors: upstream.flatMap((u) => {
        const flow = u.flows.find((f) => f.to === site.name);
        if (!flow) return [];
        return [
          {
            sourceCluster: u.name,
            targetCluster: site.name,
            topicsPattern: flow.topics,
            groupsPattern: checkpointedGroups(u.name),
            // The consumer that reads the upstream site (natively `<upstream>.consumer.*`).
            sourceConnector: { tasksMax, config: { ...connectors, ...t.source, ...prefixed('consumer.', t.sourceConsumer) } },
            checkpointConnector: { tasksMax, config: { ...connectors, ...t.checkpoint } },
            heartbeatConnector: { tasksMax, config: { ...connectors, ...t.heartbeat } },
          },
        ];
      }),
      metricsConfig: metricsConfig(`${site.name}-mm2-metrics`),
      jvmOptions: { '-Xms': topology.heap.mm2, '-Xmx': topology.heap.mm2 },
      resources: { requests: { cpu: '250m', memory: '768Mi' }, limits: { memory: '768Mi' } },
    },
  };
}

/** What the file needs, or says, about the PIS's change capture at this site. */
function cdcHeader(topology: Topology, siteName: string, options: K8sOptions): string[] {
  if (topology.pis?.site !== siteName) return [];
  if (!topology.pis.database)
    return [
      '# Change capture is not rendered: the PIS database here is the one `npx fedgate up` runs on this machine. Give the',
      "#   topology's pis.database (the PIS's own PostgreSQL, reachable from the cluster) to render its KafkaConnect and KafkaConnector.",
    ];
  return [
    `#   ${siteName}.connect.fedgate: this site's Connect certificate (tls.crt, tls.key)`,
    `#   ${cdcPasswordSecret(siteName)}: ${CDC_PASSWORD_KEY}, "password=" and the fedgate_cdc role's password`,
    `#   ${pisCaSecret(siteName)}: ${PIS_CA_KEY}, the CA of the PIS database server's certificate (the topology's sslrootcert)`,
    `# and a registry for Strimzi's Connect build to push ${options.connectImage} to (with its push Secret, if it needs one).`,
  ];
}

/** One YAML stream per site, with a header saying what it needs. */
export function renderSiteYaml(topology: Topology, siteName: string, options: K8sOptions = DEFAULT_K8S_OPTIONS): string {
  const upstream = upstreamSites(topology, siteName).map((u) => u.name);
  const header = [
    `# Site ${siteName} of federation ${topology.federation}, for the Strimzi operator (0.45, Kafka ${STRIMZI_KAFKA_VERSION}).`,
    '# Generated by `npx fedgate k8s render` from the topology; edit the topology, not this file.',
    `# Apply in site ${siteName}'s cluster, namespace ${options.namespace}, after creating these Secrets (never rendered here):`,
    `#   ${siteName}-clients-ca-cert, ${siteName}-clients-ca: the federation CA (Strimzi's custom clients CA)`,
    ...(upstream.length ? [`#   ${siteName}.mm2.fedgate: this site's MM2 certificate (tls.crt, tls.key)`] : []),
    ...upstream.map((u) => `#   ${upstreamClusterCaSecret(u)}: ca.crt of ${u}'s ${u}-cluster-ca-cert`),
    `#   ${CA_SECRET}: ca.pem, the federation CA certificate; ${siteSecret(siteName)}: the files of .fedgate/certs/${siteName}/`,
    `#   ${databaseSecret(siteName)}: url, the PostgreSQL URL of the site's database`,
    ...cdcHeader(topology, siteName, options),
    `# (\`npx fedgate k8s secrets\` prepares those files and prints the kubectl commands),`,
    `# and point ${fedBootstrapHost(siteName, options)} at the bootstrap load balancer of the fed listener,`,
    `# ${peerHost(siteName, options)} at the load balancer of the fedgate-${siteName}-peer Service.`,
  ];
  return `${header.join('\n')}\n${renderSiteResources(topology, siteName, options)
    .map((r) => `---\n${stringify(r, { lineWidth: 0, aliasDuplicateObjects: false })}`)
    .join('')}`;
}

/** Writes `<dir>/<site>.yaml` for every site; returns the files. */
export function writeK8sFiles(topology: Topology, dir: string, options: K8sOptions = DEFAULT_K8S_OPTIONS): string[] {
  mkdirSync(dir, { recursive: true });
  return topology.sites.map((s) => {
    const file = join(dir, `${s.name}.yaml`);
    writeFileSync(file, renderSiteYaml(topology, s.name, options));
    return file;
  });
}
