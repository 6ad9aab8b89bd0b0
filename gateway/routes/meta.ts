import { readFileSync } from 'node:fs';
import { Hono, type MiddlewareHandler } from 'hono';
import { isBearerSecret, METRICS_SCOPE } from '../../certs/index.ts';
import { type AuthEnv, requireScope, requireToken } from '../auth.ts';
import type { GatewayDeps } from '../deps.ts';
import { docsRoutes } from './docs.ts';

const DASHBOARD = readFileSync(new URL('../dashboard.html', import.meta.url), 'utf8');

export function metaRoutes(deps: GatewayDeps) {
  const app = new Hono<AuthEnv>();
  const dashboard = DASHBOARD.replaceAll('{{SITE}}', deps.site).replace(
    '{{SITES}}',
    // Inside a JSON script element: `<` escaped, so no label can close the element.
    JSON.stringify(deps.topology.sites.map((s) => ({ name: s.name, label: s.label ?? s.name, url: `http://${s.address}:${s.ports.gateway}` }))).replaceAll(
      '<',
      '\\u003c',
    ),
  );
  app.get('/', (c) => c.redirect('/dashboard'));
  app.get('/dashboard', (c) => c.html(dashboard));
  app.get('/healthz', (c) => c.json({ site: deps.site, ok: true }));
  app.route('/', docsRoutes(deps.site));
  app.get('/.well-known/jwks.json', async (c) => c.json(await deps.jwks()));
  // Two scrape credentials: the site's metrics secret (certs/metrics-secret.ts; what the rendered prometheus.yml
  // sends from a credentials file), or a token with read:metrics.
  const metricsSecret: MiddlewareHandler<AuthEnv> = async (c, next) => {
    if (isBearerSecret(c.req.header('authorization'), deps.metricsSecret)) {
      const m = await deps.metrics.render();
      return c.body(m.body, 200, { 'content-type': m.contentType });
    }
    await next();
  };
  app.get('/metrics', metricsSecret, requireToken(deps.verify), requireScope(METRICS_SCOPE), async (c) => {
    const m = await deps.metrics.render();
    return c.body(m.body, 200, { 'content-type': m.contentType });
  });
  return app;
}
