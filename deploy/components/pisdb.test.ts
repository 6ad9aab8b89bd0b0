import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { letThrough } from './pisdb.ts';

describe('the PIS database run as another user', () => {
  const root = mkdtempSync(join(tmpdir(), 'fedgate-pisdb-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('lets that user enter (o+x, not list) every folder above its data folder, and changes nothing else', () => {
    const closed = join(root, 'runs');
    const data = join(closed, 'site', 'pis-db');
    mkdirSync(data, { recursive: true });
    chmodSync(closed, 0o700);
    chmodSync(join(closed, 'site'), 0o750);
    chmodSync(data, 0o700);
    const lines: string[] = [];
    letThrough(data, (l) => lines.push(l));
    expect(statSync(closed).mode & 0o777).toBe(0o701);
    expect(statSync(join(closed, 'site')).mode & 0o777).toBe(0o751);
    expect(statSync(data).mode & 0o777).toBe(0o700);
    expect(lines.some((l) => l.includes(closed))).toBe(true);
  });
});
