import { readFileSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Where a frame's code lives: a package, fedgate's own folder, Node itself, or the runtime (GC, idle). */
function ownerOf(url: string, name: string): string {
  if (!url) return `(${name || 'anonymous'})`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  if (pkg) return pkg;
  if (url.startsWith('node:')) return url;
  const own = /\/(gateway|instances|federation|deploy|certs|cli)\/[^/]+$/.exec(url);
  return own ? `fedgate ${own[0].slice(1)}` : url;
}

/**
 * Self time per package and per function from V8 CPU profiles
 * (`--cpu-prof`), heaviest first. Sampled time: each sample is charged to
 * the function on top of the stack.
 */
export function summarizeProfiles(dir: string, files: string[], roles: Map<number, string>): string {
  const lines: string[] = [];
  for (const file of files.filter((f) => f.endsWith('.cpuprofile'))) {
    const role = roles.get(Number(file.split('.')[3]));
    if (!role) continue;
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const selfUs = new Map<number, number>();
    profile.samples.forEach((id, i) => {
      selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
    });
    const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
    const idle = [...selfUs].filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)').reduce((a, [, us]) => a + us, 0);
    const busy = total - idle;
    const byOwner = new Map<string, number>();
    const byFunction = new Map<string, number>();
    for (const [id, us] of selfUs) {
      const f = byId.get(id)!.callFrame;
      if (f.functionName === '(idle)') continue;
      const owner = ownerOf(f.url, f.functionName);
      byOwner.set(owner, (byOwner.get(owner) ?? 0) + us);
      const fn = `${f.functionName || '(anonymous)'} ${owner}:${f.lineNumber + 1}`;
      byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
    }
    const top = (m: Map<string, number>, n: number) =>
      [...m]
        .sort((a, b) => b[1] - a[1])
        .slice(0, n)
        .map(([k, us]) => `  ${((100 * us) / busy).toFixed(1).padStart(5)} %  ${(us / 1e6).toFixed(2).padStart(7)} s  ${k}`);
    lines.push(
      `${role} (${file}): ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s on CPU`,
      'self time by owner:',
      ...top(byOwner, 15),
      'self time by function:',
      ...top(byFunction, 25),
      '',
    );
  }
  return lines.length ? lines.join('\n') : 'no CPU profiles were written';
}
