import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Site } from '../../federation/index.ts';
import { deliveryBrokerProblems } from '../delivery-brokers.ts';
import { nodeCommand } from '../process.ts';
import type { ComponentModule, LaunchContext } from './component.ts';

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

export interface NodeProcessOptions {
  /** PostgreSQL server for the sites' databases; PGlite per site when absent. */
  databaseUrl?: string;
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
    ...(options.databaseUrl ? { DATABASE_URL: options.databaseUrl } : {}),
    ...options.env,
  };
}

const PROCESSES = {
  instance: { script: 'instances/main.ts', health: '/v1/health', ports: ['instance'] },
  gateway: { script: 'gateway/main.ts', health: '/healthz', ports: ['gateway', 'peer'] },
} as const;

/** A site's instance (consumers, monitoring, read API) or gateway (publish, federated view): ready once its health URL answers. */
export function nodeProcessModule(ctx: LaunchContext, options: NodeProcessOptions, name: 'instance' | 'gateway'): ComponentModule {
  const p = PROCESSES[name];
  return {
    name,
    skip: () => null,
    ports: (site) => p.ports.map((port) => [port, site.ports[port]]),
    async command(site) {
      mkdirSync(ctx.layout(site.name).logDir, { recursive: true });
      if (name === 'instance') for (const problem of await deliveryBrokerProblems(site)) ctx.log(`warning: ${problem}`);
      return nodeCommand({
        role: `${site.name}/${name}`,
        runDir: ctx.runDir,
        script: join(REPO_ROOT, p.script),
        cwd: REPO_ROOT,
        env: nodeEnv(ctx, options, site.name),
        nodeArgs: options.nodeArgs,
      });
    },
    stdoutFile: (site) => ctx.layout(site.name).logFile(name),
    ready: (site) => httpOk(`${nodeUrl(site, name)}${p.health}`),
    readyTimeoutMs: 90_000,
    logs: (site) => [ctx.layout(site.name).logFile(name)],
    started: (site) => nodeUrl(site, name),
  };
}
