import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { parseTopology, type Topology, TopologyError } from '../federation/index.ts';

/**
 * docker-compose.multi.yml, rendered from the topology (pure), so the
 * containers run exactly what the native launcher runs: per site a broker,
 * an MM2 node, an instance and a gateway, each as `fedgate run <component>`.
 *
 * Networks: one per site (its services and its clients) plus `wan`, which
 * only the inter-site listeners face (Kafka mTLS and the gateway peer port).
 * A site's four processes share one network namespace (a holder container),
 * the way they share one loopback address natively.
 *
 * Secrets: the one-shot `certs` service holds the CA key (volume `ca-key`)
 * and issues every site's material into that site's own volume
 * (`<site>-secrets`). A site's containers mount only their site's volume and
 * the CA certificate (read-only), never the CA key or another site's keys.
 * Every container runs as the image's unprivileged `fedgate` user.
 */
export const COMPOSE_FILE = 'docker-compose.multi.yml';
export const COMPOSE_TOPOLOGY = 'deploy/compose/topology.json';
export const COMPONENTS = ['broker', 'mm2', 'instance', 'gateway'] as const;
/** The image's unprivileged user (deploy/docker/Dockerfile). */
export const COMPOSE_USER = 'fedgate';
const WAN_SUBNET = '10.200.0.0/24';
const siteSubnet = (i: number) => `10.${201 + i}.0.0/24`;

/** The same federation with container addresses: site network and WAN. */
export function composeTopology(topology: Topology): Topology {
  return parseTopology(
    {
      ...topology,
      sites: topology.sites.map((s, i) => ({ ...s, address: `10.${201 + i}.0.10`, wanAddress: `10.200.0.${11 + i}` })),
    },
    'compose topology',
  );
}

/** Each site's database container (Debian's PostgreSQL 15 is what the native federation and the tests use). */
export const POSTGRES_IMAGE = 'postgres:15';
/** The instance's database in compose: the site's PostgreSQL, on the loopback of the site's namespace. */
export const SITE_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/fedgate';

export function renderCompose(topology: Topology): string {
  const multi = topology.sites.findIndex((s) => s.brokers > 1);
  if (multi >= 0)
    throw new TopologyError('the topology for compose', [
      {
        field: `sites[${multi}].brokers`,
        message: `the compose file runs one broker container per site; ${topology.sites[multi]!.name} has ${topology.sites[multi]!.brokers}`,
        fix: 'render compose from a topology whose sites have "brokers": 1, or run three-broker sites with `npx fedgate up`',
      },
    ]);
  const ct = composeTopology(topology);
  const home = '/var/lib/fedgate';
  const common = (site: string) => ({
    image: 'fedgate:local',
    user: COMPOSE_USER,
    environment: { FEDGATE_TOPOLOGY: `/app/${COMPOSE_TOPOLOGY}`, FEDGATE_HOME: home, LOG_LEVEL: 'info' },
    volumes: [`ca:${home}/certs/ca:ro`, `${site}-secrets:${home}/certs/${site}`, `${site}-state:${home}/run`],
    network_mode: `service:${site}`,
  });
  const services: Record<string, unknown> = {
    certs: {
      image: 'fedgate:local',
      build: {
        context: '.',
        dockerfile: 'deploy/docker/Dockerfile',
        // The image makes each site's secrets folder, owned by the unprivileged user, before a volume is mounted on it.
        args: { FEDGATE_SITES: ct.sites.map((s) => s.name).join(' ') },
      },
      user: COMPOSE_USER,
      command: ['certs', 'init'],
      environment: { FEDGATE_TOPOLOGY: `/app/${COMPOSE_TOPOLOGY}`, FEDGATE_HOME: home },
      volumes: [`ca-key:${home}/ca-key`, `ca:${home}/certs/ca`, ...ct.sites.map((s) => `${s.name}-secrets:${home}/certs/${s.name}`)],
      network_mode: 'none',
    },
  };
  ct.sites.forEach((site, i) => {
    services[site.name] = {
      image: 'fedgate:local',
      user: COMPOSE_USER,
      entrypoint: ['sleep', 'infinity'],
      hostname: site.name,
      networks: { [site.name]: { ipv4_address: site.address }, wan: { ipv4_address: site.wanAddress } },
      // The dashboard and the publish API, for the host.
      ports: [`127.0.0.1:${8081 + i}:${site.ports.gateway}`],
      restart: 'unless-stopped',
    };
    const after = (deps: string[]) =>
      Object.fromEntries(deps.map((d) => [d, { condition: d === 'certs' ? 'service_completed_successfully' : 'service_started' }]));
    services[`${site.name}-broker`] = {
      ...common(site.name),
      // Logs to stdout (`docker compose logs`), like every container.
      command: ['run', 'broker', '--site', site.name, '--log-stdout'],
      depends_on: after(['certs', site.name]),
      restart: 'unless-stopped',
    };
    // The site's database: PostgreSQL in the site's own network namespace, on its loopback only, so only the
    // site's own containers reach it (trust there; nothing outside the namespace can connect).
    services[`${site.name}-db`] = {
      image: POSTGRES_IMAGE,
      user: 'postgres',
      network_mode: `service:${site.name}`,
      command: ['postgres', '-c', 'listen_addresses=127.0.0.1'],
      environment: { POSTGRES_DB: 'fedgate', POSTGRES_HOST_AUTH_METHOD: 'trust' },
      volumes: [`${site.name}-db:/var/lib/postgresql/data`],
      healthcheck: { test: ['CMD', 'pg_isready', '-h', '127.0.0.1', '-U', 'postgres', '-d', 'fedgate'], interval: '2s', timeout: '2s', retries: 30 },
      depends_on: after([site.name]),
      restart: 'unless-stopped',
    };
    const base = common(site.name);
    services[`${site.name}-instance`] = {
      ...base,
      environment: { ...base.environment, DATABASE_URL: SITE_DATABASE_URL },
      command: ['run', 'instance', '--site', site.name],
      depends_on: { ...after([`${site.name}-broker`]), [`${site.name}-db`]: { condition: 'service_healthy' } },
      restart: 'on-failure',
    };
    // The site's further instance workers (sites[].workers): they share its database and its consumer groups.
    for (let worker = 2; worker <= site.workers; worker++) {
      services[`${site.name}-instance-${worker}`] = {
        ...(services[`${site.name}-instance`] as Record<string, unknown>),
        command: ['run', 'instance', '--site', site.name, '--worker', String(worker)],
      };
    }
    services[`${site.name}-mm2`] = {
      ...common(site.name),
      command: ['run', 'mm2', '--site', site.name, '--log-stdout'],
      depends_on: after([`${site.name}-instance`]),
      restart: 'on-failure',
    };
    services[`${site.name}-gateway`] = {
      ...common(site.name),
      command: ['run', 'gateway', '--site', site.name],
      depends_on: after([`${site.name}-instance`]),
      restart: 'on-failure',
    };
    // The PIS's database and its Debezium worker, at the PIS's site (the image carries PostgreSQL's server binaries).
    // With the PIS's own database (`pis.database`) there is no database service: the worker checks theirs at start.
    if (ct.pis?.site === site.name) {
      if (!ct.pis.database)
        services[`${site.name}-pisdb`] = {
          ...common(site.name),
          command: ['run', 'pisdb', '--site', site.name],
          depends_on: after(['certs', site.name]),
          restart: 'unless-stopped',
        };
      services[`${site.name}-connect`] = {
        ...common(site.name),
        command: ['run', 'connect', '--site', site.name, '--log-stdout'],
        depends_on: after(ct.pis.database ? [`${site.name}-broker`] : [`${site.name}-broker`, `${site.name}-pisdb`]),
        restart: 'on-failure',
      };
    }
  });
  const networks: Record<string, unknown> = { wan: { internal: true, ipam: { config: [{ subnet: WAN_SUBNET }] } } };
  ct.sites.forEach((site, i) => {
    networks[site.name] = { ipam: { config: [{ subnet: siteSubnet(i) }] } };
  });
  const volumes: Record<string, null> = { 'ca-key': null, ca: null };
  for (const site of ct.sites) {
    volumes[`${site.name}-secrets`] = null;
    volumes[`${site.name}-state`] = null;
    volumes[`${site.name}-db`] = null;
  }

  return (
    `# Generated by \`npx fedgate compose render\` from topology.json; do not edit.\n` +
    `# The same three sites as \`npm start\`, as containers: docker compose -f ${COMPOSE_FILE} up --build\n` +
    `# Dashboards: ${ct.sites.map((s, i) => `${s.name} http://127.0.0.1:${8081 + i}/dashboard`).join(', ')}\n` +
    stringify({ services, networks, volumes }, { lineWidth: 0 })
  );
}

export function writeComposeFiles(topology: Topology, root: string): string[] {
  writeFileSync(join(root, COMPOSE_FILE), renderCompose(topology));
  writeFileSync(join(root, COMPOSE_TOPOLOGY), `${JSON.stringify(composeTopology(topology), null, 2)}\n`);
  return [COMPOSE_FILE, COMPOSE_TOPOLOGY];
}
