import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, importJWK, type JSONWebKeySet, type JWK, SignJWT } from 'jose';
import type { Topology } from '../federation/index.ts';

/**
 * Each site is its own JWT issuer with its own signing keys (ES256). Keys
 * are generated on first use into the site's git-ignored secrets folder,
 * never logged, and rotated by `kid`: rotation adds a key and makes it
 * current; older public keys stay in the JWKS so tokens they signed verify
 * until they expire.
 */
export const JWT_ALG = 'ES256';
export const PUBLISH_SCOPES = ['publish:price', 'publish:discount', 'publish:country'] as const;
/** Reading the federated view (stats, traces, history, dead letters, the live stream) and scraping /metrics. */
export const READ_SCOPE = 'read:federation';
export const METRICS_SCOPE = 'read:metrics';
/** Opens GET /v1/subscribe at any gateway: the business events that reach that gateway's site. */
export const SUBSCRIBE_SCOPE = 'subscribe:events';
/** Starts, follows and cancels replays of stored history at a site (gateway/replay.ts). */
export const REPLAY_SCOPE = 'replay:events';
export const SCOPES = [...PUBLISH_SCOPES, READ_SCOPE, METRICS_SCOPE, SUBSCRIBE_SCOPE, REPLAY_SCOPE] as const;
export type Scope = (typeof SCOPES)[number];

export function issuerOf(site: string): string {
  return `urn:fedgate:site:${site}`;
}
/** Every gateway of the federation accepts tokens for this audience. */
export function audienceOf(topology: Topology): string {
  return `urn:fedgate:federation:${topology.federation}`;
}

interface KeyFile {
  current: string;
  keys: Array<{ kid: string; createdAt: string; privateJwk: JWK; publicJwk: JWK }>;
}

function keyFilePath(secretsDir: string, site: string): string {
  return join(secretsDir, site, 'jwt-keys.json');
}

function writeKeyFile(file: string, data: KeyFile): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify(data, null, 2), { mode: 0o600 });
  renameSync(tmp, file);
}

async function newKey(): Promise<KeyFile['keys'][number]> {
  const { privateKey, publicKey } = await generateKeyPair(JWT_ALG, { extractable: true });
  const kid = `${new Date().toISOString().slice(0, 10)}-${randomUUID().slice(0, 8)}`;
  const common = { kid, alg: JWT_ALG, use: 'sig' };
  return {
    kid,
    createdAt: new Date().toISOString(),
    privateJwk: { ...(await exportJWK(privateKey)), ...common },
    publicJwk: { ...(await exportJWK(publicKey)), ...common },
  };
}

/** The site's key file, created with one key if missing. */
export async function ensureSigningKeys(secretsDir: string, site: string): Promise<KeyFile> {
  const file = keyFilePath(secretsDir, site);
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as KeyFile;
  mkdirSync(join(secretsDir, site), { recursive: true, mode: 0o700 });
  const key = await newKey();
  const data: KeyFile = { current: key.kid, keys: [key] };
  writeKeyFile(file, data);
  return data;
}

/** Adds a new signing key and makes it current; returns its kid. */
export async function rotateSigningKey(secretsDir: string, site: string): Promise<string> {
  const data = await ensureSigningKeys(secretsDir, site);
  const key = await newKey();
  writeKeyFile(keyFilePath(secretsDir, site), { current: key.kid, keys: [...data.keys, key] });
  return key.kid;
}

export async function publicJwks(secretsDir: string, site: string): Promise<JSONWebKeySet> {
  const data = await ensureSigningKeys(secretsDir, site);
  return { keys: data.keys.map((k) => k.publicJwk) };
}

export interface TokenRequest {
  secretsDir: string;
  topology: Topology;
  site: string;
  scopes: string[];
  subject?: string;
  /** Lifetime in seconds. */
  ttlSeconds?: number;
}

/** A development token from the site's current key. */
export async function issueToken(req: TokenRequest): Promise<string> {
  return (await tokenSigner(req))();
}

/**
 * Signs many tokens with the site's current key, imported once: each call
 * returns a new token (its own `jti` and `iat`). Load generators use it to
 * send a unique token per request.
 */
export async function tokenSigner(req: TokenRequest): Promise<() => Promise<string>> {
  const data = await ensureSigningKeys(req.secretsDir, req.site);
  const key = data.keys.find((k) => k.kid === data.current)!;
  const privateKey = await importJWK(key.privateJwk, JWT_ALG);
  return () =>
    new SignJWT({ scope: req.scopes.join(' ') })
      .setProtectedHeader({ alg: JWT_ALG, kid: key.kid, typ: 'JWT' })
      .setIssuer(issuerOf(req.site))
      .setAudience(audienceOf(req.topology))
      .setSubject(req.subject ?? `pis@${req.site}`)
      .setIssuedAt()
      .setJti(randomUUID())
      .setExpirationTime(`${req.ttlSeconds ?? 3600}s`)
      .sign(privateKey);
}
