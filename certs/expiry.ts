import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CERT_ROLES, certPaths } from './certs.ts';

/**
 * When each certificate of a site expires, the CA's included: what the
 * certificate-expiry alert watches. Read from the files at each call, so a
 * renewal (`fedgate certs rotate`) shows at the next scrape. A file that is
 * missing or unreadable is left out (the caller's scrape still answers).
 */
export function certificateExpiries(certsDir: string, site: string): Array<{ name: string; notAfter: Date }> {
  const paths = certPaths(certsDir);
  const files: Array<[string, string]> = [['ca', paths.caCert], ...CERT_ROLES.map((role) => [role, paths.role(site, role).cert] as [string, string])];
  return files.flatMap(([name, file]) => {
    try {
      return [{ name, notAfter: new Date(new X509Certificate(readFileSync(file)).validTo) }];
    } catch {
      return [];
    }
  });
}
