import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { jmxPasswordHash, renderJmxExporterConfig } from './jmx-exporter.ts';

describe('JMX exporter config', () => {
  it('stores the site secret only salted and hashed, in the exporter’s own hex form', () => {
    const config = parse(renderJmxExporterConfig('broker', 'the-site-secret', 'salt1')) as {
      httpServer: { authentication: { basic: Record<string, string> } };
      rules: unknown[];
    };
    const basic = config.httpServer.authentication.basic;
    expect(basic).toEqual({ username: 'prometheus', algorithm: 'SHA-256', salt: 'salt1', passwordHash: jmxPasswordHash('salt1', 'the-site-secret') });
    expect(JSON.stringify(config)).not.toContain('the-site-secret');
    expect(config.rules.length).toBeGreaterThan(3);
  });

  it('writes the hash as Java’s BigInteger prints it: no leading zeros', () => {
    // Find a salt whose digest starts with a zero nibble.
    let salt = 0;
    while (!createHash('sha256').update(`${salt}:pw`).digest('hex').startsWith('0')) salt++;
    const full = createHash('sha256').update(`${salt}:pw`).digest('hex');
    expect(jmxPasswordHash(String(salt), 'pw')).toBe(full.replace(/^0+/, ''));
    expect(jmxPasswordHash(String(salt), 'pw')).not.toMatch(/^0/);
  });
});
