import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseProperties, parseTopology } from '../federation/index.ts';
import { renderBrokerProperties } from './broker-config.ts';

const topology = parseTopology(JSON.parse(readFileSync(new URL('../topology.json', import.meta.url), 'utf8')));

describe('renderBrokerProperties', () => {
  const props = parseProperties(renderBrokerProperties(topology, 'cloud-b', { dataDir: '/d', keystoreFile: '/k.pem', caFile: '/ca.pem' }));

  it('runs KRaft combined mode bound to the site address', () => {
    expect(props.get('process.roles')).toBe('broker,controller');
    expect(props.get('controller.quorum.voters')).toBe('1@127.0.2.1:9094');
    expect(props.get('listeners')).toBe('LOCAL://127.0.2.1:9092,FED://127.0.2.1:9093,CONTROLLER://127.0.2.1:9094');
    expect(props.get('advertised.listeners')).not.toContain('CONTROLLER');
  });

  it('requires client certificates on every listener (local, inter-site, controller), with PEM stores and no passwords', () => {
    expect(props.get('listener.security.protocol.map')).toBe('LOCAL:SSL,FED:SSL,CONTROLLER:SSL');
    expect(props.get('ssl.client.auth')).toBe('required');
    expect(props.get('ssl.keystore.type')).toBe('PEM');
    expect(props.get('ssl.endpoint.identification.algorithm')).toBe('https');
    expect([...props.keys()].filter((k) => k.startsWith('listener.name.') && k.endsWith('.ssl.client.auth'))).toEqual([]);
    expect([...props.values()].some((v) => v.includes('PLAINTEXT'))).toBe(false);
    expect([...props.keys()].some((k) => k.includes('password'))).toBe(false);
  });

  it('binds the inter-site listener to the WAN address when the site has one', () => {
    const wan = structuredClone(topology);
    wan.sites[1]!.wanAddress = '10.200.0.12';
    const p = parseProperties(renderBrokerProperties(wan, 'cloud-b', { dataDir: '/d', keystoreFile: '/k.pem', caFile: '/ca.pem' }));
    expect(p.get('listeners')).toBe('LOCAL://127.0.2.1:9092,FED://10.200.0.12:9093,CONTROLLER://127.0.2.1:9094');
    expect(p.get('advertised.listeners')).toBe('LOCAL://127.0.2.1:9092,FED://10.200.0.12:9093');
  });

  it('authorizes with StandardAuthorizer, nothing for anyone unlisted, and only the site broker and admin as super users', () => {
    expect(props.get('authorizer.class.name')).toBe('org.apache.kafka.metadata.authorizer.StandardAuthorizer');
    expect(props.get('allow.everyone.if.no.acl.found')).toBe('false');
    expect(props.get('super.users')).toBe('User:cloud-b.broker.fedgate;User:cloud-b.admin.fedgate');
    expect(props.get('ssl.principal.mapping.rules')).toBe('RULE:^CN=([^,]+).*$/$1/,DEFAULT');
  });

  it('keeps auto-create off', () => {
    expect(props.get('auto.create.topics.enable')).toBe('false');
  });

  it('keeps one copy on a one-broker site; with three brokers, a three-voter quorum, three copies and two in sync for acks=all', () => {
    expect(props.get('default.replication.factor')).toBe('1');
    expect(props.get('min.insync.replicas')).toBe('1');
    const three = structuredClone(topology);
    three.sites[1]!.brokers = 3;
    const p2 = parseProperties(renderBrokerProperties(three, 'cloud-b', { dataDir: '/d2', keystoreFile: '/k.pem', caFile: '/ca.pem' }, 2));
    expect(p2.get('node.id')).toBe('2');
    expect(p2.get('controller.quorum.voters')).toBe('1@127.0.2.1:9094,2@127.0.2.1:9194,3@127.0.2.1:9294');
    expect(p2.get('listeners')).toBe('LOCAL://127.0.2.1:9192,FED://127.0.2.1:9193,CONTROLLER://127.0.2.1:9194');
    expect(p2.get('advertised.listeners')).toBe('LOCAL://127.0.2.1:9192,FED://127.0.2.1:9193');
    for (const k of ['default.replication.factor', 'offsets.topic.replication.factor', 'transaction.state.log.replication.factor'])
      expect(p2.get(k), k).toBe('3');
    expect(p2.get('min.insync.replicas')).toBe('2');
    expect(p2.get('transaction.state.log.min.isr')).toBe('2');
    expect(p2.get('unclean.leader.election.enable')).toBe('false');
    expect(p2.get('log.dirs')).toBe('/d2');
  });
});
