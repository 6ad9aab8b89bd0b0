import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** deploy/grafana: dashboards (dashboards/*.json) and Grafana provisioning files (provisioning/). */
export const GRAFANA_DIR = dirname(fileURLToPath(import.meta.url));

export interface DashboardPanel {
  id: number;
  title: string;
  datasource: { uid: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets: Array<{ expr: string; datasource: { uid: string } }>;
  fieldConfig: { defaults: { unit?: string } };
}

export interface Dashboard {
  uid: string;
  title: string;
  panels: DashboardPanel[];
  templating: { list: Array<{ name: string; query?: { query: string } }> };
}

/** Every dashboard fedgate ships. */
export function dashboards(): Dashboard[] {
  const dir = join(GRAFANA_DIR, 'dashboards');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Dashboard);
}

/**
 * A panel query as Prometheus's own API takes it: Grafana's range-interval
 * macro as a fixed window, and each dashboard variable replaced by a value.
 */
export function asPromQL(expr: string, variables: Record<string, string>, rateInterval = '1m'): string {
  return expr.replace(/\$__rate_interval/g, rateInterval).replace(/\$(\w+)/g, (all, name: string) => variables[name] ?? all);
}
