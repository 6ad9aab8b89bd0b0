import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseTopology } from '../federation/index.ts';
import { CERT_ROLES, CertsError, caKeyFile, certPaths, certSerial, initCerts, rotateCerts } from './certs.ts';

const topology = parseTopology(JSON.parse(readFileSync(new URL('../topology.json', import.meta.url), 'utf8')));
const root = mkdtempSync(join(tmpdir(), 'fedgate-certs-'));
const dir = join(root, 'certs');
const caKeyDir = join(root, 'ca-key');
afterAll(() => rmSync(root, { recursive: true, force: true }));

const x509 = (file: string, ...args: string[]) => execFileSync('openssl', ['x509', '-in', file, '-noout', ...args], { encoding: 'utf8' });

describe('certs init', () => {
  const first = initCerts({ dir, caKeyDir, topology, days: 30 });
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

  it('gives every certificate a distinct subject that is only its CN (what Strimzi tls-external users require)', () => {
    const subjects = topology.sites.flatMap((s) => CERT_ROLES.map((r) => x509(paths.role(s.name, r).cert, '-subject').trim()));
    expect(new Set(subjects).size).toBe(subjects.length);
    expect(x509(paths.role('onprem', 'gateway').cert, '-subject', '-nameopt', 'RFC2253').trim()).toBe('subject=CN=onprem.gateway.fedgate');
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
    const again = initCerts({ dir, caKeyDir, topology, days: 30 });
    expect(again.created).toEqual([]);
    expect(readFileSync(paths.caCert, 'utf8')).toBe(caBefore);

    const forced = initCerts({ dir, caKeyDir, topology, days: 30, force: true });
    expect(forced.created).toContain('ca');
    expect(readFileSync(paths.caCert, 'utf8')).not.toBe(caBefore);
    expect(execFileSync('openssl', ['verify', '-CAfile', paths.caCert, paths.role('cloud-a', 'mm2').cert], { encoding: 'utf8' })).toContain('OK');
  });

  it('refuses a nonsensical validity with a clear message', () => {
    expect(() => initCerts({ dir, caKeyDir, topology, days: 0 })).toThrow(CertsError);
    expect(() => initCerts({ dir, caKeyDir, topology, days: 0 })).toThrow(/--days must be a whole number/);
  });

  it('keeps the CA key out of the folder services are given', () => {
    const inDir = (d: string): string[] =>
      readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? inDir(join(d, e.name)) : [join(d, e.name)]));
    const files = inDir(dir);
    expect(files).toContain(paths.caCert);
    // No private key of the CA anywhere under the certificates folder: every key there is a leaf's.
    const caKey = readFileSync(caKeyFile(caKeyDir), 'utf8');
    expect(files.filter((f) => readFileSync(f, 'utf8').includes(caKey.trim()))).toEqual([]);
    expect(statSync(caKeyDir).mode & 0o077).toBe(0);
  });

  it('moves a CA key left inside the certificates folder by an earlier version', () => {
    renameSync(caKeyFile(caKeyDir), join(dir, 'ca', 'ca.key'));
    const lines: string[] = [];
    const again = initCerts({ dir, caKeyDir, topology, days: 30, log: (l) => lines.push(l) });
    expect(again.created).toEqual([]);
    expect(existsSync(join(dir, 'ca', 'ca.key'))).toBe(false);
    expect(existsSync(caKeyFile(caKeyDir))).toBe(true);
    expect(lines.join('\n')).toMatch(/moved the CA key/);
  });
});

describe('certs rotate', () => {
  const paths = certPaths(dir);
  const subjectAndSan = (f: string) => x509(f, '-subject', '-ext', 'subjectAltName');

  it("renews one site's leaves with new keys and serials, the same names, the same CA; other sites untouched", () => {
    initCerts({ dir, caKeyDir, topology, days: 30 });
    const ca = readFileSync(paths.caCert, 'utf8');
    const before = CERT_ROLES.map((r) => ({
      key: readFileSync(paths.role('cloud-b', r).key, 'utf8'),
      serial: certSerial(paths.role('cloud-b', r).cert),
      names: subjectAndSan(paths.role('cloud-b', r).cert),
    }));
    const otherSite = readFileSync(paths.role('cloud-a', 'broker').keystore, 'utf8');

    const rotated = rotateCerts({ dir, caKeyDir, topology, site: 'cloud-b', days: 10 });

    expect(rotated.map((r) => r.role)).toEqual([...CERT_ROLES]);
    CERT_ROLES.forEach((r, i) => {
      const files = paths.role('cloud-b', r);
      expect(rotated[i]!.serial).toBe(certSerial(files.cert));
      expect(rotated[i]!.serial).not.toBe(before[i]!.serial);
      expect(readFileSync(files.key, 'utf8')).not.toBe(before[i]!.key);
      expect(subjectAndSan(files.cert)).toBe(before[i]!.names);
      expect(execFileSync('openssl', ['verify', '-CAfile', paths.caCert, files.cert], { encoding: 'utf8' })).toContain('OK');
      expect(readFileSync(files.keystore, 'utf8')).toContain(readFileSync(files.cert, 'utf8'));
    });
    expect(readFileSync(paths.caCert, 'utf8')).toBe(ca);
    expect(readFileSync(paths.role('cloud-a', 'broker').keystore, 'utf8')).toBe(otherSite);
    expect(readdirSync(join(dir, 'cloud-b')).filter((f) => f.endsWith('.next'))).toEqual([]);
  });

  it('names the fix when there is no CA or no such site', () => {
    expect(() => rotateCerts({ dir: join(root, 'none'), caKeyDir: join(root, 'none-key'), topology, site: 'cloud-a' })).toThrow(
      /run `npx fedgate certs init` first/,
    );
    expect(() => rotateCerts({ dir, caKeyDir, topology, site: 'mars' })).toThrow(/unknown site "mars"; the topology has cloud-a/);
  });
});

describe('a gateway reached by name (endpoints.peer, on Kubernetes)', () => {
  it('answers to that name too', () => {
    const named = parseTopology({
      ...topology,
      sites: topology.sites.map(({ flows, ...s }) => ({
        ...s,
        flows,
        ...(s.name === 'cloud-a' ? { endpoints: { peer: 'gateway.cloud-a.fedgate.example:8443' } } : {}),
      })),
    });
    const namedDir = join(root, 'named');
    initCerts({ dir: join(namedDir, 'certs'), caKeyDir: join(namedDir, 'ca-key'), topology: named, days: 2 });
    const paths = certPaths(join(namedDir, 'certs'));
    expect(x509(paths.role('cloud-a', 'gateway').cert, '-ext', 'subjectAltName')).toContain('DNS:gateway.cloud-a.fedgate.example');
    expect(x509(paths.role('cloud-b', 'gateway').cert, '-ext', 'subjectAltName')).not.toContain('fedgate.example');
    expect(x509(paths.role('cloud-a', 'instance').cert, '-ext', 'subjectAltName')).not.toContain('fedgate.example');
  });
});
