import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeLog4j } from './component.ts';

describe('JVM log config', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedgate-log4j-'));
  const props = (file: string) =>
    Object.fromEntries(
      readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => l.split(/=(.*)/s).slice(0, 2)),
    );

  it('writes to a rolling file by default', () => {
    writeLog4j(join(dir, 'file.properties'), '/var/log/broker.log');
    expect(props(join(dir, 'file.properties'))).toMatchObject({
      'log4j.rootLogger': 'INFO, out',
      'log4j.appender.out': 'org.apache.log4j.RollingFileAppender',
      'log4j.appender.out.File': '/var/log/broker.log',
    });
  });

  it('writes to stdout when a container asks (`run … --log-stdout`)', () => {
    writeLog4j(join(dir, 'stdout.properties'), null);
    const p = props(join(dir, 'stdout.properties'));
    expect(p).toMatchObject({ 'log4j.appender.out': 'org.apache.log4j.ConsoleAppender', 'log4j.appender.out.Target': 'System.out' });
    expect(p['log4j.appender.out.File']).toBeUndefined();
  });
});
