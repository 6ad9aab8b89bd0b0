import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseTopology } from '../federation/index.ts';
import { CERT_ROLES, CertsError, certPaths, initCerts } from './certs.ts';

const topology = parseTopology(JSON.parse(readFileSync(new URL('../topology.json', import.meta.url), 'utf8')));
const dir = mkdtempSync(join(tmpdir(), 'fedgate-certs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const x509 = (file: string, ...args: string[]) => execFileSync('openssl', ['x509', '-in', file, '-noout', ...args], { encoding: 'utf8' });

describe('certs init', () => {
  const first = initCerts({ dir, topology, days: 30 });
  const paths = certPaths(dir);

  it('creates a CA and three certificates per site', () => {
    expect(first.created).toEqual(['ca', ...topology.sites.flatMap((s) => CERT_ROLES.map((r) => `${s.name}/${r}`))]);
  });

  it('writes PKCS#8 keys readable only by the owner', () => {
    const files = paths.role('cloud-a', 'broker');
    expect(readFileSync(files.key, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(statSync(files.key).mode & 0o077).toBe(0);
    expect(readFileSync(files.keystore, 'utf8')).toMatch(/BEGIN PRIVATE KEY[\s\S]+BEGIN CERTIFICATE[\s\S]+BEGIN CERTIFICATE/);
  });

  it('gives broker certificates a SAN with the site address, chained to the CA', () => {
    for (const site of topology.sites) {
      const cert = paths.role(site.name, 'broker').cert;
      expect(x509(cert, '-ext', 'subjectAltName')).toContain(`IP Address:${site.address}`);
      expect(execFileSync('openssl', ['verify', '-CAfile', paths.caCert, cert], { encoding: 'utf8' })).toContain('OK');
    }
  });

  it('gives every certificate a distinct subject', () => {
    const subjects = topology.sites.flatMap((s) => CERT_ROLES.map((r) => x509(paths.role(s.name, r).cert, '-subject').trim()));
    expect(new Set(subjects).size).toBe(subjects.length);
    expect(x509(paths.role('onprem', 'mm2').cert, '-ext', 'extendedKeyUsage')).toContain('TLS Web Client Authentication');
  });

  it('honours the validity in days', () => {
    const end = new Date(x509(paths.role('cloud-b', 'gateway').cert, '-enddate').split('=')[1]!.trim());
    const days = (end.getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29);
    expect(days).toBeLessThan(31);
  });

  it('keeps existing material on a second run, and replaces the CA only with force', () => {
    const caBefore = readFileSync(paths.caCert, 'utf8');
    const again = initCerts({ dir, topology, days: 30 });
    expect(again.created).toEqual([]);
    expect(readFileSync(paths.caCert, 'utf8')).toBe(caBefore);

    const forced = initCerts({ dir, topology, days: 30, force: true });
    expect(forced.created).toContain('ca');
    expect(readFileSync(paths.caCert, 'utf8')).not.toBe(caBefore);
    expect(execFileSync('openssl', ['verify', '-CAfile', paths.caCert, paths.role('cloud-a', 'mm2').cert], { encoding: 'utf8' })).toContain('OK');
  });

  it('refuses a nonsensical validity with a clear message', () => {
    expect(() => initCerts({ dir, topology, days: 0 })).toThrow(CertsError);
    expect(() => initCerts({ dir, topology, days: 0 })).toThrow(/--days must be a whole number/);
  });
});
