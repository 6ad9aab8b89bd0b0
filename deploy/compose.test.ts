import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { findTopologyProblems, parseTopology, WAN_PORTS } from '../federation/index.ts';
import { COMPONENTS, COMPOSE_FILE, COMPOSE_TOPOLOGY, COMPOSE_USER, composeTopology, POSTGRES_IMAGE, renderCompose, SITE_DATABASE_URL } from './compose.ts';

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
        // The JVMs log to stdout, as containers do (Node components always log JSON lines there).
        expect(svc.command).toEqual(['run', c, '--site', site.name, ...(c === 'broker' || c === 'mm2' ? ['--log-stdout'] : [])]);
        expect(svc.network_mode).toBe(`service:${site.name}`);
      }
    }
  });

  it("runs the PIS's database and Debezium worker at the PIS site, as the native launcher does", () => {
    const doc = parse(renderCompose(topology));
    const pis = topology.pis!.site;
    expect(doc.services[`${pis}-pisdb`].command).toEqual(['run', 'pisdb', '--site', pis]);
    expect(doc.services[`${pis}-connect`].command).toEqual(['run', 'connect', '--site', pis, '--log-stdout']);
    expect(Object.keys(doc.services[`${pis}-connect`].depends_on).sort()).toEqual([`${pis}-broker`, `${pis}-pisdb`]);
    for (const name of [`${pis}-pisdb`, `${pis}-connect`]) {
      expect(doc.services[name].network_mode).toBe(`service:${pis}`);
      expect(doc.services[name].user).toBe(COMPOSE_USER);
    }
    expect(Object.keys(doc.services).filter((n) => /-(pisdb|connect)$/.test(n))).toHaveLength(2);
  });

  it('gives every site its own PostgreSQL, reachable only inside the site, and the instance uses it once it is healthy', () => {
    const doc = parse(renderCompose(topology));
    for (const site of topology.sites) {
      const db = doc.services[`${site.name}-db`];
      expect(db.image).toBe(POSTGRES_IMAGE);
      expect(db.network_mode).toBe(`service:${site.name}`);
      expect(db.command).toEqual(['postgres', '-c', 'listen_addresses=127.0.0.1']);
      expect(db.user).toBe('postgres');
      expect(db.ports).toBeUndefined();
      expect(db.volumes).toEqual([`${site.name}-db:/var/lib/postgresql/data`]);
      const instance = doc.services[`${site.name}-instance`];
      expect(instance.environment.DATABASE_URL).toBe(SITE_DATABASE_URL);
      expect(instance.depends_on[`${site.name}-db`]).toEqual({ condition: 'service_healthy' });
    }
  });

  it("runs a site's further instance workers as containers of their own, on the site's database", () => {
    const scaled = parseTopology({ ...topology, sites: topology.sites.map(({ flows, ...s }, i) => ({ ...s, flows, workers: i === 0 ? 2 : 1 })) });
    const doc = parse(renderCompose(scaled));
    const first = scaled.sites[0]!.name;
    const worker = doc.services[`${first}-instance-2`];
    expect(worker.command).toEqual(['run', 'instance', '--site', first, '--worker', '2']);
    expect(worker.environment.DATABASE_URL).toBe(SITE_DATABASE_URL);
    expect(worker.network_mode).toBe(`service:${first}`);
    expect(Object.keys(doc.services).filter((n) => /-instance-\d+$/.test(n))).toEqual([`${first}-instance-2`]);
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

  it('gives each site only its own secrets and the CA certificate, read-only; only the one-shot certs job holds the CA key; no container runs as root', () => {
    const doc = parse(renderCompose(topology));
    const home = '/var/lib/fedgate';
    for (const site of topology.sites) {
      for (const c of COMPONENTS) {
        const svc = doc.services[`${site.name}-${c}`];
        expect(svc.volumes).toEqual([`ca:${home}/certs/ca:ro`, `${site.name}-secrets:${home}/certs/${site.name}`, `${site.name}-state:${home}/run`]);
        expect(svc.user).toBe(COMPOSE_USER);
      }
      expect(doc.services[site.name].user).toBe(COMPOSE_USER);
    }
    const holders = Object.entries(doc.services as Record<string, { volumes?: string[] }>)
      .filter(([, svc]) => (svc.volumes ?? []).some((v) => v.startsWith('ca-key:')))
      .map(([name]) => name);
    expect(holders).toEqual(['certs']);
    expect(doc.services.certs.user).toBe(COMPOSE_USER);
    expect(doc.services.certs.network_mode).toBe('none');
    expect(doc.services.certs.build.args.FEDGATE_SITES.split(' ')).toEqual(topology.sites.map((s) => s.name));
    const dockerfile = readFileSync(new URL('deploy/docker/Dockerfile', root), 'utf8');
    expect(dockerfile).toMatch(/^USER fedgate$/m);
    expect(
      dockerfile
        .trimEnd()
        .split('\n')
        .filter((l) => /^USER /.test(l)),
    ).toEqual(['USER fedgate']);
  });
});
