import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin, ITopicConfig } from 'kafkajs';

/**
 * Creates the benchmark's own topics and waits until each answers for its
 * offsets. kafkajs's `waitForLeaders` retries LEADER_NOT_AVAILABLE only:
 * right after creation a broker may still say UNKNOWN_TOPIC_OR_PARTITION,
 * which failed the quick benchmark of 2026-12-06 at measure 3.
 */
export async function createBenchTopics(admin: Admin, topics: ITopicConfig[], timeoutMs = 20_000): Promise<void> {
  await admin.createTopics({ waitForLeaders: false, topics });
  const deadline = Date.now() + timeoutMs;
  for (const { topic } of topics) {
    for (;;) {
      try {
        await admin.fetchTopicOffsets(topic);
        break;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`topic ${topic} not ready after ${timeoutMs} ms: ${(err as Error).message}`);
        await sleep(200);
      }
    }
  }
}
