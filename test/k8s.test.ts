import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { REPO, STATE_DIR } from './support/paths.ts';

/**
 * `fedgate k8s render` and `fedgate k8s validate`, as a user runs them: the
 * rendered resources go through Strimzi's published API model (io.strimzi:api
 * 0.45.0 from Maven Central, read by deploy/k8s/Validate.java), which must
 * accept every one and refuse a misspelled field, a value it does not know
 * and a setting the operator owns.
 */
const fedgate = (args: string[]) => {
  const run = spawnSync(process.execPath, [join(REPO, 'bin/fedgate.mjs'), ...args, '--home', STATE_DIR], { cwd: REPO, encoding: 'utf8', timeout: 240_000 });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
};

describe('fedgate k8s', () => {
  let dir = '';
  beforeAll(() => {
    dir = join(REPO, 'test-results', `k8s-${randomUUID().slice(0, 8)}`);
    mkdirSync(dir, { recursive: true });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("renders every site of topology.json and of the three-broker topology, and Strimzi's API model accepts every resource", () => {
    for (const [name, file] of [
      ['default', 'topology.json'],
      ['three', 'topology.three-brokers.json'],
    ] as const) {
      const out = join(dir, name);
      const render = fedgate(['k8s', 'render', '--out', out, '--topology', join(REPO, file)]);
      expect(render.code, render.stderr).toBe(0);
      const check = fedgate(['k8s', 'validate', out]);
      expect(check.code, `${check.stdout}\n${check.stderr}`).toBe(0);
      const documents = ['cloud-a', 'cloud-b', 'onprem'].reduce((n, s) => n + parseAllDocuments(readFileSync(join(out, `${s}.yaml`), 'utf8')).length, 0);
      expect(check.stdout.trim()).toBe(`${documents} documents, 0 problems`);
    }
  }, 300_000);

  it('refuses a misspelled field, a value the model does not know and a setting the operator owns, naming each', () => {
    const out = join(dir, 'broken');
    expect(fedgate(['k8s', 'render', '--out', out, '--topology', join(REPO, 'topology.json')]).code).toBe(0);
    const file = join(out, 'onprem.yaml');
    // biome-ignore lint/suspicious/noExplicitAny: editing rendered resources by path
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

    const check = fedgate(['k8s', 'validate', file]);
    expect(check.code).toBe(1);
    const errors = check.stdout.split('\n').filter((l) => l.startsWith('error '));
    expect(errors).toHaveLength(3);
    expect(errors.find((l) => l.includes('KafkaMirrorMaker2'))).toMatch(/spec\.mirrors\[0\]: unknown field\(s\) \[topicPattern\]/);
    expect(errors.find((l) => l.includes('KafkaUser'))).toMatch(/patternType: the model does not accept "prefixed"/);
    expect(errors.find((l) => l.includes(' Kafka '))).toMatch(/config\.ssl\.principal\.mapping\.rules: the operator owns "ssl\."/);
    expect(check.stdout).toMatch(/3 problems/);
  }, 300_000);

  it('names the fix for a wrong invocation', () => {
    const wrong = fedgate(['k8s', 'render', '--brokers', '2']);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/--brokers must be 1 or 3/);
    const missing = fedgate(['k8s', 'validate', join(dir, 'nothing-here')]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/does not exist; render the resources first/);
  });
});
