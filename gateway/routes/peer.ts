import { Hono } from 'hono';
import { z } from 'zod';
import { Problem, ProductIdSchema } from '../../contract/index.ts';
import type { GatewayDeps } from '../deps.ts';

interface TlsSocketLike {
  getPeerCertificate?: () => { subject?: { CN?: string } };
}

/**
 * Routes of the peer listener. TLS already required a client certificate
 * from the federation CA; here the certificate must also be a gateway's
 * (CN `<site>.gateway.fedgate`), not, say, an MM2 node's.
 */
const CatalogRequestSchema = z.object({ ids: z.array(ProductIdSchema).min(1).max(1000) }).strict();

export function peerRoutes(deps: GatewayDeps) {
  const app = new Hono<{ Bindings: { incoming?: { socket?: TlsSocketLike } }; Variables: { caller: string } }>();
  app.get('/.well-known/jwks.json', async (c) => c.json(await deps.jwks()));
  app.use('/peer/*', async (c, next) => {
    const cn = c.env?.incoming?.socket?.getPeerCertificate?.()?.subject?.CN;
    const caller = cn ? /^([a-z][a-z0-9-]*)\.gateway\.fedgate$/.exec(cn)?.[1] : undefined;
    if (!caller) throw new Problem('invalid-token', 'peer calls need a gateway client certificate of the federation');
    c.set('caller', caller);
    await next();
  });
  // Enrichment: the PIS catalog, answered by the PIS site's gateway to the other gateways.
  app.post('/peer/v1/catalog', async (c) => {
    if (!deps.catalogLookup) throw new Problem('not-found', `the PIS catalog is not at ${deps.site}`);
    const parsed = CatalogRequestSchema.safeParse(await c.req.json().catch(() => null));
    if (!parsed.success) throw new Problem('invalid-query', 'send {"ids": [product ids]}, at most 1,000');
    return c.json({ entries: Object.fromEntries(await deps.catalogLookup(parsed.data.ids)) });
  });
  app.post('/peer/v1/publish', async (c) => c.json(await deps.acceptFromPeer(await c.req.json().catch(() => null), c.get('caller'))));
  app.get('/peer/v1/site/*', async (c) => {
    const path = c.req.path.slice('/peer/v1/site'.length);
    const query = new URL(c.req.url).search;
    const res = await deps.instanceFetch(`${path}${query}`);
    return c.body(await res.text(), res.status as 200, { 'content-type': res.headers.get('content-type') ?? 'application/json' });
  });
  return app;
}
