import kafkajs, { type Admin } from 'kafkajs';
import { type AclRule, renderAcls, siteTopicPlan, type Topology } from '../federation/index.ts';

// kafkajs is CommonJS and Node's loader does not see these enums as named exports.
const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes } = kafkajs;

/**
 * The launcher's admin steps at a site's broker, as the site's admin (a super
 * user), before any component connects: create the site's topics from the
 * topology and grant every component exactly its ACLs. Both are idempotent:
 * an existing topic is left as it is, and creating an existing ACL changes
 * nothing.
 */
export async function setUpSite(admin: Admin, topology: Topology, site: string): Promise<{ created: string[]; acls: number; removed: number }> {
  const created = await ensureSiteTopics(admin, topology, site);
  const wanted = renderAcls(topology, site).map(toKafkajs);
  await admin.createAcls({ acl: wanted });
  const removed = await removeStaleAcls(admin, new Set(wanted.map(keyOf)));
  await waitForAcls(admin, wanted.length);
  return { created, acls: wanted.length, removed };
}

/** A component principal of the federation (the super users hold no ACLs). */
const COMPONENT = /^User:[a-z][a-z0-9-]*\.(gateway|instance|mm2)\.fedgate$/;

interface BindingKey {
  principal: string;
  resourceType: number;
  resourceName: string;
  resourcePatternType: number;
  operation: number;
  permissionType: number;
}
const keyOf = (b: BindingKey) => [b.principal, b.resourceType, b.resourceName, b.resourcePatternType, b.operation, b.permissionType].join('|');

/**
 * Bindings of fedgate's components that the topology no longer grants (a site
 * stopped serving a region, say) are deleted, so the ACLs in force are
 * exactly the rendered ones. Bindings of other principals are left alone.
 */
async function removeStaleAcls(admin: Admin, wanted: Set<string>): Promise<number> {
  const { resources } = await admin.describeAcls(ANY);
  const stale = resources.flatMap((r) =>
    r.acls
      .filter((a) => COMPONENT.test(a.principal))
      .map((a) => ({ resourceType: r.resourceType, resourceName: r.resourceName, resourcePatternType: r.resourcePatternType, ...a }))
      .filter((b) => !wanted.has(keyOf(b))),
  );
  if (stale.length > 0) await admin.deleteAcls({ filters: stale });
  return stale.length;
}

const ANY = {
  resourceType: AclResourceTypes.ANY,
  resourcePatternType: ResourcePatternTypes.ANY,
  operation: AclOperationTypes.ANY,
  permissionType: AclPermissionTypes.ANY,
} as const;

/**
 * The broker's authorizer learns new ACLs from the metadata log a moment after
 * the controller commits them; until then it refuses. Wait until the broker
 * lists them all, so nothing starts against a half-loaded authorizer.
 */
async function waitForAcls(admin: Admin, expected: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { resources } = await admin.describeAcls(ANY);
    const listed = resources.reduce((n, r) => n + r.acls.length, 0);
    if (listed >= expected) return;
    if (Date.now() > deadline) throw new Error(`the broker lists ${listed} of ${expected} ACLs after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Creates whatever of the site's topic plan is missing; existing topics are left as they are. */
export async function ensureSiteTopics(admin: Admin, topology: Topology, site: string): Promise<string[]> {
  const plan = siteTopicPlan(topology, site);
  const existing = new Set(await admin.listTopics());
  const missing = plan.filter((t) => !existing.has(t.topic));
  if (missing.length > 0) {
    // kafkajs's waitForLeaders asks one broker and gives up when that broker has not heard of a new topic yet
    // (UNKNOWN_TOPIC_OR_PARTITION, which happens with three brokers): wait here until every partition has a leader.
    await admin.createTopics({ topics: missing, waitForLeaders: false });
    await waitForLeaders(
      admin,
      missing.map((t) => t.topic),
    );
  }
  return missing.map((t) => t.topic);
}

async function waitForLeaders(admin: Admin, topics: string[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const { topics: meta } = await admin.fetchTopicMetadata({ topics });
      if (meta.length === topics.length && meta.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) return;
    } catch (err) {
      if (!(err as { retriable?: boolean }).retriable && (err as { type?: string }).type !== 'UNKNOWN_TOPIC_OR_PARTITION') throw err;
    }
    if (Date.now() > deadline) throw new Error(`topics without a leader after ${timeoutMs / 1000} s: ${topics.join(', ')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const RESOURCE = {
  topic: AclResourceTypes.TOPIC,
  group: AclResourceTypes.GROUP,
  cluster: AclResourceTypes.CLUSTER,
  transactional_id: AclResourceTypes.TRANSACTIONAL_ID,
} as const;
const OPERATION = {
  read: AclOperationTypes.READ,
  write: AclOperationTypes.WRITE,
  create: AclOperationTypes.CREATE,
  describe: AclOperationTypes.DESCRIBE,
  describe_configs: AclOperationTypes.DESCRIBE_CONFIGS,
  alter_configs: AclOperationTypes.ALTER_CONFIGS,
  delete: AclOperationTypes.DELETE,
} as const;

function toKafkajs(r: AclRule) {
  return {
    resourceType: RESOURCE[r.resource],
    resourceName: r.name,
    resourcePatternType: r.pattern === 'prefixed' ? ResourcePatternTypes.PREFIXED : ResourcePatternTypes.LITERAL,
    principal: r.principal,
    host: '*',
    operation: OPERATION[r.operation],
    permissionType: AclPermissionTypes.ALLOW,
  };
}
