import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { spawnJava, stopProcess } from '../../deploy/index.ts';
import { renderProperties, siteOf } from '../../federation/index.ts';
import { BENCH_ENV } from '../env.ts';
import type { PublishBench } from './federation.ts';
import { REPO_ROOT, STATE_DIR } from './federation.ts';

const POM = join(REPO_ROOT, 'bench', 'bridge', 'pom.xml');
const LIB = join(STATE_DIR, 'bridge', 'lib');

/** Copies the Strimzi Kafka Bridge and its classpath from Maven Central into .fedgate/bridge/lib; throws with Maven's reason. */
export async function fetchBridge(): Promise<string> {
  if (!existsSync(LIB) || readdirSync(LIB).length === 0) {
    try {
      await promisify(execFile)('mvn', ['-q', '-B', '-U', '-f', POM, 'dependency:copy-dependencies', `-DoutputDirectory=${LIB}`, '-DincludeScope=runtime'], {
        maxBuffer: 16 * 1024 * 1024,
      });
    } catch (err) {
      const out = `${(err as { stdout?: string }).stdout ?? ''}`;
      const reason = /Could not (?:find|resolve)[^\n]*/.exec(out)?.[0] ?? (err as Error).message.split('\n')[0];
      throw new Error(`the Strimzi Kafka Bridge could not be fetched from Maven Central: ${reason}`);
    }
  }
  return `${LIB}/*`;
}

/** Starts the bridge against `site`'s broker (site-local listener, acks=all), no auth; resolves with its URL and a stop function. */
export async function startBridge(
  fed: Pick<PublishBench, 'topology' | 'launcher' | 'runDir' | 'certsDir' | 'local'>,
  siteName: string,
  classpath: string,
  port: number,
): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const site = siteOf(fed.topology, siteName);
  const dir = join(fed.runDir, 'bench-bridge');
  mkdirSync(dir, { recursive: true });
  const config = join(dir, 'application.properties');
  writeFileSync(
    config,
    renderProperties('Strimzi Kafka Bridge for the fedgate benchmark', [
      ['bridge.id', 'fedgate-bench'],
      ['kafka.bootstrap.servers', `${site.address}:${site.ports.kafka}`],
      ['kafka.producer.acks', 'all'],
      ['http.host', site.address],
      ['http.port', port],
    ]),
  );
  const pid = spawnJava({
    role: 'bench/bridge',
    runDir: fed.runDir,
    classpath,
    mainClass: 'io.strimzi.kafka.bridge.Application',
    args: [`--config-file=${config}`],
    jvmOptions: ['-Xms64m', '-Xmx384m', '-XX:+UseSerialGC'],
    logFile: join(dir, 'bridge.out'),
    pidFile: join(dir, 'bridge.pid'),
    env: BENCH_ENV.system,
  });
  const url = `http://${site.address}:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/healthy`, { signal: AbortSignal.timeout(1000) })).ok) break;
    } catch {
      // starting
    }
    if (Date.now() > deadline) {
      await stopProcess(pid, fed.runDir);
      throw new Error(`the bridge did not answer ${url}/healthy within 90 s; see ${join(dir, 'bridge.out')}`);
    }
    await sleep(500);
  }
  return { url, pid, stop: async () => void (await stopProcess(pid, fed.runDir)) };
}
