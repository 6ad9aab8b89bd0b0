import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Process management for the launcher. Every process fedgate starts (broker,
 * MM2 and Connect JVMs, instance and gateway Node processes, the PIS's
 * PostgreSQL) carries `-Dfedgate.run=<run folder>` on its command line (for
 * Node, as an ignored script argument; for PostgreSQL, as the placeholder
 * setting `-c fedgate.run=<run folder>`). That marker is how `down`, the tests and the orphan check
 * find processes even when a pid file is gone, and how a pid that was reused
 * by an unrelated process is told apart.
 */

/** Where a detached process writes its output and its pid. */
export interface ProcessFiles {
  /** `<role>` such as `cloud-a/broker`; also written as -Dfedgate.role. */
  role: string;
  logFile: string;
  pidFile: string;
}

export interface JavaCommandSpec {
  role: string;
  runDir: string;
  classpath: string;
  mainClass: string;
  args: string[];
  jvmOptions: string[];
  /** The whole environment of the JVM (the launcher builds it; nothing is inherited). */
  env: Record<string, string>;
}
export type JavaProcessSpec = JavaCommandSpec & ProcessFiles;

export function runMarker(runDir: string): string {
  return `-Dfedgate.run=${runDir}`;
}

export interface CommandLine {
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Run as this user (a root launcher starting PostgreSQL, which refuses root). */
  uid?: number;
  gid?: number;
}

export function javaCommand(spec: JavaCommandSpec): CommandLine {
  return {
    command: 'java',
    args: [...spec.jvmOptions, runMarker(spec.runDir), `-Dfedgate.role=${spec.role}`, '-cp', spec.classpath, spec.mainClass, ...spec.args],
    env: spec.env,
  };
}

/** Starts a JVM detached (spawnCommand). */
export function spawnJava(spec: JavaProcessSpec): number {
  return spawnCommand(javaCommand(spec), spec);
}

export interface NodeCommandSpec {
  role: string;
  runDir: string;
  /** A TypeScript entry point, run through tsx. */
  script: string;
  /** The whole environment of the process (the launcher builds it from validated config; nothing is inherited). */
  env: Record<string, string>;
  /** Node options before the script (say `--cpu-prof`, which NODE_OPTIONS does not take). */
  nodeArgs?: string[];
  cwd: string;
}

export function nodeCommand(spec: NodeCommandSpec): CommandLine {
  // `--import tsx` resolves from the working directory: the project root.
  return {
    command: process.execPath,
    args: [...(spec.nodeArgs ?? []), '--import', 'tsx', spec.script, runMarker(spec.runDir), `-Dfedgate.role=${spec.role}`],
    env: spec.env,
    cwd: spec.cwd,
  };
}

/**
 * Starts a command line (from javaCommand or nodeCommand) in its own process
 * group, detached from the caller's terminal, with its output appended to
 * `logFile` and its pid in `pidFile`.
 */
export function spawnCommand(c: CommandLine, where: ProcessFiles): number {
  return spawnDetached(c, where);
}

/**
 * Runs a command in the foreground (a container's main process): output to
 * this terminal, SIGTERM and SIGINT passed on, its exit code returned.
 */
export function runAttached(c: CommandLine): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(c.command, c.args, { stdio: 'inherit', env: c.env, cwd: c.cwd, uid: c.uid, gid: c.gid });
    const forward = (sig: NodeJS.Signals) => child.kill(sig);
    process.on('SIGTERM', forward);
    process.on('SIGINT', forward);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      process.off('SIGTERM', forward);
      process.off('SIGINT', forward);
      resolve(code ?? (signal ? 128 + (signal === 'SIGKILL' ? 9 : 15) : 1));
    });
  });
}

/** How each process this process spawned ended, by pid (a detached child still reports its exit while its parent runs). */
const exits = new Map<number, { code: number | null; signal: NodeJS.Signals | null }>();

/**
 * How a process this process spawned ended, in words ("was killed by SIGKILL",
 * "exited with code 1"), or null when it runs or was not spawned here. A
 * SIGKILL nobody sent is most often the kernel's OOM killer: its line from the
 * kernel log is added when the log can be read.
 */
export function exitOf(pid: number): string | null {
  const exit = exits.get(pid);
  if (!exit) return null;
  if (exit.signal === null) return `exited with code ${exit.code}`;
  const oom = exit.signal === 'SIGKILL' ? oomKillOf(pid) : null;
  return `was killed by ${exit.signal}${oom ? ` (the kernel's OOM killer: ${oom})` : ''}`;
}

/** The kernel log's line about the OOM killer killing a pid, where the log can be read. */
function oomKillOf(pid: number): string | null {
  try {
    const r = spawnSync('dmesg', [], { encoding: 'utf8', timeout: 5000 });
    return (
      (r.stdout ?? '')
        .split('\n')
        .find((l) => new RegExp(`Killed process ${pid}\\b`).test(l))
        ?.trim() ?? null
    );
  } catch {
    return null;
  }
}

function spawnDetached(c: CommandLine, spec: ProcessFiles): number {
  const out = openSync(spec.logFile, 'a');
  try {
    const child = spawn(c.command, c.args, { detached: true, stdio: ['ignore', out, out], env: c.env, cwd: c.cwd, uid: c.uid, gid: c.gid });
    if (child.pid === undefined) throw new Error(`could not start ${c.command} for ${spec.role}`);
    const pid = child.pid;
    child.on('exit', (code, signal) => exits.set(pid, { code, signal }));
    child.unref();
    writeFileSync(spec.pidFile, `${child.pid}\n`);
    return child.pid;
  } finally {
    closeSync(out);
  }
}

/** The fields of /proc/<pid>/stat after the command name ([0] state, [19] start time); null when there is no such process. */
export function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

const isZombie = (state: string | undefined) => state === 'Z' || state === 'X';

/** True while the pid runs and still is a fedgate process of this run (not a zombie, not a reused pid). */
export function isOurProcess(pid: number, runDir: string): boolean {
  const fields = statFields(pid);
  if (!fields || isZombie(fields[0])) return false;
  try {
    return markerOf(cmdlineOf(pid).split('\0'), 'run') === runDir;
  } catch {
    return false;
  }
}

export function readPid(pidFile: string): number | null {
  if (!existsSync(pidFile)) return null;
  const pid = Number.parseInt(readFileSync(pidFile, 'utf8').trim(), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

export interface StopOptions {
  /** SIGKILL at once (a crash, for drills) instead of SIGTERM and a wait. */
  hard?: boolean;
  /** How long a graceful stop may take before SIGKILL. */
  graceMs?: number;
}

/** Stops a process group and waits until it is gone. */
export async function stopProcess(pid: number, runDir: string, options: StopOptions = {}): Promise<'stopped' | 'killed' | 'not-running'> {
  if (!isOurProcess(pid, runDir)) return 'not-running';
  const started = startTimeOf(pid);
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        process.kill(pid, sig);
      } catch {
        /* already gone */
      }
    }
  };
  if (options.hard) {
    signal('SIGKILL');
    await waitGone(pid, started, 10_000);
    return 'killed';
  }
  signal('SIGTERM');
  if (await waitGone(pid, started, options.graceMs ?? 30_000)) return 'stopped';
  signal('SIGKILL');
  await waitGone(pid, started, 10_000);
  return 'killed';
}

/** The process's start time (clock ticks since boot), which tells it apart from a later process given the same pid. */
export function startTimeOf(pid: number): string | null {
  return statFields(pid)?.[19] ?? null;
}

/**
 * Gone means exited for good: no such process (or another one with its
 * pid), or a zombie with no thread left, whose files (and listening sockets)
 * are closed. Neither "no longer ours by command line" (an exiting process
 * loses it first) nor the leader's zombie state (its other threads may still
 * hold the files) is enough: both were seen to leave the port bound, and an
 * immediate restart after SIGKILL failed with EADDRINUSE.
 */
export function hasExited(pid: number, started: string | null): boolean {
  const fields = statFields(pid);
  if (!fields || fields[19] !== started) return true;
  if (!isZombie(fields[0])) return false;
  try {
    return readdirSync(`/proc/${pid}/task`).length <= 1;
  } catch {
    return true;
  }
}

/** Waits until the process is gone (true), or `timeoutMs` passes (false). */
export async function waitGone(pid: number, started: string | null, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (hasExited(pid, started)) return true;
    await sleep(50);
  }
  return hasExited(pid, started);
}

export interface FoundProcess {
  pid: number;
  role: string;
  runDir: string;
}

/** Every live process's pid and command line (NUL-separated); a process that ends while read is left out. */
function* commandLines(): Generator<[number, string]> {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    try {
      yield [pid, cmdlineOf(pid)];
    } catch {
      /* it ended */
    }
  }
}

/** Does any live process's command line contain `needle` (say, a file a JVM is writing)? */
export function anyCommandLineIncludes(needle: string): boolean {
  for (const [, cmdline] of commandLines()) if (cmdline.includes(needle)) return true;
  return false;
}

/** Every live fedgate process whose run folder starts with `runDirPrefix`. */
export function findManaged(runDirPrefix: string): FoundProcess[] {
  const found: FoundProcess[] = [];
  for (const [pid, cmdline] of commandLines()) {
    const cmd = cmdline.split('\0');
    const run = markerOf(cmd, 'run');
    if (!run?.startsWith(runDirPrefix)) continue;
    if (!isOurProcess(pid, run)) continue;
    const role = markerOf(cmd, 'role') ?? '?';
    found.push({ pid, role, runDir: run });
  }
  return found;
}

/** Resident set size in bytes, or null when the process is gone. */
export function rssOf(pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    return kb ? Number(kb) * 1024 : null;
  } catch {
    return null;
  }
}

export function removePidFile(pidFile: string): void {
  rmSync(pidFile, { force: true });
}

/**
 * A marker's value from a command line: `-Dfedgate.<key>=` (JVMs, Node) or
 * `fedgate.<key>=` (PostgreSQL's `-c` placeholder settings).
 */
export function markerOf(args: string[], key: 'run' | 'role'): string | undefined {
  for (const a of args) {
    const body = a.startsWith('-D') ? a.slice(2) : a;
    if (body.startsWith(`fedgate.${key}=`)) return body.slice(`fedgate.${key}=`.length);
  }
  return undefined;
}

function cmdlineOf(pid: number): string {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
}

/** The last lines of a log, for error messages when a process dies at start. */
export function tailOf(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
