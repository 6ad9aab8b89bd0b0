export * from './certs.ts';
