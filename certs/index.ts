export * from './certs.ts';
export * from './jwt-keys.ts';
export * from './read-api-secret.ts';
