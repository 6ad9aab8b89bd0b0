import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseTopology } from '../../federation/index.ts';
import { prometheusConfig } from './config.ts';

const here = dirname(fileURLToPath(import.meta.url));
const topology = parseTopology({
  federation: 'demo',
  sites: [
    // cloud-a: three brokers with exporters; cloud-b: one broker. Both serve eu, so each has an MM2 node pulling from the other.
    {
      name: 'cloud-a',
      regions: ['eu'],
      address: '127.0.1.1',
      brokers: 3,
      ports: { kafka: 9092, interSite: 9093, controller: 9094, instance: 8081, gateway: 8080, peer: 8443, brokerMetrics: 9404, mm2Metrics: 9405 },
    },
    {
      name: 'cloud-b',
      regions: ['us', 'eu'],
      address: '127.0.2.1',
      ports: { kafka: 9092, interSite: 9093, controller: 9094, instance: 8071, gateway: 8070, peer: 8443, brokerMetrics: 9404, mm2Metrics: 9405 },
    },
  ],
});

interface Job {
  job_name: string;
  authorization?: { type: string; credentials_file: string };
  basic_auth?: { username: string; password_file: string };
  static_configs: Array<{ targets: string[]; labels: Record<string, string> }>;
}

describe('prometheus.yml from the topology', () => {
  const text = prometheusConfig(topology, { certsDir: '/state/certs', ruleFiles: [join(here, 'rules.yml')] });
  const config = parse(text) as { scrape_configs: Job[]; rule_files: string[]; global: Record<string, unknown> };

  it('scrapes every component of every site (each broker, MM2 where flows come in), each with its site label and its site’s credential file', () => {
    const targets = config.scrape_configs.map((j) => ({
      job: j.static_configs[0]!.labels.job,
      site: j.static_configs[0]!.labels.site,
      targets: j.static_configs[0]!.targets.join(' '),
      auth: j.authorization ? `bearer ${j.authorization.credentials_file}` : `basic ${j.basic_auth!.username} ${j.basic_auth!.password_file}`,
    }));
    const a = '/state/certs/cloud-a/metrics.secret';
    const b = '/state/certs/cloud-b/metrics.secret';
    expect(targets).toEqual([
      { job: 'fedgate-gateway', site: 'cloud-a', targets: '127.0.1.1:8080', auth: `bearer ${a}` },
      { job: 'fedgate-instance', site: 'cloud-a', targets: '127.0.1.1:8081', auth: `bearer ${a}` },
      { job: 'fedgate-broker', site: 'cloud-a', targets: '127.0.1.1:9404 127.0.1.1:9504 127.0.1.1:9604', auth: `basic prometheus ${a}` },
      { job: 'fedgate-mm2', site: 'cloud-a', targets: '127.0.1.1:9405', auth: `basic prometheus ${a}` },
      { job: 'fedgate-gateway', site: 'cloud-b', targets: '127.0.2.1:8070', auth: `bearer ${b}` },
      { job: 'fedgate-instance', site: 'cloud-b', targets: '127.0.2.1:8071', auth: `bearer ${b}` },
      { job: 'fedgate-broker', site: 'cloud-b', targets: '127.0.2.1:9404', auth: `basic prometheus ${b}` },
      { job: 'fedgate-mm2', site: 'cloud-b', targets: '127.0.2.1:9405', auth: `basic prometheus ${b}` },
    ]);
    expect(new Set(config.scrape_configs.map((j) => j.job_name)).size).toBe(8);
  });

  it('leaves out an MM2 node where no flow comes in, and exporters the topology gives no port', () => {
    const solo = parseTopology({
      federation: 'solo',
      sites: [
        {
          name: 'only',
          regions: ['eu'],
          address: '127.0.9.1',
          ports: { kafka: 9092, interSite: 9093, controller: 9094, instance: 8081, gateway: 8080, peer: 8443 },
        },
      ],
    });
    const jobs = (parse(prometheusConfig(solo, { certsDir: '/c', ruleFiles: [] })) as { scrape_configs: Job[] }).scrape_configs;
    expect(jobs.map((j) => j.static_configs[0]!.labels.job)).toEqual(['fedgate-gateway', 'fedgate-instance']);
  });

  it('is a configuration Prometheus accepts (promtool check config), rules included', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedgate-prom-'));
    // promtool also checks that credential files exist.
    for (const site of ['cloud-a', 'cloud-b']) {
      const certs = join(dir, 'certs', site);
      execFileSync('mkdir', ['-p', certs]);
      writeFileSync(join(certs, 'metrics.secret'), 'x');
    }
    const file = join(dir, 'prometheus.yml');
    writeFileSync(file, prometheusConfig(topology, { certsDir: join(dir, 'certs'), ruleFiles: [join(here, 'rules.yml')], scrapeIntervalSeconds: 2 }));
    const out = execFileSync('promtool', ['check', 'config', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(out).toContain('SUCCESS');
    // Every rule of rules.yml is loaded from the rendered config.
    const rules = (parse(readFileSync(join(here, 'rules.yml'), 'utf8')) as { groups: { rules: unknown[] }[] }).groups.flatMap((g) => g.rules);
    expect(rules.length).toBeGreaterThanOrEqual(11);
    expect(out).toContain(`${rules.length} rules found`);
  });
});
