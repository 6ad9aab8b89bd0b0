export * from './certs.ts';
export * from './expiry.ts';
export * from './jwt-keys.ts';
export * from './metrics-secret.ts';
export * from './read-api-secret.ts';
export * from './webhook-secret.ts';
