import { siteSecret } from './read-api-secret.ts';

/** The file, beside each site's certificates, that holds the site's scrape credential. */
export const METRICS_SECRET_FILE = 'metrics.secret';

/**
 * The scrape credential of a site: a random bearer secret in the site's
 * git-ignored secrets folder (`<certsDir>/<site>/metrics.secret`, mode 0600).
 * It opens /metrics of the site's gateway and instance and nothing else, so
 * Prometheus holds no token that can publish or read events. Prometheus reads
 * it from that file at every scrape (`credentials_file`).
 */
export function metricsSecret(secretsDir: string, site: string): string {
  return siteSecret(secretsDir, site, METRICS_SECRET_FILE);
}
