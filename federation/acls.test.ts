import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type AclRule, principalOf, renderAcls, superUsers } from './acls.ts';
import { consumedTopics, storedTopics } from './site-topics.ts';
import { EVENT_KINDS, routedTopicsForSite } from './topics.ts';
import { parseTopology, siteOf } from './topology.ts';

const topology = parseTopology(JSON.parse(readFileSync(new URL('../topology.json', import.meta.url), 'utf8')));
const of = (rules: AclRule[], principal: string) => rules.filter((r) => r.principal === principal);
const ops = (rules: AclRule[], name: string) =>
  rules
    .filter((r) => r.name === name)
    .map((r) => r.operation)
    .sort();

describe('ACLs rendered from the topology', () => {
  const atA = renderAcls(topology, 'cloud-a');

  it('lets the gateway write its routed topics and monitoring, read its idempotency window and (subscribe streams) what its site serves, and nothing else (no delete, no other groups)', () => {
    const gw = of(atA, principalOf('cloud-a', 'gateway'));
    const window = gw.filter((r) => r.name === 'site.idempotency' || r.resource === 'group');
    const events = gw.filter((r) => !window.includes(r));
    expect(new Set(events.map((r) => r.operation))).toEqual(new Set(['write', 'describe', 'read']));
    expect(events.every((r) => r.resource === 'topic' && r.pattern === 'literal')).toBe(true);
    expect(ops(gw, 'fed.price.apac')).toEqual(['describe', 'write']);
    expect(ops(gw, 'fed.price.eu')).toEqual(['describe', 'read', 'write']);
    expect(ops(gw, 'onprem.fed.price.eu')).toEqual(['describe', 'read']);
    expect(ops(gw, 'onprem.fed.price.apac')).toEqual([]);
    // It reads exactly what the site's downstream consumers read: the routed topics it serves and their copies.
    const readable = gw
      .filter((r) => r.operation === 'read' && r.name.includes('fed.'))
      .map((r) => r.name)
      .sort();
    expect(readable).toEqual(EVENT_KINDS.flatMap((k) => consumedTopics(topology, 'cloud-a', k)).sort());
    expect(ops(gw, 'site.storage')).toEqual([]);
    expect(ops(gw, 'site.idempotency')).toEqual(['describe', 'read', 'write']);
    expect(gw.filter((r) => r.resource === 'group')).toEqual([
      expect.objectContaining({ name: 'fedgate-window.cloud-a.', pattern: 'prefixed', operation: 'read' }),
      expect.objectContaining({ name: 'fedgate-window.cloud-a.', pattern: 'prefixed', operation: 'describe' }),
      expect.objectContaining({ name: 'fedgate-stream.cloud-a.', pattern: 'prefixed', operation: 'read' }),
      expect.objectContaining({ name: 'fedgate-stream.cloud-a.', pattern: 'prefixed', operation: 'describe' }),
    ]);
  });

  it('lets the instance read every routed topic here (its event store) and the copies of what its site serves, write only monitoring and dead letters, in its own groups', () => {
    const inst = of(atA, principalOf('cloud-a', 'instance'));
    expect(ops(inst, 'fed.price.eu')).toEqual(['describe', 'read']);
    expect(ops(inst, 'onprem.fed.price.eu')).toEqual(['describe', 'read']);
    expect(ops(inst, 'fed.price.apac')).toEqual(['describe', 'read']);
    expect(ops(inst, 'onprem.fed.price.apac')).toEqual([]);
    expect(
      inst
        .filter((r) => r.operation === 'read' && r.name.includes('fed.'))
        .map((r) => r.name)
        .sort(),
    ).toEqual(storedTopics(topology, 'cloud-a').sort());
    expect(
      inst
        .filter((r) => r.operation === 'write')
        .map((r) => r.name)
        .sort(),
    ).toEqual(['site.dead-letter', 'site.monitoring']);
    expect(inst.filter((r) => r.resource === 'group')).toEqual([
      expect.objectContaining({ name: 'fedgate.cloud-a.', pattern: 'prefixed', operation: 'read' }),
      expect.objectContaining({ name: 'fedgate.cloud-a.', pattern: 'prefixed', operation: 'describe' }),
    ]);
  });

  it('lets each downstream site’s MM2 node read here exactly the topics routed to it, and write nothing here', () => {
    for (const target of ['cloud-b', 'onprem']) {
      const mm2 = of(atA, principalOf(target, 'mm2'));
      const readable = mm2.filter((r) => r.resource === 'topic' && r.operation === 'read').map((r) => r.name);
      expect(readable.sort()).toEqual([...routedTopicsForSite(siteOf(topology, target)), 'heartbeats'].sort());
      expect(mm2.some((r) => ['write', 'create', 'alter_configs', 'delete'].includes(r.operation))).toBe(false);
    }
    // cloud-b serves us: nothing of eu or apac.
    expect(of(atA, principalOf('cloud-b', 'mm2')).some((r) => r.name.includes('.eu') || r.name.includes('.apac'))).toBe(false);
  });

  it('lets this site’s MM2 node write only the copies of its upstream sites, heartbeats and its own internal topics', () => {
    const mm2 = of(atA, principalOf('cloud-a', 'mm2'));
    const writable = mm2.filter((r) => r.operation === 'write').map((r) => `${r.name}${r.pattern === 'prefixed' ? '*' : ''}`);
    expect(writable.sort()).toEqual(['cloud-b.*', 'heartbeats', 'mm2-*', 'onprem.*']);
    expect(mm2.some((r) => r.resource === 'transactional_id')).toBe(false);
  });

  it('with mm2.exactlyOnce, lets this site’s MM2 node use only its own flows’ transactional ids', () => {
    const raw = JSON.parse(readFileSync(new URL('../topology.json', import.meta.url), 'utf8'));
    raw.mm2 = { exactlyOnce: true };
    for (const s of raw.sites) s.ports.mm2Rest = 8083;
    const rules = renderAcls(parseTopology(raw), 'cloud-a');
    const txn = rules.filter((r) => r.resource === 'transactional_id');
    expect(new Set(txn.map((r) => r.principal))).toEqual(new Set([principalOf('cloud-a', 'mm2')]));
    expect([...new Set(txn.map((r) => `${r.name}${r.pattern === 'prefixed' ? '*' : ''}`))].sort()).toEqual([
      'cloud-b-mm2-*',
      'connect-cluster-cloud-b-mm2',
      'connect-cluster-onprem-mm2',
      'onprem-mm2-*',
    ]);
    expect(new Set(txn.map((r) => r.operation))).toEqual(new Set(['write', 'describe']));
  });

  it('grants nothing to the site’s broker and admin, which are the super users', () => {
    expect(superUsers('cloud-a')).toEqual(['User:cloud-a.broker.fedgate', 'User:cloud-a.admin.fedgate']);
    expect(atA.some((r) => superUsers('cloud-a').includes(r.principal))).toBe(false);
  });
});
