import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { rssOf, statFields } from '../../deploy/index.ts';

const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** User + system CPU seconds a process has used so far (10 ms resolution). */
export function cpuSecondsOf(pid: number): number {
  const f = statFields(pid);
  if (!f) throw new Error(`process ${pid} is gone`);
  return (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND;
}

/** Pids whose process group is `pgid`. */
export function processGroup(pgid: number): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((pid) => Number(statFields(pid)?.[2]) === pgid);
}

export function totalRss(pids: number[]): number {
  return pids.reduce((sum, pid) => sum + (rssOf(pid) ?? 0), 0);
}

export const MiB = 1024 * 1024;
