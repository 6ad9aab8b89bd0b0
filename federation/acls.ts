import { deliveryDeadLetterTopic } from './delivery.ts';
import { offsetSyncsTopic } from './offset-syncs.ts';
import { CDC_TOPIC_PREFIX, CDC_TOPICS, CONNECT_TOPICS, cdcGroup, connectGroup, isPisSite, SOURCE_TOPIC, sourceGroup } from './pis.ts';
import {
  allRoutedTopics,
  DEAD_LETTER_TOPIC,
  groupPrefix,
  IDEMPOTENCY_TOPIC,
  MONITORING_TOPIC,
  REPLAY_TOPIC,
  remoteTopic,
  routedTopicsForSite,
  streamGroupPrefix,
  windowGroupPrefix,
} from './topics.ts';
import { siteOf, type Topology, upstreamSites } from './topology.ts';

/**
 * Least-privilege ACLs of one site's broker, rendered from the topology (pure).
 * The same function that says which topics a site owes another
 * (routedTopicsForSite) decides what that site's MM2 node may read here, so
 * routing is enforced at the source: a widened MM2 regex at the target gets
 * nothing more.
 *
 * Principals are certificate CNs (`ssl.principal.mapping.rules`):
 * `User:<site>.<role>.fedgate`. The site's broker and admin are super users
 * (the broker for its own controller and replication, the admin for the
 * launcher's setup steps); nobody else gets anything unlisted
 * (`allow.everyone.if.no.acl.found=false`).
 */
export type AclResource = 'topic' | 'group' | 'cluster' | 'transactional_id';
export type AclPattern = 'literal' | 'prefixed';
export type AclOperation = 'read' | 'write' | 'create' | 'describe' | 'describe_configs' | 'alter_configs' | 'delete';

export interface AclRule {
  principal: string;
  resource: AclResource;
  name: string;
  pattern: AclPattern;
  operation: AclOperation;
}

export const principalOf = (site: string, role: 'broker' | 'admin' | 'gateway' | 'instance' | 'mm2' | 'connect' | 'pis') => `User:${site}.${role}.fedgate`;

export function superUsers(site: string): string[] {
  return [principalOf(site, 'broker'), principalOf(site, 'admin')];
}

/** The Connect group of the MM2 worker that copies `upstream` (MirrorMakerConfig's default group.id). */
export const mm2WorkerGroup = (upstream: string) => `${upstream}-mm2`;

/** MM2's own topics at its target: the Connect config/offset/status topics and (location=target) the offset syncs. */
const MM2_INTERNAL_PREFIX = 'mm2-';

export function renderAcls(topology: Topology, siteName: string): AclRule[] {
  const site = siteOf(topology, siteName);
  const rules = new Map<string, AclRule>();
  const allow = (principal: string, resource: AclResource, name: string, pattern: AclPattern, ...operations: AclOperation[]) => {
    for (const operation of operations) rules.set([principal, resource, name, pattern, operation].join('|'), { principal, resource, name, pattern, operation });
  };

  // The gateway writes events to the routed topics (any scope may be published here), monitoring, and replays to its site's consumers.
  const gateway = principalOf(site.name, 'gateway');
  for (const topic of [...allRoutedTopics(topology), MONITORING_TOPIC, REPLAY_TOPIC]) allow(gateway, 'topic', topic, 'literal', 'write', 'describe');
  // Its idempotency window, shared by the site's gateways: each writes it and reads it back, in a group of its own.
  allow(gateway, 'topic', IDEMPOTENCY_TOPIC, 'literal', 'write', 'read', 'describe');
  allow(gateway, 'group', windowGroupPrefix(site.name), 'prefixed', 'read', 'describe');

  // Its subscribe streams read the business events that reach the site (what it serves, local and copies), each in a throwaway group.
  for (const topic of [
    ...routedTopicsForSite(site),
    ...upstreamSites(topology, site.name).flatMap((u) => routedTopicsForSite(site).map((t) => remoteTopic(u.name, t))),
  ]) {
    allow(gateway, 'topic', topic, 'literal', 'read', 'describe');
  }
  allow(gateway, 'group', streamGroupPrefix(site.name), 'prefixed', 'read', 'describe');

  // The instance reads every routed topic here (its event store keeps what was published here; flow lag reads their offsets), the copies
  // of what it serves, the copied heartbeats, MM2's offset syncs and monitoring; it writes monitoring and dead letters; its groups are its own.
  const instance = principalOf(site.name, 'instance');
  const served = routedTopicsForSite(site);
  const upstream = upstreamSites(topology, site.name).map((u) => u.name);
  for (const topic of [
    ...allRoutedTopics(topology),
    ...upstream.flatMap((u) => served.map((t) => remoteTopic(u, t))),
    ...upstream.map((u) => remoteTopic(u, 'heartbeats')),
    // MM2's offset syncs of each flow into this site: the retention monitor reads them.
    ...upstream.map((u) => offsetSyncsTopic(u)),
    MONITORING_TOPIC,
    REPLAY_TOPIC,
  ]) {
    allow(instance, 'topic', topic, 'literal', 'read', 'describe');
  }
  for (const topic of [MONITORING_TOPIC, DEAD_LETTER_TOPIC, ...site.delivery.subscriptions.map((s) => deliveryDeadLetterTopic(s.name))]) {
    allow(instance, 'topic', topic, 'literal', 'write', 'describe');
  }
  allow(instance, 'group', groupPrefix(site.name), 'prefixed', 'read', 'describe');

  // This site's MM2 node writes here: the copies and checkpoints of each upstream (`<upstream>.`), the heartbeats, its internal
  // topics, and the translated offsets of the upstream sites' groups (group offset sync).
  const localMm2 = principalOf(site.name, 'mm2');
  for (const u of upstream) {
    allow(localMm2, 'topic', `${u}.`, 'prefixed', 'create', 'write', 'read', 'describe', 'describe_configs', 'alter_configs');
    allow(localMm2, 'group', groupPrefix(u), 'prefixed', 'read', 'describe');
    allow(localMm2, 'group', u, 'prefixed', 'read', 'describe');
  }
  allow(localMm2, 'topic', 'heartbeats', 'literal', 'create', 'write', 'read', 'describe', 'describe_configs');
  allow(localMm2, 'topic', MM2_INTERNAL_PREFIX, 'prefixed', 'create', 'write', 'read', 'describe', 'describe_configs');
  allow(localMm2, 'group', MM2_INTERNAL_PREFIX, 'prefixed', 'read', 'describe');
  allow(localMm2, 'cluster', 'kafka-cluster', 'literal', 'describe');
  if (topology.mm2.exactlyOnce) {
    // Exactly-once copies: each flow's worker (group `<upstream>-mm2`) writes with the transactional ids
    // `<group>-<connector>-<task>`, and its leader writes the config topic as `connect-cluster-<group>`.
    for (const u of upstream) {
      allow(localMm2, 'transactional_id', `${mm2WorkerGroup(u)}-`, 'prefixed', 'write', 'describe');
      allow(localMm2, 'transactional_id', `connect-cluster-${mm2WorkerGroup(u)}`, 'literal', 'write', 'describe');
    }
  }

  // Each downstream site's MM2 node reads here exactly the topics routed to it, this site's heartbeats, and its groups'
  // offsets (checkpoints); it writes nothing here (offset syncs live at the target).
  for (const target of topology.sites.filter((t) => upstreamSites(topology, t.name).some((u) => u.name === site.name))) {
    const mm2 = principalOf(target.name, 'mm2');
    for (const topic of [...routedTopicsForSite(target), 'heartbeats']) allow(mm2, 'topic', topic, 'literal', 'read', 'describe', 'describe_configs');
    allow(mm2, 'group', groupPrefix(site.name), 'prefixed', 'describe');
    allow(mm2, 'cluster', 'kafka-cluster', 'literal', 'describe');
  }
  if (isPisSite(topology, site.name)) {
    // The PIS's Connect worker: its group and own topics, and Debezium's change topics (written, never created).
    const connect = principalOf(site.name, 'connect');
    allow(connect, 'group', connectGroup(site.name), 'literal', 'read', 'describe');
    for (const topic of Object.values(CONNECT_TOPICS)) allow(connect, 'topic', topic, 'literal', 'read', 'write', 'describe', 'describe_configs');
    allow(connect, 'topic', `${CDC_TOPIC_PREFIX}.`, 'prefixed', 'write', 'describe');
    allow(connect, 'cluster', 'kafka-cluster', 'literal', 'describe');
    // The gateway reads the changes in a group of its own and dead-letters the rows it cannot publish.
    for (const topic of CDC_TOPICS) allow(gateway, 'topic', topic, 'literal', 'read', 'describe');
    allow(gateway, 'group', cdcGroup(site.name), 'literal', 'read', 'describe');
    allow(gateway, 'topic', DEAD_LETTER_TOPIC, 'literal', 'write', 'describe');
    // The PIS's own Kafka client writes its source topic and nothing else; the gateway distributes what it writes.
    allow(principalOf(site.name, 'pis'), 'topic', SOURCE_TOPIC, 'literal', 'write', 'describe');
    allow(gateway, 'topic', SOURCE_TOPIC, 'literal', 'read', 'describe');
    allow(gateway, 'group', sourceGroup(site.name), 'literal', 'read', 'describe');
  }
  return [...rules.values()];
}

/** One line per rule, for `fedgate acl show`. */
export function formatAcls(rules: AclRule[]): string {
  return rules.map((r) => `${r.principal.padEnd(32)} ${r.operation.padEnd(16)} ${r.resource} ${r.pattern === 'prefixed' ? `${r.name}*` : r.name}`).join('\n');
}
