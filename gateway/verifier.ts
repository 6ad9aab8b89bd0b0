import { createLocalJWKSet, decodeJwt, errors, type JSONWebKeySet, type JWTPayload, jwtVerify } from 'jose';
import { JWT_ALG } from '../certs/index.ts';

export interface VerifiedToken {
  /** The token itself: forwarded on a failover write so the peer can verify the publisher. Never logged. */
  raw: string;
  issuer: string;
  subject: string;
  scopes: Set<string>;
  expiresAt: number;
}

const ACCESS_TOKEN_TYPES = new Set(['jwt', 'at+jwt']);

export class TokenError extends Error {
  override name = 'TokenError';
}

export interface VerifierOptions {
  audience: string;
  /** Each trusted issuer, bound to a source of *its own* keys. */
  issuers: Map<string, () => Promise<JSONWebKeySet>>;
  /** Verified tokens remembered (by the exact token text) until they expire. */
  cacheSize?: number;
  now?: () => number;
}

/**
 * Verifies bearer tokens. The unverified `iss` only selects which key set to
 * try; the signature must then verify with *that issuer's* keys, so a token
 * claiming site A but signed with B's key fails. The algorithm is pinned
 * (ES256: no `none`, no HS256 made from a public key), and `exp`, `iss` and
 * `aud` are required.
 */
export function createVerifier(options: VerifierOptions) {
  const now = options.now ?? Date.now;
  const cacheSize = options.cacheSize ?? 10_000;
  const cache = new Map<string, VerifiedToken>();
  const keySets = new Map<string, { get: ReturnType<typeof createLocalJWKSet>; loadedAt: number }>();

  /** Key sets being fetched, per issuer: concurrent requests share one fetch (single flight). */
  const loading = new Map<string, Promise<{ get: ReturnType<typeof createLocalJWKSet>; loadedAt: number }>>();

  async function keysOf(issuer: string, refresh: boolean) {
    const source = options.issuers.get(issuer);
    if (!source) throw new TokenError(`issuer "${issuer}" is not trusted here`);
    const known = keySets.get(issuer);
    // A refresh (unknown kid: a peer rotated) at most every 30 s per issuer.
    if (known && !(refresh && now() - known.loadedAt > 30_000)) return known.get;
    let load = loading.get(issuer);
    if (!load) {
      load = source()
        .then((jwks) => {
          const fresh = { get: createLocalJWKSet(jwks), loadedAt: now() };
          keySets.set(issuer, fresh);
          return fresh;
        })
        .finally(() => loading.delete(issuer));
      loading.set(issuer, load);
    }
    return (await load).get;
  }

  async function verifyWith(token: string, issuer: string, refresh: boolean): Promise<JWTPayload> {
    const { payload, protectedHeader } = await jwtVerify(token, await keysOf(issuer, refresh), {
      algorithms: [JWT_ALG],
      issuer,
      audience: options.audience,
      requiredClaims: ['exp', 'iss', 'aud'],
      currentDate: new Date(now()),
    });
    // Explicit typing (RFC 8725 §3.11): a token of another kind (a SET, say) signed with the same key is not an access token.
    const typ = protectedHeader.typ?.toLowerCase().replace(/^application\//, '');
    if (!typ || !ACCESS_TOKEN_TYPES.has(typ))
      throw new TokenError(`the token's typ must be JWT or at+jwt (got ${protectedHeader.typ === undefined ? 'none' : JSON.stringify(protectedHeader.typ)})`);
    return payload;
  }

  return async function verify(token: string): Promise<VerifiedToken> {
    const cached = cache.get(token);
    if (cached) {
      if (cached.expiresAt * 1000 > now()) {
        cache.delete(token);
        cache.set(token, cached);
        return cached;
      }
      cache.delete(token);
    }
    let claimed: JWTPayload;
    try {
      claimed = decodeJwt(token);
    } catch {
      throw new TokenError('not a JWT');
    }
    if (typeof claimed.iss !== 'string') throw new TokenError('the token has no issuer');
    let payload: JWTPayload;
    try {
      payload = await verifyWith(token, claimed.iss, false);
    } catch (err) {
      if (err instanceof errors.JWKSNoMatchingKey) {
        try {
          payload = await verifyWith(token, claimed.iss, true);
        } catch (again) {
          throw asTokenError(again);
        }
      } else {
        throw asTokenError(err);
      }
    }
    const verified: VerifiedToken = {
      raw: token,
      issuer: payload.iss!,
      subject: payload.sub ?? '',
      scopes: new Set(typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : []),
      expiresAt: payload.exp!,
    };
    cache.set(token, verified);
    if (cache.size > cacheSize) cache.delete(cache.keys().next().value!);
    return verified;
  };
}

function asTokenError(err: unknown): TokenError {
  if (err instanceof TokenError) return err;
  if (err instanceof errors.JWTExpired) return new TokenError('the token has expired');
  if (err instanceof errors.JWTClaimValidationFailed) return new TokenError(`claim "${err.claim}" is not valid: ${err.reason}`);
  if (err instanceof errors.JOSEAlgNotAllowed) return new TokenError('the token algorithm is not allowed (ES256 only)');
  if (err instanceof errors.JWSSignatureVerificationFailed || err instanceof errors.JWKSNoMatchingKey)
    return new TokenError("the signature does not verify with the issuer's keys");
  if (err instanceof errors.JOSEError) return new TokenError(err.message);
  return new TokenError('the token could not be verified');
}
