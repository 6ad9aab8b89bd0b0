import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Hono } from 'hono';
import { Problem } from '../../contract/index.ts';
import { peerApiDocument, publicApiDocument, readApiDocument } from '../../contract/openapi.ts';

/** Swagger UI's files, served from the installed package: the docs work offline, with no CDN. */
const ASSETS: Record<string, { file: string; type: string }> = {
  'swagger-ui.css': { file: 'swagger-ui.css', type: 'text/css; charset=utf-8' },
  'swagger-ui-bundle.js': { file: 'swagger-ui-bundle.js', type: 'text/javascript; charset=utf-8' },
  'swagger-ui-standalone-preset.js': { file: 'swagger-ui-standalone-preset.js', type: 'text/javascript; charset=utf-8' },
};
const SWAGGER_DIR = (createRequire(import.meta.url)('swagger-ui-dist') as { getAbsoluteFSPath(): string }).getAbsoluteFSPath();

/** The three API documents (generated from the validating schemas) and /docs, which renders them with Swagger UI. */
export function docsRoutes(site: string) {
  const app = new Hono();
  const docs = { public: publicApiDocument(site), peer: peerApiDocument(site), site: readApiDocument(site) };
  const assets = new Map(Object.entries(ASSETS).map(([name, a]) => [name, { body: readFileSync(join(SWAGGER_DIR, a.file)), type: a.type }]));
  app.get('/openapi.json', (c) => c.json(docs.public));
  app.get('/openapi/peer.json', (c) => c.json(docs.peer));
  app.get('/openapi/site.json', (c) => c.json(docs.site));
  app.get('/docs/assets/:file', (c) => {
    const asset = assets.get(c.req.param('file'));
    if (!asset) throw new Problem('not-found', 'no such file of the docs renderer');
    return c.body(asset.body, 200, { 'content-type': asset.type, 'cache-control': 'public, max-age=86400' });
  });
  const page = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>fedgate API · ${site}</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="docs"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script><script src="/docs/assets/swagger-ui-standalone-preset.js"></script>
<script>
window.ui = SwaggerUIBundle({
  dom_id: '#docs',
  urls: [{ url: '/openapi.json', name: 'public API' }, { url: '/openapi/peer.json', name: 'peer API (mTLS)' }, { url: '/openapi/site.json', name: 'site read API' }],
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: 'StandaloneLayout',
});
</script></body></html>`;
  app.get('/docs', (c) => c.html(page));
  return app;
}
