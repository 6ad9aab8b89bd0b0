/**
 * fedgate's gateway side by side with the seed documents' own design (a
 * FastAPI producer on librdkafka doing identical work) and with the same
 * broker's ceilings, on a broker and gateway of its own:
 *
 *   npm run bench:peer [-- --quick]
 *
 * `npm run bench` runs the same measure (bench/lib/peer-bench.ts) on its
 * publish bench, after measures 1-4. Prints a table and writes
 * bench/results/peer.json. Never part of `npm test`.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { STATE_DIR, startPublishBench } from './lib/federation.ts';
import { checkPeerPrerequisites, runPeerBench } from './lib/peer-bench.ts';

const quick = process.argv.includes('--quick');
const say = (line: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

await checkPeerPrerequisites();
const runDir = join(STATE_DIR, 'bench-runs', `peer-${Date.now()}`);
say('starting one broker (site pub), its topics and its gateway');
const pb = await startPublishBench({ runDir, log: say });
try {
  await runPeerBench(pb, { quick, runDir: join(runDir, 'peer'), log: say });
} finally {
  await pb.stop();
}
rmSync(runDir, { recursive: true, force: true });
