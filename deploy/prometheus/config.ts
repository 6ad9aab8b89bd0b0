import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { METRICS_SECRET_FILE } from '../../certs/index.ts';
import { brokerNodes, type Topology, upstreamSites } from '../../federation/index.ts';
import { JMX_EXPORTER_USER } from '../jmx-exporter.ts';

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
 * and its instance's /metrics, and the JMX exporters of its brokers and its
 * MM2 node where the topology gives them ports, each scraped with the site's
 * metrics credential (read by Prometheus from the file at every scrape, so a
 * rotated secret needs no reload). Every series carries `site`, and `job` is
 * the component (fedgate-gateway, fedgate-instance, fedgate-broker,
 * fedgate-mm2) whichever site it is: the alert rules and dashboards group by
 * them.
 */
export function prometheusConfig(topology: Topology, o: PrometheusConfigOptions): string {
  const scrape = o.scrapeIntervalSeconds ?? 15;
  const jobs = topology.sites.flatMap((site) => {
    const secretFile = join(o.certsDir, site.name, METRICS_SECRET_FILE);
    const bearer = { authorization: { type: 'Bearer', credentials_file: secretFile } };
    // The JMX exporters take the same secret as an HTTP basic password.
    const basic = { basic_auth: { username: JMX_EXPORTER_USER, password_file: secretFile } };
    const job = (component: string, targets: string[], auth: object) => ({
      job_name: `${component}-${site.name}`,
      metrics_path: '/metrics',
      scheme: 'http',
      ...auth,
      static_configs: [{ targets, labels: { job: component, site: site.name } }],
    });
    const brokers = brokerNodes(site).flatMap((n) => (n.metrics === undefined ? [] : [`${site.address}:${n.metrics}`]));
    const mm2 = site.ports.mm2Metrics !== undefined && upstreamSites(topology, site.name).length > 0;
    return [
      job('fedgate-gateway', [`${site.address}:${site.ports.gateway}`], bearer),
      job('fedgate-instance', [`${site.address}:${site.ports.instance}`], bearer),
      ...(brokers.length > 0 ? [job('fedgate-broker', brokers, basic)] : []),
      ...(mm2 ? [job('fedgate-mm2', [`${site.address}:${site.ports.mm2Metrics}`], basic)] : []),
    ];
  });
  return stringify(
    {
      global: {
        scrape_interval: `${scrape}s`,
        scrape_timeout: `${Math.min(10, scrape)}s`,
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
