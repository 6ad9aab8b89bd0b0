import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Site } from '../../federation/index.ts';
import { deliveryBrokerProblems } from '../delivery-brokers.ts';
import { nodeCommand, readPid } from '../process.ts';
import type { ComponentModule, LaunchContext } from './component.ts';

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

export interface NodeProcessOptions {
  /** PostgreSQL server for the sites' databases; PGlite per site when absent. */
  databaseUrl?: string;
  /** A site's own database (components/sitedb.ts), when the launcher runs one: it overrides `databaseUrl`. */
  siteDatabaseUrl?: (site: string) => string | undefined;
  /** Extra configuration, validated by the process's env reader. */
  env?: Record<string, string>;
  /** Node options before the script (the benchmark's `--cpu-prof`). */
  nodeArgs?: string[];
}

/** The URL of a site's Node process (`instance`: the read API; `gateway`: the public HTTP listener). */
export function nodeUrl(site: Site, name: 'instance' | 'gateway'): string {
  return `http://${site.address}:${site.ports[name]}`;
}

async function httpOk(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

/**
 * The environment of a site's Node process, built here from validated
 * configuration: the system variables, where the topology, run folder and
 * certificates are, and what the caller passed on. Nothing else is inherited.
 */
export function nodeEnv(ctx: LaunchContext, options: NodeProcessOptions, site: string): Record<string, string> {
  const topologyFile = join(ctx.runDir, 'topology.json');
  mkdirSync(ctx.runDir, { recursive: true });
  writeFileSync(topologyFile, JSON.stringify(ctx.topology, null, 2));
  return {
    ...ctx.systemEnv,
    FEDGATE_TOPOLOGY: topologyFile,
    FEDGATE_SITE: site,
    FEDGATE_RUN_DIR: ctx.runDir,
    FEDGATE_CERTS_DIR: ctx.certsDir,
    ...(databaseUrlOf(options, site) ? { DATABASE_URL: databaseUrlOf(options, site)! } : {}),
    ...options.env,
  };
}

const databaseUrlOf = (options: Pick<NodeProcessOptions, 'databaseUrl' | 'siteDatabaseUrl'>, site: string) =>
  options.siteDatabaseUrl?.(site) ?? options.databaseUrl;

/**
 * V8 options per process, before the script. The gateway's young generation
 * may grow to 64 MB per semi-space (V8's default is 16 MB): the publish path
 * allocates a Buffer or more per record and header, and with the default,
 * scavenges took 22 % of the gateway's CPU under a batched load. Measured
 * on the publish bench's gateway, alternating runs on 2026-12-07: CPU per
 * event batched 92-121 µs against 105-142, single 212-283 µs against
 * 288-402, for 30-86 MiB more RSS under load.
 */
export const NODE_V8_OPTIONS = {
  instance: [],
  gateway: ['--max-semi-space-size=64'],
} as const satisfies Record<'instance' | 'gateway', readonly string[]>;

const PROCESSES = {
  instance: { script: 'instances/main.ts', health: '/v1/health', ports: ['instance'] },
  gateway: { script: 'gateway/main.ts', health: '/healthz', ports: ['gateway', 'peer'] },
} as const;

/**
 * How many instance workers a site runs: what `fedgate scale` set for this
 * run (`<run>/<site>/instance.workers`, removed by `down`), else the
 * topology's `workers`.
 */
export function instanceWorkers(ctx: Pick<LaunchContext, 'layout'>, site: Site): number {
  const file = ctx.layout(site.name).workersFile;
  const scaled = existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) : NaN;
  return Number.isInteger(scaled) && scaled >= 1 ? scaled : site.workers;
}

/** Why a site cannot run `workers` instance workers with these options, or null. */
export function workersProblem(site: Site, workers: number, options: Pick<NodeProcessOptions, 'databaseUrl' | 'siteDatabaseUrl'>): string | null {
  if (workers === 1 || databaseUrlOf(options, site.name)) return null;
  return (
    `${site.name} runs ${workers} instance workers, and they share one database: set DATABASE_URL to a PostgreSQL server ` +
    `(for example postgres://postgres@127.0.0.1:5432/postgres) before starting, or run one worker (sites[].workers 1, \`npx fedgate scale --site ${site.name} --workers 1\`)`
  );
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

/**
 * A site's instance (consumers, monitoring, read API) or gateway (publish,
 * federated view). The gateway, and instance worker 1, are ready once their
 * health URL answers; instance workers 2..n serve no HTTP and are ready once
 * they write their pid to their ready file.
 */
export function nodeProcessModule(ctx: LaunchContext, options: NodeProcessOptions, name: 'instance' | 'gateway'): ComponentModule {
  const p = PROCESSES[name];
  const nodes = (site: Site) => (name === 'instance' ? range(instanceWorkers(ctx, site)) : [1]);
  const readyFile = (site: Site, node: number) => ctx.layout(site.name).readyFile(name, node);
  return {
    name,
    skip: () => null,
    nodes,
    ports: (site, node) => (node === 1 ? p.ports.map((port) => [port, site.ports[port]]) : []),
    async command(site, node) {
      mkdirSync(ctx.layout(site.name).logDir, { recursive: true });
      const worker: Record<string, string> = {};
      if (name === 'instance') {
        const problem = workersProblem(site, instanceWorkers(ctx, site), options);
        if (problem) throw new Error(problem);
        if (node === 1) for (const warning of await deliveryBrokerProblems(site)) ctx.log(`warning: ${warning}`);
        worker.FEDGATE_WORKER = String(node);
        if (node > 1) {
          rmSync(readyFile(site, node), { force: true });
          worker.FEDGATE_READY_FILE = readyFile(site, node);
        }
      }
      return nodeCommand({
        role: node === 1 ? `${site.name}/${name}` : `${site.name}/${name}-${node}`,
        runDir: ctx.runDir,
        script: join(REPO_ROOT, p.script),
        cwd: REPO_ROOT,
        // Only the instance keeps state in the site's database: the gateway is not given its login.
        env: { ...nodeEnv(ctx, name === 'instance' ? options : { ...options, databaseUrl: undefined, siteDatabaseUrl: undefined }, site.name), ...worker },
        nodeArgs: [...NODE_V8_OPTIONS[name], ...(options.nodeArgs ?? [])],
      });
    },
    stdoutFile: (site, node) => ctx.layout(site.name).logFile(name, node),
    async ready(site) {
      if (!(await httpOk(`${nodeUrl(site, name)}${p.health}`))) return false;
      return nodes(site)
        .slice(1)
        .every((n) => {
          const pid = readPid(ctx.layout(site.name).pidFile(name, n));
          return pid !== null && readPid(readyFile(site, n)) === pid;
        });
    },
    readyTimeoutMs: 90_000,
    logs: (site, node) => [ctx.layout(site.name).logFile(name, node)],
    started: (site) => (name === 'instance' && nodes(site).length > 1 ? `${nodeUrl(site, name)} (worker 1 of ${nodes(site).length})` : nodeUrl(site, name)),
  };
}
