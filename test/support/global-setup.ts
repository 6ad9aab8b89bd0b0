import { fetchKafka, findManaged, stopProcess } from '../../deploy/index.ts';
import { STATE_DIR, TEST_RUNS } from './federation.ts';

/** Fetches Kafka once for the whole run (tests need it; unit tests don't mind). */
export async function setup(): Promise<void> {
  await fetchKafka(STATE_DIR, (line) => console.log(`[fedgate test setup] ${line}`));
}

/**
 * No JVM started by the suite may outlive it. Each test stops its own
 * federation; anything still running here is an orphan: it is killed, and
 * the run fails.
 */
export async function teardown(): Promise<void> {
  const orphans = findManaged(TEST_RUNS);
  for (const jvm of orphans) await stopProcess(jvm.pid, jvm.runDir, { hard: true });
  if (orphans.length > 0) {
    throw new Error(`orphan JVMs were left running by the tests: ${orphans.map((o) => `${o.role} (pid ${o.pid})`).join(', ')}`);
  }
}
