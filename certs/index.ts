export * from './certs.ts';
export * from './jwt-keys.ts';
