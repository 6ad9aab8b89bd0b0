import { describe, expect, it } from 'vitest';
import { renderAcls } from './acls.ts';
import { CDC_TOPICS, CONNECT_TOPICS, cdcConnectorConfig, pisDatabaseUrl, renderConnectProperties } from './pis.ts';
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
    // Authorization on top: of the federation's certificates, only the site admin's and the worker's own.
    expect(props).toContain('rest.extension.classes=fedgate.connect.RestPrincipals\n');
    expect(props).toContain('fedgate.rest.allowed.subjects=CN=hq.admin.fedgate;CN=hq.connect.fedgate\n');
    expect(props).toContain('topic.creation.enable=false');
    expect(props).toContain(`config.storage.topic=${CONNECT_TOPICS.configs}`);
    // Plugins (Debezium, Kafka's own, the REST extension) through their ServiceLoader manifests, no reflective scan.
    expect(props).toContain('plugin.discovery=service_load\n');
    // Its internal logs' readers ask an idle broker every 5 s.
    expect(props).toContain('\nfetch.max.wait.ms=5000\n');
  });

  it('keeps the capture password out of the connector config (FileConfigProvider) and sends decimals as strings', () => {
    const config = cdcConnectorConfig(topology, paths.secretsFile, paths.caFile);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Kafka's config-provider syntax, not a template
    expect(config['database.password']).toBe('${file:/c/hq/pis-cdc.properties:password}');
    expect(config).toMatchObject({
      'plugin.name': 'pgoutput',
      'decimal.handling.mode': 'string',
      'publication.autocreate.mode': 'disabled',
      'tombstones.on.delete': 'false',
    });
  });

  it("reaches the PIS database over verified TLS: the federation CA for the one fedgate runs, the PIS's CA for its own", () => {
    expect(cdcConnectorConfig(topology, paths.secretsFile, paths.caFile)).toMatchObject({
      'database.sslmode': 'verify-full',
      'database.sslrootcert': '/c/ca.pem',
    });
    expect(pisDatabaseUrl(topology, 'fedgate_catalog', 'p/w', paths.caFile)).toBe(
      'postgres://fedgate_catalog:p%2Fw@127.0.1.1:5442/pis?sslmode=verify-full&sslrootcert=%2Fc%2Fca.pem',
    );
    const theirs = parseTopology({ ...topology, pis: { site: 'hq', database: { host: 'pis.example', sslrootcert: '/etc/pis/ca.pem' } } });
    expect(cdcConnectorConfig(theirs, paths.secretsFile, paths.caFile)).toMatchObject({
      'database.sslmode': 'verify-full',
      'database.sslrootcert': '/etc/pis/ca.pem',
    });
    expect(pisDatabaseUrl(theirs, 'fedgate_cdc', 'pw', paths.caFile)).toBe(
      'postgres://fedgate_cdc:pw@pis.example:5432/pis?sslmode=verify-full&sslrootcert=%2Fetc%2Fpis%2Fca.pem',
    );
    // Plaintext: only where the topology says so, on loopback.
    const plain = parseTopology({ ...topology, pis: { site: 'hq', database: { host: '127.0.0.1', sslmode: 'disable' } } });
    expect(cdcConnectorConfig(plain, paths.secretsFile, paths.caFile)).toMatchObject({ 'database.sslmode': 'disable' });
    expect(cdcConnectorConfig(plain, paths.secretsFile, paths.caFile)).not.toHaveProperty('database.sslrootcert');
  });

  it('refuses a PIS database without the CA to verify it, and plaintext beyond loopback, naming the fix', () => {
    const problems = (database: Record<string, unknown>) => {
      try {
        parseTopology({ ...topology, pis: { site: 'hq', database } });
        return [];
      } catch (err) {
        return (err as TopologyError).problems.map((p) => `${p.field}: ${p.fix}`);
      }
    };
    expect(problems({ host: 'pis.example' })).toEqual([expect.stringMatching(/^pis\.database\.sslrootcert: set "sslrootcert" to the absolute path/)]);
    expect(problems({ host: 'pis.example', sslrootcert: 'ca.pem' })).toEqual([expect.stringMatching(/^pis\.database\.sslrootcert: /)]);
    expect(problems({ host: '10.0.0.5', sslmode: 'disable' })).toEqual([expect.stringMatching(/^pis\.database\.sslmode: use "verify-full"/)]);
    expect(problems({ host: '127.0.0.1', sslmode: 'disable' })).toEqual([]);
    expect(problems({ host: 'localhost', sslrootcert: '/etc/pis/ca.pem' })).toEqual([]);
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
