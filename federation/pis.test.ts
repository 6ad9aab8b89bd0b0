import { describe, expect, it } from 'vitest';
import { renderAcls } from './acls.ts';
import { CDC_TOPICS, CONNECT_TOPICS, cdcConnectorConfig, renderConnectProperties } from './pis.ts';
import { siteTopicPlan } from './site-topics.ts';
import { parseTopology, TopologyError } from './topology.ts';

const site = (name: string, i: number, extra: Record<string, unknown> = {}) => ({
  name,
  regions: [`r${i}`],
  address: `127.0.${i}.1`,
  ports: { kafka: 9092, interSite: 9093, controller: 9094, instance: 8081, gateway: 8080, peer: 8443 },
  ...extra,
});
const topology = parseTopology({ federation: 'f', sites: [site('hq', 1), site('b', 2)], pis: { site: 'hq' } });
const paths = {
  caFile: '/c/ca.pem',
  keystoreFile: '/c/hq/connect.pem',
  pluginPath: '/s/connect/plugins',
  secretsFile: '/c/hq/pis-cdc.properties',
  rest: { keystore: '/r/rest.p12', truststore: '/r/trust.p12', password: 'pw' },
};

describe('the PIS change capture configuration', () => {
  it('runs the Connect worker over mTLS everywhere, with an HTTPS REST listener that requires client certificates', () => {
    const props = renderConnectProperties(topology, paths);
    for (const prefix of ['', 'producer.', 'consumer.', 'admin.']) expect(props).toContain(`${prefix}security.protocol=SSL\n`);
    expect(props).toContain('listeners=https://127.0.1.1:8093\n');
    expect(props).toContain('listeners.https.ssl.client.auth=required');
    expect(props).toContain('topic.creation.enable=false');
    expect(props).toContain(`config.storage.topic=${CONNECT_TOPICS.configs}`);
  });

  it('keeps the capture password out of the connector config (FileConfigProvider) and sends decimals as strings', () => {
    const config = cdcConnectorConfig(topology, paths.secretsFile);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Kafka's config-provider syntax, not a template
    expect(config['database.password']).toBe('${file:/c/hq/pis-cdc.properties:password}');
    expect(config).toMatchObject({
      'plugin.name': 'pgoutput',
      'decimal.handling.mode': 'string',
      'publication.autocreate.mode': 'disabled',
      'tombstones.on.delete': 'false',
    });
  });

  it('creates the Connect and change topics at the PIS site only, and grants them to the connect and gateway principals', () => {
    const names = (s: string) => siteTopicPlan(topology, s).map((t) => t.topic);
    for (const t of [...CDC_TOPICS, ...Object.values(CONNECT_TOPICS)]) {
      expect(names('hq')).toContain(t);
      expect(names('b')).not.toContain(t);
    }
    const acls = renderAcls(topology, 'hq');
    const of = (principal: string) =>
      acls.filter((a) => a.principal === principal).map((a) => `${a.operation} ${a.resource} ${a.name}${a.pattern === 'prefixed' ? '*' : ''}`);
    expect(of('User:hq.connect.fedgate')).toEqual(
      expect.arrayContaining(['write topic pis.*', 'read group fedgate-connect.hq', 'write topic site.connect-offsets']),
    );
    expect(of('User:hq.connect.fedgate')).not.toContain('create topic pis.*');
    expect(of('User:hq.gateway.fedgate')).toEqual(
      expect.arrayContaining(['read topic pis.public.prices', 'read group fedgate-cdc.hq', 'write topic site.dead-letter']),
    );
    expect(renderAcls(topology, 'b').some((a) => a.principal.includes('connect'))).toBe(false);
  });

  it('refuses an unknown PIS site and ports the site already uses, naming the fix', () => {
    const bad = (pis: unknown) => () => parseTopology({ federation: 'f', sites: [site('hq', 1)], pis });
    expect(bad({ site: 'nowhere' })).toThrow(TopologyError);
    expect(bad({ site: 'nowhere' })).toThrow(/pis\.site.*unknown site "nowhere"/s);
    expect(bad({ site: 'hq', connectPort: 8081 })).toThrow(/pis\.connectPort.*already hq\.ports\.instance/s);
  });
});
