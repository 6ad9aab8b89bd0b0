import { randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The credential of a site's read API: a random secret in the site's
 * git-ignored secrets folder (mode 0600), shared by the site's instance (which
 * requires it) and gateway (which sends it), and by the operator's tools
 * (drills, tests) that run where the secrets are. Created on first use; the
 * first writer wins, so a concurrent start cannot end with two secrets.
 */
export function readApiSecret(secretsDir: string, site: string): string {
  return siteSecret(secretsDir, site, 'read-api.secret');
}

/** A random secret of a site, in `<secretsDir>/<site>/<file>` (mode 0600): created on first use, and the first writer wins. */
export function siteSecret(secretsDir: string, site: string, file: string): string {
  const dir = join(secretsDir, site);
  const path = join(dir, file);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  try {
    writeFileSync(path, randomBytes(32).toString('base64url'), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return readFileSync(path, 'utf8').trim();
}

/** The header that carries it. */
export function readApiAuthorization(secret: string): { authorization: string } {
  return { authorization: `Bearer ${secret}` };
}

/** Constant-time check of an Authorization header against the secret. */
export function isReadApiAuthorization(header: string | undefined, secret: string): boolean {
  return isBearerSecret(header, secret);
}

/** Constant-time check of an Authorization header against a bearer secret. */
export function isBearerSecret(header: string | undefined, secret: string): boolean {
  const expected = Buffer.from(`Bearer ${secret}`);
  const given = Buffer.from(header ?? '');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
