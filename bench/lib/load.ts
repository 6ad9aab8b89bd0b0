import { spawn } from 'node:child_process';
import { join } from 'node:path';

const REPO_ROOT = join(import.meta.dirname, '..', '..');

export interface HttpLoadSpec {
  url: string;
  headers?: Record<string, string>;
  body: string;
  connections: number;
  durationSeconds?: number;
  amount?: number;
  /** Open loop: requests per second over all connections. */
  overallRate?: number;
  /** Sign this many tokens of `site` first and send each exactly once (the run is `count` requests). */
  uniqueTokens?: { count: number; certsDir: string; topologyFile: string; site: string };
}

export interface HttpLoadResult {
  requests: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  seconds: number;
  okPerSecond: number;
  /** autocannon's percentiles of request latency. */
  latencyMs: Record<'p1' | 'p2_5' | 'p10' | 'p25' | 'p50' | 'p75' | 'p90' | 'p97_5' | 'p99' | 'p99_9' | 'max', number>;
  generatorCpuSeconds: number;
  tokensSigned: number;
  signMs: number;
}

export interface KafkaLoadSpec {
  topologyFile: string;
  /** The certificates folder: the load connects as the site's admin. */
  certsDir: string;
  site: string;
  mode: 'raw' | 'distributor' | 'distributor-copy';
  topic: string;
  connections: number;
  batch: number;
  valueBytes: number;
  durationSeconds: number;
  /** The publish input the distributor mode completes and writes. */
  event: unknown;
}

export interface KafkaLoadResult {
  events: number;
  seconds: number;
  eventsPerSecond: number;
  sendLatencyMs: { p50: number; p99: number };
  cpuSeconds: number;
}

/** Runs a generator script in its own Node process and returns the JSON line it prints. */
function runChild<T>(script: string, spec: unknown, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'bench', 'load', script), JSON.stringify(spec)], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').at(-1);
      if (code === 0 && line) resolve(JSON.parse(line) as T);
      else reject(new Error(`${script} exited with ${code}: ${err.trim().split('\n').slice(-5).join('\n')}`));
    });
  });
}

export const httpLoad = (spec: HttpLoadSpec) => runChild<HttpLoadResult>('http-load.ts', spec, ((spec.durationSeconds ?? 120) + 180) * 1000);
export const kafkaLoad = (spec: KafkaLoadSpec) => runChild<KafkaLoadResult>('kafka-load.ts', spec, (spec.durationSeconds + 120) * 1000);
