import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { createVerifier } from './verifier.ts';

const ISS = 'urn:fedgate:site:peer';
const AUD = 'urn:fedgate:federation:test';

async function keyPair(kid: string) {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
}
const sign = (key: CryptoKey, kid: string) =>
  new SignJWT({ scope: 'publish:price' })
    .setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' })
    .setIssuer(ISS)
    .setAudience(AUD)
    .setExpirationTime('5m')
    .sign(key);

describe('token verifier: fetching an issuer’s keys', () => {
  it('fetches a peer’s key set once for 64 concurrent tokens with unknown kids, and once more after 30 s (single flight)', async () => {
    let now = Date.now();
    let fetches = 0;
    const real = await keyPair('real');
    const verify = createVerifier({
      audience: AUD,
      now: () => now,
      issuers: new Map([
        [
          ISS,
          async () => {
            fetches++;
            await new Promise((r) => setTimeout(r, 20));
            return { keys: [real.publicJwk] };
          },
        ],
      ]),
    });
    const stranger = await keyPair('x');
    const tokens = await Promise.all(Array.from({ length: 64 }, (_, i) => sign(stranger.privateKey, `kid-${i}`)));
    const first = await Promise.allSettled(tokens.map((t) => verify(t)));
    expect(first.every((r) => r.status === 'rejected')).toBe(true);
    expect(fetches).toBe(1);
    now += 31_000;
    const again = await Promise.allSettled(tokens.map((t) => verify(t)));
    expect(again.every((r) => r.status === 'rejected')).toBe(true);
    expect(fetches).toBe(2);
    // The real key still verifies, from the cached set.
    await expect(verify(await sign(real.privateKey, 'real'))).resolves.toMatchObject({ issuer: ISS });
    expect(fetches).toBe(2);
  });

  it('fetches again after a failed fetch instead of remembering the failure', async () => {
    let fail = true;
    const real = await keyPair('real');
    const verify = createVerifier({
      audience: AUD,
      issuers: new Map([
        [
          ISS,
          async () => {
            if (fail) throw new Error('peer unreachable');
            return { keys: [real.publicJwk] };
          },
        ],
      ]),
    });
    const token = await sign(real.privateKey, 'real');
    await expect(verify(token)).rejects.toThrow();
    fail = false;
    await expect(verify(token)).resolves.toMatchObject({ issuer: ISS });
  });
});
