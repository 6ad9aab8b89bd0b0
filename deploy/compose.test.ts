import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { findTopologyProblems, parseTopology, WAN_PORTS } from '../federation/index.ts';
import { COMPONENTS, COMPOSE_FILE, COMPOSE_TOPOLOGY, composeTopology, renderCompose } from './compose.ts';

const root = new URL('../', import.meta.url);
const topology = parseTopology(JSON.parse(readFileSync(new URL('topology.json', root), 'utf8')));

describe('docker-compose.multi.yml', () => {
  it('is what topology.json renders today (run `npx fedgate compose render` after changing the topology)', () => {
    expect(readFileSync(new URL(COMPOSE_FILE, root), 'utf8')).toBe(renderCompose(topology));
    expect(JSON.parse(readFileSync(new URL(COMPOSE_TOPOLOGY, root), 'utf8'))).toEqual(composeTopology(topology));
  });

  it('runs the same federation: same sites, regions, countries, ports and flows; only addresses differ', () => {
    const ct = composeTopology(topology);
    expect(findTopologyProblems(ct)).toEqual([]);
    const strip = (t: typeof topology) => t.sites.map(({ address: _a, wanAddress: _w, ...rest }) => rest);
    expect(strip(ct)).toEqual(strip(topology));
  });

  it('gives every site the components the native launcher starts, each as `fedgate run`', () => {
    const doc = parse(renderCompose(topology));
    for (const site of topology.sites) {
      for (const c of COMPONENTS) {
        const svc = doc.services[`${site.name}-${c}`];
        expect(svc.command).toEqual(['run', c, '--site', site.name]);
        expect(svc.network_mode).toBe(`service:${site.name}`);
      }
    }
  });

  it('keeps each site on its own network, and the WAN internal, carrying only the inter-site listeners', () => {
    const doc = parse(renderCompose(topology));
    const ct = composeTopology(topology);
    expect(doc.networks.wan.internal).toBe(true);
    for (const site of ct.sites) {
      expect(Object.keys(doc.services[site.name].networks).sort()).toEqual([site.name, 'wan'].sort());
      expect(doc.services[site.name].networks.wan.ipv4_address).toBe(site.wanAddress);
      expect(site.wanAddress).not.toBe(site.address);
    }
    expect(WAN_PORTS).toEqual(['interSite', 'peer']);
  });
});
