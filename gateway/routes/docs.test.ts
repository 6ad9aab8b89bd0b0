import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { peerApiDocument, publicApiDocument } from '../../contract/openapi.ts';
import { parseTopology } from '../../federation/index.ts';
import { createApp, createPeerApp } from '../app.ts';
import type { GatewayDeps } from '../deps.ts';

/** Every route the apps mount is in its document, and every documented route is mounted. */
const topology = parseTopology(JSON.parse(readFileSync(new URL('../../topology.json', import.meta.url), 'utf8')));
const deps = {
  topology,
  site: 'cloud-a',
  log: pino({ level: 'silent' }),
  metrics: { published() {}, rejected() {}, publishSeconds() {}, batch() {}, response() {}, render: async () => ({ contentType: 'text/plain', body: '' }) },
  limits: { maxBodyBytes: 4096, maxBatchEvents: 10 },
} as unknown as GatewayDeps;

type Routed = { routes: { method: string; path: string }[] };
const mounted = (app: Routed) =>
  [
    ...new Set(
      app.routes
        .filter((r) => r.method !== 'ALL')
        .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:([A-Za-z]+)/g, '{$1}').replace(/\/\*$/, '/{path}')}`),
    ),
  ].sort();
const documented = (doc: { paths?: Record<string, object> }) =>
  Object.entries(doc.paths ?? {})
    .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`))
    .sort();

describe('API documents cover every route', () => {
  it('public app', () => expect(mounted(createApp(deps) as unknown as Routed)).toEqual(documented(publicApiDocument('cloud-a'))));
  it('peer app', () => expect(mounted(createPeerApp(deps) as unknown as Routed)).toEqual(documented(peerApiDocument('cloud-a'))));
});

describe('/docs', () => {
  const app = createApp(deps);
  it('renders the documents with the renderer served from this gateway (no CDN)', async () => {
    const page = await (await app.request('/docs')).text();
    const sources = [...page.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(sources.length).toBeGreaterThan(0);
    for (const src of sources) {
      expect(src.startsWith('/docs/assets/'), src).toBe(true);
      const res = await app.request(src);
      expect(res.status, src).toBe(200);
      expect((await res.arrayBuffer()).byteLength, src).toBeGreaterThan(1000);
    }
    for (const url of ['/openapi.json', '/openapi/peer.json', '/openapi/site.json']) {
      expect(page).toContain(url);
      expect((await (await app.request(url)).json()).openapi).toBe('3.1.0');
    }
  });
  it('answers an unknown asset with a problem', async () => {
    const res = await app.request('/docs/assets/../../package.json');
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
  });
});
