import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const here = dirname(fileURLToPath(import.meta.url));
const promtool = (...args: string[]) => {
  try {
    return { code: 0, out: execFileSync('promtool', args, { cwd: here, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) };
  } catch (err) {
    const e = err as { status?: number; stdout?: string; stderr?: string };
    return { code: e.status ?? -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
};

// promtool comes with Debian's prometheus package; the preflight names it when it is missing.
describe('alert rules (promtool)', () => {
  it('are valid rules', () => {
    const r = promtool('check', 'rules', 'rules.yml');
    expect(r.out).toContain('SUCCESS');
    expect(r.code).toBe(0);
  });

  it('fire on the series that should fire them, and only then (promtool test rules)', () => {
    const r = promtool('test', 'rules', 'rules.test.yml');
    expect(r.out).toContain('SUCCESS');
    expect(r.code).toBe(0);
  });

  it('every alert has a unit test that expects it to fire', () => {
    const rules = parse(readFileSync(join(here, 'rules.yml'), 'utf8')) as { groups: Array<{ rules: Array<{ alert: string }> }> };
    const tests = parse(readFileSync(join(here, 'rules.test.yml'), 'utf8')) as {
      tests: Array<{ alert_rule_test: Array<{ alertname: string; exp_alerts?: unknown[] }> }>;
    };
    const alerts = rules.groups.flatMap((g) => g.rules.map((r) => r.alert));
    const firing = new Set(tests.tests.flatMap((t) => t.alert_rule_test.filter((a) => (a.exp_alerts ?? []).length > 0).map((a) => a.alertname)));
    expect(alerts.length).toBeGreaterThanOrEqual(10);
    expect(alerts.filter((a) => !firing.has(a))).toEqual([]);
  });

  it('the rule tests can fail: a wrong expectation is reported', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedgate-rules-'));
    writeFileSync(join(dir, 'rules.yml'), readFileSync(join(here, 'rules.yml')));
    writeFileSync(join(dir, 'rules.test.yml'), readFileSync(join(here, 'rules.test.yml'), 'utf8').replace('site: cloud-a }', 'site: cloud-b }'));
    const r = (() => {
      try {
        execFileSync('promtool', ['test', 'rules', 'rules.test.yml'], { cwd: dir, stdio: 'pipe' });
        return 0;
      } catch (err) {
        return (err as { status: number }).status;
      }
    })();
    expect(r).not.toBe(0);
  });
});
