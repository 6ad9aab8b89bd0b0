import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { bindProblem } from '../launcher.ts';
import { hasExited, removePidFile, spawnCommand, startTimeOf, tailOf, waitGone } from '../process.ts';

/** Debian's Prometheus (`apt-get install prometheus`), or any `prometheus` on the PATH. */
const PROMETHEUS = 'prometheus';

/** Null when Prometheus is installed, else how to get it. */
export function prometheusMissing(): string | null {
  try {
    execFileSync(PROMETHEUS, ['--version'], { stdio: 'ignore' });
    return null;
  } catch {
    return 'Prometheus is not installed: `sudo apt-get install prometheus` (Debian/Ubuntu; it brings promtool), or put a prometheus binary (2.x or newer) on the PATH';
  }
}

export interface PrometheusServer {
  url: string;
  pid: number;
  stop(): Promise<void>;
  /** An instant query through the HTTP API: the result vector. */
  query(promql: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  targets(): Promise<Array<{ labels: Record<string, string>; health: string; lastError: string }>>;
  alerts(): Promise<Array<{ labels: Record<string, string>; state: 'pending' | 'firing' }>>;
}

/**
 * Starts a Prometheus with the given prometheus.yml under `dir` (its data and
 * log there too), detached like the federation's own processes, and waits
 * until it is ready.
 */
export async function startPrometheus(o: { dir: string; config: string; listen: string }): Promise<PrometheusServer> {
  // Checked before the start: once another server holds the address, its answers to the probe below would pass for ours.
  const [host, port] = [o.listen.slice(0, o.listen.lastIndexOf(':')), Number(o.listen.slice(o.listen.lastIndexOf(':') + 1))];
  const taken = await bindProblem(host, port);
  if (taken) throw new Error(`Prometheus cannot listen on ${o.listen} (${taken}): stop what holds it, or pick another address`);
  mkdirSync(join(o.dir, 'data'), { recursive: true });
  const configFile = join(o.dir, 'prometheus.yml');
  writeFileSync(configFile, o.config);
  const logFile = join(o.dir, 'prometheus.log');
  const pidFile = join(o.dir, 'prometheus.pid');
  const pid = spawnCommand(
    {
      command: PROMETHEUS,
      args: [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${join(o.dir, 'data')}`,
        `--web.listen-address=${o.listen}`,
        '--storage.tsdb.retention.time=2d',
      ],
    },
    { role: 'prometheus', logFile, pidFile },
  );
  const url = `http://${o.listen}`;
  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(5000) });
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`Prometheus ${path}: ${body.error ?? res.status}`);
    return body.data;
  };
  // Prometheus refuses unknown arguments, so it cannot carry the run marker: it is told apart by its start time.
  const started = startTimeOf(pid);
  const stop = async () => {
    for (const [signal, waitMs] of [
      ['SIGTERM', 10_000],
      ['SIGKILL', 5000],
    ] as const) {
      if (hasExited(pid, started)) break;
      process.kill(pid, signal);
      await waitGone(pid, started, waitMs);
    }
    removePidFile(pidFile);
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (hasExited(pid, started)) {
      removePidFile(pidFile);
      throw new Error(`Prometheus exited at start (is ${o.listen} taken?); its log ends:\n${tailOf(logFile)}`);
    }
    const ready = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`Prometheus did not become ready at ${url} within 30 s; its log ends:\n${tailOf(logFile)}`);
    }
    await sleep(250);
  }
  return {
    url,
    pid,
    stop,
    query: async (promql) =>
      (await api<{ result: Array<{ metric: Record<string, string>; value: [number, string] }> }>(`/api/v1/query?query=${encodeURIComponent(promql)}`)).result,
    targets: async () =>
      (await api<{ activeTargets: Array<{ labels: Record<string, string>; health: string; lastError: string }> }>('/api/v1/targets')).activeTargets,
    alerts: async () => (await api<{ alerts: Array<{ labels: Record<string, string>; state: 'pending' | 'firing' }> }>('/api/v1/alerts')).alerts,
  };
}
