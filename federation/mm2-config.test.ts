import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderMm2Properties } from './mm2-config.ts';
import { parseProperties } from './properties.ts';
import { compileFlowRegex, parseTopology } from './topology.ts';

const topology = parseTopology(JSON.parse(readFileSync(new URL('../topology.json', import.meta.url), 'utf8')));
const paths = { caFile: '/certs/ca/ca.pem', keystoreFile: '/certs/onprem/mm2.keystore.pem' };

describe('renderMm2Properties', () => {
  const props = parseProperties(renderMm2Properties(topology, 'onprem', paths));

  it('lists this site and the sites that flow into it', () => {
    expect(props.get('clusters')).toBe('onprem, cloud-a, cloud-b');
  });

  it('consumes upstream sites over mTLS with the site MM2 certificate and produces locally over the site-local listener, with mTLS too', () => {
    expect(props.get('cloud-a.bootstrap.servers')).toBe('127.0.1.1:9093');
    expect(props.get('cloud-a.security.protocol')).toBe('SSL');
    expect(props.get('cloud-a.ssl.keystore.type')).toBe('PEM');
    expect(props.get('cloud-a.ssl.keystore.location')).toBe(paths.keystoreFile);
    expect(props.get('cloud-a.ssl.truststore.location')).toBe(paths.caFile);
    expect(props.get('cloud-a.ssl.endpoint.identification.algorithm')).toBe('https');
    expect([...props.keys()].some((k) => k.includes('password'))).toBe(false);
    expect(props.get('onprem.bootstrap.servers')).toBe('127.0.3.1:9092');
    expect(props.get('onprem.security.protocol')).toBe('SSL');
    expect(props.get('onprem.ssl.keystore.location')).toBe(paths.keystoreFile);
    expect(props.get('onprem.ssl.endpoint.identification.algorithm')).toBe('https');
    expect([...props.values()]).not.toContain('PLAINTEXT');
    // Offset syncs at the target: the node writes nothing at its sources, which grant it only reads.
    expect(props.get('offset-syncs.topic.location')).toBe('target');
  });

  it('reads each upstream site in fetches of up to 4 MB per partition, 16 MB per response, and copies without linger', () => {
    for (const upstream of ['cloud-a', 'cloud-b']) {
      expect(props.get(`${upstream}.consumer.max.partition.fetch.bytes`)).toBe(String(4 * 1024 * 1024));
      expect(props.get(`${upstream}.consumer.fetch.max.bytes`)).toBe(String(16 * 1024 * 1024));
    }
    expect(props.has('onprem.consumer.max.partition.fetch.bytes')).toBe(false);
    expect(props.get('onprem.producer.linger.ms')).toBe('0');
    expect(props.get('onprem.producer.buffer.memory')).toBe(String(8 * 1024 * 1024));
  });

  it("lets the broker hold an idle fetch for 5 s: the source consumers, and the flow workers' own readers (internal logs, offset syncs)", () => {
    for (const upstream of ['cloud-a', 'cloud-b']) expect(props.get(`${upstream}.consumer.fetch.max.wait.ms`)).toBe('5000');
    // The target cluster's prefix becomes each flow's worker config, whose originals its internal logs' consumers take.
    expect(props.get('onprem.fetch.max.wait.ms')).toBe('5000');
  });

  it('enables exactly the flows into this site, with the topology regex surviving properties escaping', () => {
    expect(props.get('cloud-a->onprem.enabled')).toBe('true');
    expect(props.get('cloud-b->onprem.enabled')).toBe('true');
    expect(props.get('onprem->cloud-a.enabled')).toBe('false');
    const regex = compileFlowRegex(props.get('cloud-a->onprem.topics')!);
    expect(regex.test('fed.price.apac')).toBe(true);
    expect(regex.test('fed.country.jp')).toBe(true);
    expect(regex.test('fedXprice.apac')).toBe(false);
    expect(regex.test('cloud-b.fed.price.apac')).toBe(false);
  });

  it('checkpoints only the upstream sites’ own consumer groups (the ones its ACLs let it describe there)', () => {
    const groups = compileFlowRegex(props.get('cloud-a->onprem.groups')!);
    expect(groups.test('fedgate.cloud-a.price-book')).toBe(true);
    expect(groups.test('fedgate-window.cloud-a.0b1c')).toBe(false);
    expect(groups.test('fedgate.cloud-b.price-book')).toBe(false);
    expect(groups.test('console-consumer-1')).toBe(false);
  });

  it('discovers plugins through their ServiceLoader manifests only: in the node’s own registry and in each flow’s worker', () => {
    expect(props.get('plugin.discovery')).toBe('service_load');
    expect(props.get('onprem.plugin.discovery')).toBe('service_load');
  });

  it('uses DefaultReplicationPolicy, second-scale intervals and replication factor 1 for internal topics', () => {
    expect(props.get('replication.policy.class')).toBe('org.apache.kafka.connect.mirror.DefaultReplicationPolicy');
    for (const k of [
      'emit.heartbeats.interval.seconds',
      'emit.checkpoints.interval.seconds',
      'sync.group.offsets.interval.seconds',
      'refresh.topics.interval.seconds',
      'refresh.groups.interval.seconds',
    ]) {
      expect(Number(props.get(k)), k).toBeLessThanOrEqual(5);
    }
    expect(props.get('sync.group.offsets.enabled')).toBe('true');
    for (const k of [
      'replication.factor',
      'checkpoints.topic.replication.factor',
      'heartbeats.topic.replication.factor',
      'offset-syncs.topic.replication.factor',
      'offset.storage.replication.factor',
      'status.storage.replication.factor',
      'config.storage.replication.factor',
    ]) {
      expect(props.get(k), k).toBe('1');
    }
  });

  it('copies at least once by default: no transactions, no REST listener', () => {
    expect(props.has('onprem.exactly.once.source.support')).toBe(false);
    expect(props.has('dedicated.mode.enable.internal.rest')).toBe(false);
    expect(props.has('listeners')).toBe(false);
    expect(props.has('cloud-a.consumer.isolation.level')).toBe(false);
  });

  it('with mm2.exactlyOnce: transactional copies at the local cluster, committed reads of every upstream, and the internal REST listener on the site-local address', () => {
    const raw = JSON.parse(readFileSync(new URL('../topology.json', import.meta.url), 'utf8'));
    raw.mm2 = { exactlyOnce: true };
    for (const s of raw.sites) s.ports.mm2Rest = 8083;
    const eos = parseProperties(renderMm2Properties(parseTopology(raw), 'onprem', paths));
    expect(eos.get('onprem.exactly.once.source.support')).toBe('enabled');
    expect(eos.get('dedicated.mode.enable.internal.rest')).toBe('true');
    expect(eos.get('listeners')).toBe('http://127.0.3.1:8083');
    expect(eos.get('cloud-a.consumer.isolation.level')).toBe('read_committed');
    expect(eos.get('cloud-b.consumer.isolation.level')).toBe('read_committed');
    expect(eos.has('onprem.consumer.isolation.level')).toBe(false);
  });

  it('is pure: the same input renders the same text', () => {
    expect(renderMm2Properties(topology, 'cloud-a', paths)).toBe(renderMm2Properties(topology, 'cloud-a', paths));
  });
});
