import { EVENT_TYPES, PROBLEM_CODES } from '../contract/index.ts';

/** The OpenAPI 3.1 document of the public API, served at /openapi.json and rendered at /docs. */
export function openApiDocument(site: string) {
  const problem = { $ref: '#/components/schemas/Problem' };
  const problems = (...codes: number[]) =>
    Object.fromEntries(codes.map((c) => [String(c), { description: 'Problem (RFC 9457)', content: { 'application/problem+json': { schema: problem } } }]));
  const money = {
    type: 'object',
    properties: { currency: { type: 'string', example: 'EUR' }, amount: { type: 'string', example: '19.99' }, minor: { type: 'integer', example: 1999 } },
    required: ['currency'],
    description: 'exactly one of amount (decimal string) or minor (integer minor units); never a float',
  };
  return {
    openapi: '3.1.0',
    info: {
      title: `fedgate gateway (${site})`,
      version: '0.1.0',
      description:
        'Publish product events once, with a token of your site; fedgate routes them to exactly the sites that need them and shows the whole federation.',
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT (ES256, issued by a site of the federation)' } },
      schemas: {
        Problem: {
          type: 'object',
          properties: {
            type: { type: 'string' },
            title: { type: 'string' },
            status: { type: 'integer' },
            code: { type: 'string', enum: Object.keys(PROBLEM_CODES) },
            detail: { type: 'string' },
            requestId: { type: 'string' },
          },
          required: ['type', 'title', 'status', 'code', 'detail'],
        },
        Event: {
          type: 'object',
          description: 'CloudEvents 1.0 (structured JSON); id, time and traceparent are optional and kept when given',
          properties: {
            type: { type: 'string', enum: Object.values(EVENT_TYPES) },
            id: { type: 'string' },
            time: { type: 'string', format: 'date-time' },
            traceparent: { type: 'string' },
            data: {
              oneOf: [
                {
                  title: 'price',
                  type: 'object',
                  properties: { productId: { type: 'string' }, region: { type: 'string' }, price: money },
                  required: ['productId', 'region', 'price'],
                },
                {
                  title: 'discount',
                  type: 'object',
                  properties: {
                    productId: { type: 'string' },
                    discountId: { type: 'string' },
                    region: { type: 'string' },
                    percent: { type: 'string' },
                    amountOff: money,
                    active: { type: 'boolean' },
                  },
                  required: ['productId', 'discountId'],
                },
                {
                  title: 'country',
                  type: 'object',
                  properties: {
                    productId: { type: 'string' },
                    country: { type: 'string', example: 'DE' },
                    available: { type: 'boolean' },
                    reason: { type: 'string' },
                  },
                  required: ['productId', 'country', 'available'],
                },
              ],
            },
          },
          required: ['type', 'data'],
        },
      },
    },
    paths: {
      '/v1/events': {
        post: {
          summary: 'Publish one event or a batch',
          security: [{ bearer: [] }],
          parameters: [
            {
              name: 'Idempotency-Key',
              in: 'header',
              required: false,
              schema: { type: 'string' },
              description: 'A retried request with the same key gets the first answer back',
            },
          ],
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: { oneOf: [{ $ref: '#/components/schemas/Event' }, { type: 'array', items: { $ref: '#/components/schemas/Event' } }] },
              },
              'application/cloudevents+json': { schema: { $ref: '#/components/schemas/Event' } },
              'application/cloudevents-batch+json': { schema: { type: 'array', items: { $ref: '#/components/schemas/Event' } } },
            },
          },
          responses: {
            '202': { description: 'Acknowledged by Kafka (acks=all): ids, target sites and the site that wrote them' },
            ...problems(400, 401, 403, 413, 415, 422, 429, 503),
          },
        },
      },
      '/v1/federation/health': {
        get: { summary: 'Health of every site; unreachable sites are flagged', responses: { '200': { description: 'per-site health' } } },
      },
      '/v1/federation/stats': {
        get: {
          summary: 'Per site: throughput, latency percentiles, consumer lag. Per link: MM2 replication lag in records and seconds',
          parameters: [{ name: 'windowSeconds', in: 'query', schema: { type: 'integer', default: 300 } }],
          responses: { '200': { description: 'stats' }, ...problems(400) },
        },
      },
      '/v1/federation/events/{eventId}/trace': {
        get: {
          summary: 'One event across sites, every stage with timestamps',
          parameters: [{ name: 'eventId', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { '200': { description: 'trace' }, ...problems(400) },
        },
      },
      '/v1/federation/products/{productId}/events': {
        get: {
          summary: 'Product history merged across sites, newest first',
          parameters: [
            { name: 'productId', in: 'path', required: true, schema: { type: 'string' } },
            { name: 'limit', in: 'query', schema: { type: 'integer', default: 50 } },
          ],
          responses: { '200': { description: 'history' }, ...problems(400) },
        },
      },
      '/v1/federation/dead-letters': { get: { summary: 'Dead-lettered messages of every site', responses: { '200': { description: 'dead letters' } } } },
      '/v1/federation/live': {
        get: { summary: 'Live event flow of every site (Server-Sent Events)', responses: { '200': { description: 'text/event-stream' } } },
      },
      '/.well-known/jwks.json': { get: { summary: 'Public signing keys of this site', responses: { '200': { description: 'JWKS' } } } },
      '/metrics': { get: { summary: 'Prometheus metrics', responses: { '200': { description: 'text exposition format' } } } },
    },
  };
}

/** A self-contained HTML rendering of the document (no CDN: the docs work offline). */
export function renderDocs(doc: ReturnType<typeof openApiDocument>): string {
  const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
  const rows = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops as Record<string, { summary: string; responses: Record<string, unknown> }>).map(
      ([method, op]) =>
        `<tr><td><code>${method.toUpperCase()}</code></td><td><code>${esc(path)}</code></td><td>${esc(op.summary)}</td><td>${Object.keys(op.responses).join(' ')}</td></tr>`,
    ),
  );
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(doc.info.title)}</title>
<style>body{font:15px system-ui,sans-serif;margin:2rem;max-width:70rem}td,th{border-bottom:1px solid #ddd;padding:.4rem .6rem;text-align:left;vertical-align:top}pre{background:#f6f6f6;padding:1rem;overflow:auto}</style></head>
<body><h1>${esc(doc.info.title)}</h1><p>${esc(doc.info.description)}</p>
<table><tr><th>method</th><th>path</th><th>what</th><th>answers</th></tr>${rows.join('')}</table>
<h2>Error codes</h2><p>Every error is <code>application/problem+json</code> with one of these stable codes: ${doc.components.schemas.Problem.properties.code.enum.map((c) => `<code>${c}</code>`).join(', ')}.</p>
<h2>Event schema</h2><pre>${esc(JSON.stringify(doc.components.schemas.Event, null, 2))}</pre>
<p>The full document: <a href="/openapi.json">/openapi.json</a></p></body></html>`;
}
