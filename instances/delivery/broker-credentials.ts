import { readFileSync } from 'node:fs';

/** `user:password` from a credentials file (topology `delivery.amqp|mqtt.credentialsFile`); undefined without a file. */
export function readCredentials(file: string | undefined): { username: string; password: string } | undefined {
  if (!file) return undefined;
  const text = readFileSync(file, 'utf8').trim();
  const colon = text.indexOf(':');
  if (colon <= 0) throw new Error(`${file}: write the broker credentials as user:password on one line`);
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** Resolves `promise`, or rejects after `ms` with `what`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
