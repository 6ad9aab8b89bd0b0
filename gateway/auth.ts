import type { MiddlewareHandler } from 'hono';
import { Problem } from '../contract/index.ts';
import { TokenError, type VerifiedToken } from './verifier.ts';

export type AuthEnv = { Variables: { token: VerifiedToken; requestId: string } };

/** Bearer-token authentication; the token itself is never logged. */
export function requireToken(verify: (token: string) => Promise<VerifiedToken>): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    const header = c.req.header('authorization');
    if (!header)
      throw new Problem(
        'missing-token',
        'send "Authorization: Bearer <token>"; `npx fedgate token --site <site> --scope publish:price` issues one',
        {},
        { 'www-authenticate': 'Bearer' },
      );
    const m = /^Bearer\s+([A-Za-z0-9._~+/=-]+)$/i.exec(header);
    if (!m)
      throw new Problem('invalid-token', 'the Authorization header is not "Bearer <token>"', {}, { 'www-authenticate': 'Bearer error="invalid_request"' });
    try {
      c.set('token', await verify(m[1]!));
    } catch (err) {
      if (err instanceof TokenError) throw new Problem('invalid-token', err.message, {}, { 'www-authenticate': 'Bearer error="invalid_token"' });
      throw err;
    }
    await next();
  };
}

/** After requireToken: the token must carry `scope`, or the answer is 403 insufficient-scope. */
export function requireScope(scope: string): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    if (!c.get('token').scopes.has(scope)) {
      throw new Problem('insufficient-scope', `the token lacks scope "${scope}"; \`npx fedgate token --site <site> --scope ${scope}\` issues one`, {
        requiredScope: scope,
      });
    }
    await next();
  };
}
