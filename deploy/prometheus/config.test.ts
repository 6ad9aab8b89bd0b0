import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
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
    {
      name: 'cloud-a',
      regions: ['eu'],
      address: '127.0.1.1',
      ports: { kafka: 9092, interSite: 9093, controller: 9094, instance: 8081, gateway: 8080, peer: 8443 },
    },
    {
      name: 'cloud-b',
      regions: ['us'],
      address: '127.0.2.1',
      ports: { kafka: 9092, interSite: 9093, controller: 9094, instance: 8071, gateway: 8070, peer: 8443 },
    },
  ],
});

interface Job {
  job_name: string;
  authorization: { type: string; credentials_file: string };
  static_configs: Array<{ targets: string[]; labels: Record<string, string> }>;
}

describe('prometheus.yml from the topology', () => {
  const text = prometheusConfig(topology, { certsDir: '/state/certs', ruleFiles: [join(here, 'rules.yml')] });
  const config = parse(text) as { scrape_configs: Job[]; rule_files: string[]; global: Record<string, unknown> };

  it('scrapes the gateway and the instance of every site, each with its site label and its site’s credential file', () => {
    const targets = config.scrape_configs.map((j) => ({
      job: j.static_configs[0]!.labels.job,
      site: j.static_configs[0]!.labels.site,
      target: j.static_configs[0]!.targets[0],
      credentials: j.authorization.credentials_file,
    }));
    expect(targets).toEqual([
      { job: 'fedgate-gateway', site: 'cloud-a', target: '127.0.1.1:8080', credentials: '/state/certs/cloud-a/metrics.secret' },
      { job: 'fedgate-instance', site: 'cloud-a', target: '127.0.1.1:8081', credentials: '/state/certs/cloud-a/metrics.secret' },
      { job: 'fedgate-gateway', site: 'cloud-b', target: '127.0.2.1:8070', credentials: '/state/certs/cloud-b/metrics.secret' },
      { job: 'fedgate-instance', site: 'cloud-b', target: '127.0.2.1:8071', credentials: '/state/certs/cloud-b/metrics.secret' },
    ]);
    expect(new Set(config.scrape_configs.map((j) => j.job_name)).size).toBe(4);
    expect(config.scrape_configs.every((j) => j.authorization.type === 'Bearer')).toBe(true);
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
    expect(out).toContain('9 rules found');
  });
});
