import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { siteSecret } from './read-api-secret.ts';

/** The file of a webhook subscription's signing secret, in the site's secrets folder; the one it replaced keeps `.previous`. */
export const webhookSecretFile = (subscription: string) => `webhook-${subscription}.secret`;

/**
 * The signing secrets of a webhook subscription, newest first: the current
 * one (created on first use, mode 0600, git-ignored with the rest of the
 * site's secrets) and, after a rotation, the one it replaced, until
 * `retireWebhookSecret`. The instance signs with every one of them, so a
 * receiver can switch to the new secret at its own pace.
 */
export function webhookSecrets(secretsDir: string, site: string, subscription: string): string[] {
  const current = siteSecret(secretsDir, site, webhookSecretFile(subscription));
  const previous = join(secretsDir, site, `${webhookSecretFile(subscription)}.previous`);
  return existsSync(previous) ? [current, readFileSync(previous, 'utf8').trim()] : [current];
}

/** A new secret for the subscription; the current one stays valid (signed with too) until retired. Returns the new secret. */
export function rotateWebhookSecret(secretsDir: string, site: string, subscription: string): string {
  const file = join(secretsDir, site, webhookSecretFile(subscription));
  const current = siteSecret(secretsDir, site, webhookSecretFile(subscription));
  const next = `${file}.next`;
  writeFileSync(next, randomBytes(32).toString('base64url'), { mode: 0o600 });
  writeFileSync(`${file}.previous`, current, { mode: 0o600 });
  // The current file is replaced in one step: a reader never finds it missing (and never creates another).
  renameSync(next, file);
  return readFileSync(file, 'utf8').trim();
}

/** Stops signing with the secret a rotation replaced. */
export function retireWebhookSecret(secretsDir: string, site: string, subscription: string): void {
  rmSync(join(secretsDir, site, `${webhookSecretFile(subscription)}.previous`), { force: true });
}
