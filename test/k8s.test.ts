import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import type { ZodObject, ZodRawShape } from 'zod';
import { renderSiteResources } from '../deploy/k8s/render.ts';
import { parseTopology } from '../federation/index.ts';
import { GatewayEnvSchema } from '../gateway/env.ts';
import { InstanceEnvSchema } from '../instances/env.ts';
import { REPO, STATE_DIR } from './support/paths.ts';

/**
 * `fedgate k8s render` and `fedgate k8s validate`, as a user runs them: the
 * rendered resources go through Strimzi's published API model (io.strimzi:api
 * 0.45.0 from Maven Central, read by deploy/k8s/Validate.java), which must
 * accept every one and refuse a misspelled field, a value it does not know
 * and a setting the operator owns.
 */
/** Runs the CLI without blocking the test worker (a blocked worker misses vitest's own messages). */
const fedgate = (args: string[]) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [join(REPO, 'bin/fedgate.mjs'), ...args, ...(args.includes('--home') ? [] : ['--home', STATE_DIR])],
      { cwd: REPO, encoding: 'utf8', timeout: 240_000 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });

describe('fedgate k8s', () => {
  let dir = '';
  beforeAll(() => {
    dir = join(REPO, 'test-results', `k8s-${randomUUID().slice(0, 8)}`);
    mkdirSync(dir, { recursive: true });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("renders every site of topology.json and of the three-broker topology, and Strimzi's API model accepts every resource", async () => {
    for (const [name, file] of [
      ['default', 'topology.json'],
      ['three', 'topology.three-brokers.json'],
    ] as const) {
      const out = join(dir, name);
      const render = await fedgate(['k8s', 'render', '--out', out, '--topology', join(REPO, file)]);
      expect(render.code, render.stderr).toBe(0);
      const check = await fedgate(['k8s', 'validate', out]);
      expect(check.code, `${check.stdout}\n${check.stderr}`).toBe(0);
      const documents = ['cloud-a', 'cloud-b', 'onprem'].reduce((n, s) => n + parseAllDocuments(readFileSync(join(out, `${s}.yaml`), 'utf8')).length, 0);
      expect(check.stdout.trim()).toBe(`${documents} documents, 0 problems`);
    }
  }, 300_000);

  it("renders the PIS's change capture for the PIS's own database (KafkaConnect built with Debezium, KafkaConnector), which the model accepts", async () => {
    const raw = JSON.parse(readFileSync(join(REPO, 'topology.json'), 'utf8'));
    const file = join(dir, 'topology.pis-own.json');
    const database = { host: 'pis-db.internal.example', port: 5432, name: 'pis', sslmode: 'verify-full', sslrootcert: '/etc/pis/ca.pem' };
    writeFileSync(file, JSON.stringify({ ...raw, pis: { ...raw.pis, database } }));
    const out = join(dir, 'pis-own');
    const render = await fedgate(['k8s', 'render', '--out', out, '--topology', file, '--connect-image', 'registry.example.com/fedgate/connect:1']);
    expect(render.code, render.stderr).toBe(0);
    const text = readFileSync(join(out, 'onprem.yaml'), 'utf8');
    const docs = parseAllDocuments(text).map((d) => d.toJS() as any);
    const connect = docs.find((d) => d.kind === 'KafkaConnect');
    const connector = docs.find((d) => d.kind === 'KafkaConnector');
    expect(connect.metadata.annotations['strimzi.io/use-connector-resources']).toBe('true');
    expect(connect.spec.build.output.image).toBe('registry.example.com/fedgate/connect:1');
    expect(connect.spec.build.plugins[0].artifacts[0]).toMatchObject({ type: 'maven', group: 'io.debezium', artifact: 'debezium-connector-postgres' });
    expect(connect.spec.authentication.certificateAndKey.secretName).toBe('onprem.connect.fedgate');
    // The same principal as the native worker: its KafkaUser (the native ACLs) is rendered beside it.
    expect(docs.some((d) => d.kind === 'KafkaUser' && d.metadata.name === 'onprem.connect.fedgate')).toBe(true);
    expect(connector.metadata.labels['strimzi.io/cluster']).toBe(connect.metadata.name);
    expect(connector.spec).toMatchObject({ class: 'io.debezium.connector.postgresql.PostgresConnector', tasksMax: 1 });
    expect(connector.spec.config).toMatchObject({
      'database.hostname': 'pis-db.internal.example',
      'database.sslmode': 'verify-full',
      'database.sslrootcert': '/mnt/pis-ca/ca.pem',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Kafka's config provider reference, not a template
      'database.password': '${file:/mnt/pis-cdc/cdc.properties:password}',
    });
    expect(text).toContain('#   fedgate-onprem-pis-cdc: cdc.properties');
    // The PIS site's gateway reads the catalog (enrichment) from the same database, verified against the mounted CA.
    const pods = JSON.parse(docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'fedgate-onprem-topology').data['topology.json']);
    expect(pods.pis.database.sslrootcert).toBe('/etc/fedgate/pis-ca/ca.pem');
    const gatewayPod = docs.find((d) => d.kind === 'Deployment' && d.metadata.name === 'fedgate-onprem-gateway').spec.template.spec;
    expect(gatewayPod.containers[0].volumeMounts).toContainEqual({ name: 'pis-ca', mountPath: '/etc/fedgate/pis-ca', readOnly: true });
    expect(gatewayPod.volumes).toContainEqual({ name: 'pis-ca', secret: { secretName: 'fedgate-onprem-pis-ca', items: [{ key: 'ca.pem', path: 'ca.pem' }] } });
    const check = await fedgate(['k8s', 'validate', out]);
    expect(check.code, `${check.stdout}\n${check.stderr}`).toBe(0);
    const documents = ['cloud-a', 'cloud-b', 'onprem'].reduce((n, s) => n + parseAllDocuments(readFileSync(join(out, `${s}.yaml`), 'utf8')).length, 0);
    expect(check.stdout.trim()).toBe(`${documents} documents, 0 problems`);

    // `k8s secrets` makes the files those Secrets hold, and prints commands that name them, not the password.
    const home = join(dir, 'secrets-pis');
    const secrets = await fedgate(['k8s', 'secrets', '--site', 'onprem', '--topology', file, '--home', home]);
    expect(secrets.code, secrets.stderr).toBe(0);
    const properties = join(home, 'certs', 'onprem', 'k8s-cdc.properties');
    const password = readFileSync(join(home, 'certs', 'onprem', 'pis-cdc.secret'), 'utf8').trim();
    expect(readFileSync(properties, 'utf8')).toBe(`password=${password}\n`);
    expect(secrets.stdout).toContain(`create secret generic fedgate-onprem-pis-cdc --from-file=cdc.properties=${properties}`);
    expect(secrets.stdout).toContain('create secret generic fedgate-onprem-pis-ca --from-file=ca.pem=/etc/pis/ca.pem');
    expect(secrets.stdout).toMatch(/create secret tls onprem\.connect\.fedgate/);
    expect(secrets.stdout).not.toContain(password);
    // The catalog role's password is in the site's Secret: the gateway pod reads it and cannot write it.
    expect(secrets.stdout).toContain(`--from-file=${join(home, 'certs', 'onprem', 'pis-catalog.secret')}`);

    // The PIS database `fedgate up` runs is not rendered, and the file says why; a plaintext one cannot be.
    const local = readFileSync(join(dir, 'default', 'onprem.yaml'), 'utf8');
    expect(local).not.toContain('kind: KafkaConnect');
    expect(local).toContain('# Change capture is not rendered: the PIS database here is the one `npx fedgate up` runs');
    writeFileSync(file, JSON.stringify({ ...raw, pis: { ...raw.pis, database: { host: '127.0.0.1', sslmode: 'disable' } } }));
    const plain = await fedgate(['k8s', 'render', '--out', join(dir, 'pis-plain'), '--topology', file]);
    expect(plain.code).not.toBe(0);
    expect(plain.stderr).toMatch(/pis\.database\.sslmode/);
  }, 300_000);

  it('refuses a misspelled field, a value the model does not know and a setting the operator owns, naming each', async () => {
    const out = join(dir, 'broken');
    expect((await fedgate(['k8s', 'render', '--out', out, '--topology', join(REPO, 'topology.json')])).code).toBe(0);
    const file = join(out, 'onprem.yaml');
    const docs = parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS() as any);
    const mm2 = docs.find((d) => d.kind === 'KafkaMirrorMaker2');
    mm2.spec.mirrors[0].topicPattern = mm2.spec.mirrors[0].topicsPattern;
    delete mm2.spec.mirrors[0].topicsPattern;
    const user = docs.find(
      (d) => d.kind === 'KafkaUser' && d.spec.authorization.acls.some((a: { resource: { patternType?: string } }) => a.resource.patternType === 'prefix'),
    );
    user.spec.authorization.acls.find((a: { resource: { patternType?: string } }) => a.resource.patternType === 'prefix').resource.patternType = 'prefixed';
    const kafka = docs.find((d) => d.kind === 'Kafka');
    kafka.spec.kafka.config['ssl.principal.mapping.rules'] = 'RULE:^CN=([^,]+).*$/$1/,DEFAULT';
    writeFileSync(file, docs.map((d) => `---\n${stringify(d)}`).join(''));

    const check = await fedgate(['k8s', 'validate', file]);
    expect(check.code).toBe(1);
    const errors = check.stdout.split('\n').filter((l) => l.startsWith('error '));
    expect(errors).toHaveLength(3);
    expect(errors.find((l) => l.includes('KafkaMirrorMaker2'))).toMatch(/spec\.mirrors\[0\]: unknown field\(s\) \[topicPattern\]/);
    expect(errors.find((l) => l.includes('KafkaUser'))).toMatch(/patternType: the model does not accept "prefixed"/);
    expect(errors.find((l) => l.includes(' Kafka '))).toMatch(/config\.ssl\.principal\.mapping\.rules: the operator owns "ssl\."/);
    expect(check.stdout).toMatch(/3 problems/);
  }, 300_000);

  it("gives each pod exactly the environment its process's own reader accepts", () => {
    const topology = parseTopology(JSON.parse(readFileSync(join(REPO, 'topology.json'), 'utf8')));
    const scaled = parseTopology({ ...topology, sites: topology.sites.map(({ flows, ...s }) => ({ ...s, flows, workers: 2 })) });
    let checked = 0;
    for (const site of scaled.sites) {
      for (const d of renderSiteResources(scaled, site.name).filter((r) => r.kind === 'Deployment')) {
        const container = (d.spec as any).template.spec.containers[0];
        const gateway = container.command.includes('gateway/main.ts');
        const schema = (gateway ? GatewayEnvSchema : InstanceEnvSchema) as unknown as ZodObject<ZodRawShape>;
        const env = Object.fromEntries(
          (container.env as { name: string; value?: string; valueFrom?: unknown }[]).map((e) => [
            e.name,
            e.value ?? 'postgres://fedgate@db.example:5432/fedgate',
          ]),
        );
        const parsed = schema.safeParse(env);
        expect(parsed.success, `${d.metadata.name}: ${JSON.stringify(parsed.error?.issues)}`).toBe(true);
        expect(Object.keys(env).filter((k) => !(k in schema.shape))).toEqual([]);
        checked++;
      }
    }
    expect(checked).toBe(scaled.sites.length * 3);
  });

  it('`k8s secrets` makes the files the Secrets hold, in a folder of its own, and prints commands that name files, never their contents', async () => {
    const home = join(dir, 'secrets-home');
    const run = await fedgate([
      'k8s',
      'secrets',
      '--site',
      'cloud-a',
      '--domain',
      'fed.example.com',
      '--topology',
      join(REPO, 'topology.json'),
      '--home',
      home,
    ]);
    expect(run.code, run.stderr).toBe(0);
    const certs = join(home, 'certs', 'cloud-a');
    const san = await new Promise<string>((resolve, reject) =>
      execFile('openssl', ['x509', '-in', join(certs, 'gateway.pem'), '-noout', '-ext', 'subjectAltName'], (err, out) => (err ? reject(err) : resolve(out))),
    );
    expect(san).toContain('DNS:gateway.cloud-a.fed.example.com');
    for (const file of ['read-api.secret', 'metrics.secret', 'jwt-keys.json', 'gateway.key', 'instance.key']) {
      expect(run.stdout).toContain(join(certs, file));
      const content = readFileSync(join(certs, file), 'utf8').trim();
      expect(run.stdout.includes(content.slice(0, 40))).toBe(false);
    }
    expect(run.stdout).not.toContain('broker.key');
    expect(run.stdout).not.toContain('admin.key');
    expect(run.stdout).toMatch(/create secret tls cloud-a\.mm2\.fedgate/);
  });

  it('names the fix for a wrong invocation', async () => {
    const wrong = await fedgate(['k8s', 'render', '--brokers', '2']);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/--brokers must be 1 or 3/);
    const missing = await fedgate(['k8s', 'validate', join(dir, 'nothing-here')]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/does not exist; render the resources first/);
  });
});
