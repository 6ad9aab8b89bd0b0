import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import type { Topology } from '../../federation/index.ts';

/** The file, beside each site's certificates, that holds the site's metrics credential (certs/metrics-secret.ts). */
export const METRICS_SECRET_FILE = 'metrics.secret';

export interface PrometheusConfigOptions {
  /** The certificates folder: `<certsDir>/<site>/metrics.secret` is each site's scrape credential. */
  certsDir: string;
  /** Rule files to load (absolute paths). */
  ruleFiles: string[];
  scrapeIntervalSeconds?: number;
  evaluationIntervalSeconds?: number;
}

/**
 * prometheus.yml for a federation, from its topology: per site, its gateway's
 * and its instance's /metrics, each scraped with the site's metrics credential
 * (a bearer secret, read by Prometheus from the file at every scrape, so a
 * rotated secret needs no reload). Every series carries `site`, and `job` is
 * the component (fedgate-gateway, fedgate-instance) whichever site it is: the
 * alert rules and dashboards group by them.
 */
export function prometheusConfig(topology: Topology, o: PrometheusConfigOptions): string {
  const scrape = o.scrapeIntervalSeconds ?? 15;
  const jobs = topology.sites.flatMap((site) => {
    const credentials = { type: 'Bearer', credentials_file: join(o.certsDir, site.name, METRICS_SECRET_FILE) };
    return [
      { component: 'fedgate-gateway', port: site.ports.gateway },
      { component: 'fedgate-instance', port: site.ports.instance },
    ].map(({ component, port }) => ({
      job_name: `${component}-${site.name}`,
      metrics_path: '/metrics',
      scheme: 'http',
      authorization: credentials,
      static_configs: [{ targets: [`${site.address}:${port}`], labels: { job: component, site: site.name } }],
    }));
  });
  return stringify(
    {
      global: {
        scrape_interval: `${scrape}s`,
        scrape_timeout: `${Math.max(1, Math.min(10, scrape - 1))}s`,
        evaluation_interval: `${o.evaluationIntervalSeconds ?? scrape}s`,
        external_labels: { federation: topology.federation },
      },
      rule_files: o.ruleFiles,
      scrape_configs: jobs,
    },
    { aliasDuplicateObjects: false },
  );
}

/** fedgate's alert rules (checked and unit-tested with promtool in `npm test`). */
export const RULES_FILE = resolve(dirname(fileURLToPath(import.meta.url)), 'rules.yml');
