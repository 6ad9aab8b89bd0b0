import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { type CdsRuntime, cdsDir, cdsOptions } from '../deploy/jvm-cds.ts';
import { TEST_ENV } from './support/env.ts';

// A real JVM writes the class list and a real `java -Xshare:dump` makes the archive: the classpath is an empty
// folder, so the archive holds the JDK's classes that `java -version` loads.
const root = mkdtempSync(join(tmpdir(), 'fedgate-cds-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function runtime(name: string, lines: string[]): CdsRuntime {
  const classpath = join(root, name, 'classes');
  mkdirSync(classpath, { recursive: true });
  return { stateDir: join(root, name), classpath, env: TEST_ENV.system, log: (l) => lines.push(l), handoutMs: 0 };
}

function java(options: string[], classpath: string) {
  return spawnSync('java', ['-XX:+UseSerialGC', ...options, '-cp', classpath, '-version'], { encoding: 'utf8' });
}

async function until(what: string, check: () => boolean, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

describe('class-data archives for the Kafka JVMs', () => {
  it('has the first JVM list its classes, dumps the archive from that list in the background, then maps it', async () => {
    const lines: string[] = [];
    const rt = runtime('flow', lines);
    const first = cdsOptions(rt, 'broker');
    expect(first).toHaveLength(1);
    expect(first[0]).toMatch(/^-XX:DumpLoadedClassList=.*broker-[0-9a-f]{16}\.classlist-[0-9a-f]{8}$/);
    expect(java(first, rt.classpath).status).toBe(0);
    const list = first[0]!.split('=')[1]!;
    expect(readFileSync(list, 'utf8')).toMatch(/^java\/lang\/Object/m);

    // The list's JVM has exited: the next start begins the dump and runs without an archive meanwhile.
    expect(cdsOptions(rt, 'broker')).toEqual([]);
    expect(lines.join('\n')).toMatch(/making the broker JVMs' class-data archive in the background/);
    const dir = cdsDir(rt.stateDir);
    // While the dump runs, nothing else is handed out (its command line names the archive).
    expect(cdsOptions(rt, 'broker')).toEqual([]);
    await until('the archive', () => readdirSync(dir).some((f) => f.endsWith('.jsa')));

    const mapped = cdsOptions(rt, 'broker');
    expect(mapped).toHaveLength(1);
    expect(mapped[0]).toMatch(/^-XX:SharedArchiveFile=.*broker-[0-9a-f]{16}\.jsa$/);
    // -Xshare:on fails the JVM when it cannot map the archive.
    const run = java(['-Xshare:on', ...mapped], rt.classpath);
    expect(run.stderr).toMatch(/sharing/);
    expect(run.status).toBe(0);
    // The list is gone once the archive is there; no partial file is left.
    expect(readdirSync(dir).sort()).toEqual([mapped[0]!.split('/').pop()]);
    // Another kind has its own list.
    expect(cdsOptions(rt, 'mm2')[0]).toMatch(/DumpLoadedClassList=.*mm2-/);
  });

  it('hands out one class list at a time, within the hand-out window', () => {
    const rt = { ...runtime('window', []), handoutMs: 60_000 };
    expect(cdsOptions(rt, 'connect')[0]).toMatch(/DumpLoadedClassList/);
    // A second site's node of the kind, before the first JVM is in /proc.
    expect(cdsOptions(rt, 'connect')).toEqual([]);
  });

  it('records a failed dump and stops trying until the file is deleted', async () => {
    const lines: string[] = [];
    const rt = runtime('failed', lines);
    const first = cdsOptions(rt, 'mm2');
    const list = first[0]!.split('=')[1]!;
    writeFileSync(list, 'this is not a class list @@@\n');
    expect(cdsOptions(rt, 'mm2')).toEqual([]);
    const dir = cdsDir(rt.stateDir);
    await until('the failure record', () => readdirSync(dir).some((f) => f.endsWith('.failed')));
    const failed = readdirSync(dir).find((f) => f.endsWith('.failed'))!;
    expect(readFileSync(join(dir, failed), 'utf8').length).toBeGreaterThan(0);
    expect(readdirSync(dir).some((f) => f.includes('.jsa'))).toBe(false);
    expect(cdsOptions(rt, 'mm2')).toEqual([]);
    expect(existsSync(join(dir, failed))).toBe(true);
  });
});
