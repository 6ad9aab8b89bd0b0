import { parseArgs } from 'node:util';
import { createLauncher, type Launcher, statePaths } from '../deploy/index.ts';
import { loadTopology, type Site, type Topology } from '../federation/index.ts';
import type { CliEnv } from './env.ts';

/** A wrong invocation; the message names the fix. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Where a command writes: progress lines (stderr) and its result (stdout). */
export interface Out {
  info(line: string): void;
  data(text: string): void;
}

export interface CommandContext {
  env: CliEnv;
  out: Out;
}

/** One `fedgate <name>` command: its help lines and what it does. */
export interface Command {
  name: string;
  usage: string;
  run(args: string[], ctx: CommandContext): Promise<number>;
}

type Spec = Parameters<typeof parseArgs>[0] extends infer P ? (P extends { options?: infer O } ? O : never) : never;

/** Parses a command's options plus the common ones (--topology, --home); a wrong option is a UsageError. */
export function parse<O extends Spec>(args: string[], options: O) {
  try {
    return parseArgs({
      args,
      allowPositionals: true,
      options: { ...options, topology: { type: 'string' }, home: { type: 'string' } } as O & { topology: { type: 'string' }; home: { type: 'string' } },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export interface CommonValues {
  topology?: string;
  home?: string;
}

export function topologyFrom(values: CommonValues, env: CliEnv): Topology {
  return loadTopology(values.topology ?? env.FEDGATE_TOPOLOGY);
}

export function pathsFrom(values: CommonValues, env: CliEnv) {
  return statePaths(values.home ?? env.FEDGATE_HOME);
}

/** The launcher for this federation; its children get the CLI's validated configuration and the system variables, nothing else. */
export function launcherFrom(topology: Topology, values: CommonValues, { env, out }: CommandContext): Launcher {
  const paths = pathsFrom(values, env);
  return createLauncher({
    topology,
    stateDir: paths.stateDir,
    runDir: paths.runDir,
    certsDir: paths.certsDir,
    caKeyDir: paths.caKeyDir,
    log: out.info,
    systemEnv: env.system,
    databaseUrl: env.DATABASE_URL,
    env: { LOG_LEVEL: env.LOG_LEVEL, ...env.gateway },
    jvmCds: env.FEDGATE_JVM_CDS === 'on',
  });
}

/** The site named by --site, or a UsageError listing the topology's sites. */
export function requireSite(topology: Topology, name: string | undefined): Site {
  const names = topology.sites.map((s) => s.name).join(', ');
  if (!name) throw new UsageError(`--site is required; one of ${names}`);
  const site = topology.sites.find((s) => s.name === name);
  if (!site) throw new UsageError(`unknown site "${name}"; the topology has ${names}`);
  return site;
}

/** Resolves on the first SIGINT or SIGTERM. */
export function waitForSignal(): Promise<void> {
  return new Promise((resolve) => {
    // A signal listener does not keep Node running: with only detached children left, it would exit at once.
    const keepAlive = setInterval(() => {}, 60_000);
    const done = () => {
      clearInterval(keepAlive);
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
  });
}

export async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new UsageError('give --file <events.json>, or pipe the events into stdin');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
