import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO, testRunRoot, testTopology } from './support/federation.ts';

/**
 * `fedgate prometheus run`: Debian's Prometheus with the rendered config and
 * fedgate's rules, in the foreground; Ctrl-C stops it. No federation is
 * needed to see it load the configuration: the targets are listed (down).
 */
const topology = testTopology(211, [
  { name: 'a', regions: ['eu'], countries: ['DE'] },
  { name: 'b', regions: ['us', 'eu'], countries: ['US'] },
]);

describe('fedgate prometheus run', () => {
  let home = '';
  let topologyFile = '';
  beforeAll(() => {
    home = join(testRunRoot(), `prom-cli-${randomUUID().slice(0, 8)}`);
    topologyFile = join(home, 'topology.json');
    mkdirSync(home, { recursive: true });
    writeFileSync(topologyFile, JSON.stringify(topology, null, 2));
  });
  afterAll(() => {
    // Whatever happened to the CLI, its Prometheus does not outlive the test.
    for (const pidFile of [join(home, 'run', 'prometheus', 'prometheus.pid'), join(home, 'second', 'run', 'prometheus', 'prometheus.pid')]) {
      if (!existsSync(pidFile)) continue;
      try {
        process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(home, { recursive: true, force: true });
  });

  it('serves the rendered targets and rules, and stops on Ctrl-C', async () => {
    const listen = '127.211.0.1:19091';
    const child = spawn(
      process.execPath,
      [join(REPO, 'bin/fedgate.mjs'), 'prometheus', 'run', '--listen', listen, '--topology', topologyFile, '--home', home],
      {
        cwd: REPO,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
    try {
      const deadline = Date.now() + 30_000;
      while (!out.includes('Prometheus: http://') && Date.now() < deadline) await sleep(100);
      expect(out).toContain(`Prometheus: http://${listen}`);
      // The scrape manager lists the targets shortly after Prometheus is ready.
      let active: Array<{ labels: { job: string; site: string } }> = [];
      for (const until = Date.now() + 15_000; active.length < 8 && Date.now() < until; await sleep(250))
        active = ((await (await fetch(`http://${listen}/api/v1/targets`)).json()) as { data: { activeTargets: typeof active } }).data.activeTargets;
      expect(active.map((t) => `${t.labels.job}@${t.labels.site}`).sort()).toEqual([
        'fedgate-broker@a',
        'fedgate-broker@b',
        'fedgate-gateway@a',
        'fedgate-gateway@b',
        'fedgate-instance@a',
        'fedgate-instance@b',
        'fedgate-mm2@a',
        'fedgate-mm2@b',
      ]);
      const rules = (await (await fetch(`http://${listen}/api/v1/rules`)).json()) as { data: { groups: Array<{ rules: { name: string }[] }> } };
      // Every alert of rules.yml, as Prometheus loaded it.
      const written = (parse(readFileSync(join(REPO, 'deploy/prometheus/rules.yml'), 'utf8')) as { groups: { rules: { alert: string }[] }[] }).groups.flatMap(
        (g) => g.rules.map((r) => r.alert),
      );
      expect(written.length).toBeGreaterThanOrEqual(11);
      expect(
        rules.data.groups
          .flatMap((g) => g.rules)
          .map((r) => r.name)
          .sort(),
      ).toEqual(written.sort());

      // A second one on the same address fails and says why, rather than taking the first one's answers for its own.
      const second = spawn(
        process.execPath,
        [join(REPO, 'bin/fedgate.mjs'), 'prometheus', 'run', '--listen', listen, '--topology', topologyFile, '--home', join(home, 'second')],
        { cwd: REPO },
      );
      let secondErr = '';
      second.stderr.on('data', (d) => (secondErr += d));
      expect(await new Promise<number>((resolve) => second.on('close', (c) => resolve(c ?? -1)))).not.toBe(0);
      expect(secondErr).toContain(`Prometheus cannot listen on ${listen} (EADDRINUSE)`);
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    // Prometheus itself is gone too.
    expect(
      await fetch(`http://${listen}/-/ready`).then(
        () => 'up',
        () => 'gone',
      ),
    ).toBe('gone');
  });

  it('names the fix for a bad --listen', async () => {
    const child = spawn(
      process.execPath,
      [join(REPO, 'bin/fedgate.mjs'), 'prometheus', 'run', '--listen', 'nonsense', '--topology', topologyFile, '--home', home],
      {
        cwd: REPO,
      },
    );
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
    expect(code).toBe(2);
    expect(err).toContain('--listen takes HOST:PORT');
  });
});
