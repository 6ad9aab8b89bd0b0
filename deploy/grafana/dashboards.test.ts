import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { asPromQL, dashboards, GRAFANA_DIR } from './dashboards.ts';

const here = GRAFANA_DIR;

describe('Grafana dashboards', () => {
  const datasource = (parse(readFileSync(join(here, 'provisioning/datasources/fedgate.yml'), 'utf8')) as { datasources: Array<{ uid: string; type: string }> })
    .datasources[0]!;

  it('are the overview, a site detail and the MM2 flows, with unique uids', () => {
    expect(
      dashboards()
        .map((d) => d.uid)
        .sort(),
    ).toEqual(['fedgate-mm2', 'fedgate-overview', 'fedgate-site']);
  });

  it('query only the provisioned Prometheus datasource, and every panel has a query and a unit', () => {
    expect(datasource).toMatchObject({ uid: 'fedgate-prometheus', type: 'prometheus' });
    for (const d of dashboards())
      for (const p of d.panels) {
        expect(p.datasource.uid, `${d.uid}/${p.title}`).toBe(datasource.uid);
        expect(p.targets.length, `${d.uid}/${p.title}`).toBeGreaterThan(0);
        for (const t of p.targets) expect(t.datasource.uid).toBe(datasource.uid);
        expect(p.fieldConfig.defaults.unit, `${d.uid}/${p.title}`).toBeTruthy();
      }
  });

  it('turn into plain PromQL for Prometheus’s API: the rate-interval macro and the variables replaced', () => {
    expect(asPromQL('rate(x{site="$site"}[$__rate_interval])', { site: 'a' })).toBe('rate(x{site="a"}[1m])');
  });

  it('use only the variables they define, and panels do not overlap', () => {
    for (const d of dashboards()) {
      const defined = new Set(d.templating.list.map((v) => v.name));
      for (const p of d.panels)
        for (const t of p.targets)
          for (const [, v] of t.expr.matchAll(/\$(\w+)/g)) if (!v!.startsWith('__')) expect(defined.has(v!), `${d.uid}: $${v}`).toBe(true);
      const cells = new Set<string>();
      for (const p of d.panels)
        for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++)
          for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
            const cell = `${x},${y}`;
            expect(cells.has(cell), `${d.uid}: panel "${p.title}" overlaps another at ${cell}`).toBe(false);
            cells.add(cell);
          }
    }
  });
});
