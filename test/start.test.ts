import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { findManaged } from '../deploy/index.ts';
import { TEST_ENV } from './support/env.ts';
import { REPO, testRunRoot, testTopology } from './support/federation.ts';

const execFileAsync = promisify(execFile);

/**
 * `npm start` as a new user meets it: the `start` command (what `npm start`
 * runs) prints dashboard URLs and a curl command; the dashboard answers, the
 * curl publishes, Ctrl-C stops everything. Run on the test's own addresses.
 */
describe('npm start, as a new user', () => {
  let child: ChildProcess | null = null;
  let home = '';

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    if (home) {
      await execFileAsync(process.execPath, [join(REPO, 'bin/fedgate.mjs'), 'down', '--hard', '--topology', join(home, 'topology.json'), '--home', home], {
        cwd: REPO,
      }).catch(() => {});
      if (findManaged(home).length === 0) rmSync(home, { recursive: true, force: true });
    }
  });

  it('prints where to look; the dashboard answers, the printed curl publishes, Ctrl-C stops everything', async () => {
    home = join(testRunRoot(), `start-${randomUUID().slice(0, 8)}`);
    mkdirSync(home, { recursive: true });
    const topology = testTopology(151, [
      { name: 'x', regions: ['eu'], countries: ['DE'] },
      { name: 'y', regions: ['us'], countries: ['US'] },
      { name: 'z', regions: ['apac'], countries: ['JP'] },
    ]);
    writeFileSync(join(home, 'topology.json'), JSON.stringify(topology, null, 2));

    child = spawn(process.execPath, [join(REPO, 'bin/fedgate.mjs'), 'start', '--rate', '10', '--topology', join(home, 'topology.json'), '--home', home], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<number>((resolve) => child!.on('close', (code) => resolve(code ?? -1)));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "fedgate is running" after 240 s:\n${stderr.slice(-3000)}`)), 240_000);
      const check = setInterval(() => {
        if (stdout.includes('Stop everything')) {
          clearTimeout(timer);
          clearInterval(check);
          resolve();
        }
      }, 200);
    });

    // Progress was visible for every step.
    for (const step of ['[1/5]', '[2/5]', '[3/5]', '[4/5]', '[5/5]']) expect(stderr).toContain(step);

    const dashboards = [...stdout.matchAll(/(http:\/\/[\d.]+:\d+\/dashboard)/g)].map((m) => m[1]!);
    expect(dashboards).toHaveLength(3);
    for (const url of dashboards) {
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('Live event flow');
    }

    const exportLine = /export TOKEN=(\S+)/.exec(stdout)?.[1];
    const curlLine = stdout
      .split('\n')
      .find((l) => l.trim().startsWith('curl '))!
      .trim();
    expect(exportLine).toBeTruthy();
    const { stdout: answer } = await execFileAsync('sh', ['-c', curlLine], { env: { ...TEST_ENV.system, TOKEN: exportLine! } });
    const body = JSON.parse(answer);
    expect(body.events[0]).toMatchObject({ writtenAt: 'x', routedTo: ['z'] });

    // The demo PIS is publishing through every gateway.
    // The printed token also reads the federated view (read:federation).
    const stats = await (
      await fetch(dashboards[0]!.replace('/dashboard', '/v1/federation/stats?windowSeconds=120'), { headers: { authorization: `Bearer ${exportLine}` } })
    ).json();
    expect(stats.sites.map((s: { site: string }) => s.site)).toEqual(['x', 'y', 'z']);

    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(findManaged(home)).toEqual([]);
    expect(stderr).toContain('stopped; the demo published');
    // The test's budget covers its own 240 s wait for the start, plus the checks and the stop (the default 180 s did not).
  }, 360_000);

  it('Ctrl-C while it is still starting stops everything it started (it used to exit at once and leave the brokers running)', async () => {
    const home2 = join(testRunRoot(), `start-int-${randomUUID().slice(0, 8)}`);
    mkdirSync(home2, { recursive: true });
    const topology = testTopology(155, [
      { name: 'x', regions: ['eu'], countries: ['DE'] },
      { name: 'y', regions: ['us'], countries: ['US'] },
    ]);
    writeFileSync(join(home2, 'topology.json'), JSON.stringify(topology, null, 2));
    const starting = spawn(
      process.execPath,
      [join(REPO, 'bin/fedgate.mjs'), 'start', '--no-demo', '--topology', join(home2, 'topology.json'), '--home', home2],
      {
        cwd: REPO,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    starting.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<number>((resolve) => starting.on('close', (code) => resolve(code ?? -1)));
    try {
      // Interrupt once the first brokers are starting.
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no broker starting after 120 s:\n${stderr.slice(-2000)}`)), 120_000);
        const check = setInterval(() => {
          if (/broker starting/.test(stderr)) {
            clearTimeout(timer);
            clearInterval(check);
            resolve();
          }
        }, 100);
      });
      expect(findManaged(home2).length).toBeGreaterThan(0);
      starting.kill('SIGINT');
      expect(await exited).toBe(130);
      expect(stderr).toContain('stopped before it was ready');
      expect(findManaged(home2)).toEqual([]);
    } finally {
      if (starting.exitCode === null) starting.kill('SIGKILL');
      await execFileAsync(process.execPath, [join(REPO, 'bin/fedgate.mjs'), 'down', '--hard', '--topology', join(home2, 'topology.json'), '--home', home2], {
        cwd: REPO,
      }).catch(() => {});
      if (findManaged(home2).length === 0) rmSync(home2, { recursive: true, force: true });
    }
  });
});
