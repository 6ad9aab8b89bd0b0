import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { fetchKafka, findManaged, stopProcess } from '../../deploy/index.ts';
import { TEST_ENV } from './env.ts';
import { STATE_DIR } from './paths.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** This vitest run's folder: every test federation's run folder lives under it. */
    testRunRoot: string;
  }
}

let root = '';

/** Fetches Kafka once for the whole run, and gives the run its own folder. */
export async function setup(project: TestProject): Promise<void> {
  root = join(STATE_DIR, 'test-runs', randomUUID().slice(0, 8));
  project.provide('testRunRoot', root);
  await fetchKafka(STATE_DIR, (line) => console.log(`[fedgate test setup] ${line}`));
}

/**
 * No process started by this run may outlive it. Each test stops its own
 * federation; anything of this run still running here is an orphan: it is
 * killed, and the run fails. Other runs (another vitest at the same time)
 * are not touched: their folders differ.
 */
export async function teardown(): Promise<void> {
  const orphans = findManaged(root);
  for (const p of orphans) await stopProcess(p.pid, p.runDir, { hard: true });
  if (orphans.length > 0) {
    throw new Error(`orphan processes were left running by the tests: ${orphans.map((o) => `${o.role} (pid ${o.pid})`).join(', ')}`);
  }
  if (!TEST_ENV.FEDGATE_KEEP_TEST_RUNS) rmSync(root, { recursive: true, force: true });
}
