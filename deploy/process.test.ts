import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { exitOf, spawnCommand } from './process.ts';

const dir = mkdtempSync(join(tmpdir(), 'fedgate-process-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function ended(pid: number): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const how = exitOf(pid);
    if (how) return how;
    await sleep(50);
  }
  throw new Error(`pid ${pid} did not end`);
}

const files = (role: string) => ({ role, logFile: join(dir, `${role}.log`), pidFile: join(dir, `${role}.pid`) });

describe('how a spawned process ended', () => {
  it('names an exit code and a signal, and says nothing of a process that still runs', async () => {
    const exits = spawnCommand({ command: 'sh', args: ['-c', 'exit 3'] }, files('exits'));
    expect(await ended(exits)).toBe('exited with code 3');

    const runs = spawnCommand({ command: 'sleep', args: ['30'] }, files('runs'));
    await sleep(100);
    expect(exitOf(runs)).toBeNull();
    process.kill(runs, 'SIGKILL');
    // Not an OOM kill: no kernel log line names it.
    expect(await ended(runs)).toBe('was killed by SIGKILL');
    expect(exitOf(1)).toBeNull();
  });
});
