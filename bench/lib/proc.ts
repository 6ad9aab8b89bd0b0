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

/** A process and every process below it (by parent pid): PostgreSQL's backends leave the postmaster's process group. */
export function withDescendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const ppid = Number(statFields(Number(d))?.[1]);
    if (!children.has(ppid)) children.set(ppid, []);
    children.get(ppid)!.push(Number(d));
  }
  const out: number[] = [];
  const walk = (p: number) => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(pid);
  return out;
}

export function totalRss(pids: number[]): number {
  return pids.reduce((sum, pid) => sum + (rssOf(pid) ?? 0), 0);
}

export const MiB = 1024 * 1024;
