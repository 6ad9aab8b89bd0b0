import { extendZodWithOpenApi, OpenAPIRegistry, OpenApiGeneratorV31, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { EventIdSchema, ProductEventSchema, ProductIdSchema, PublishInputSchema } from './event-model.ts';
import { HistoryBodySchema, HistoryQuerySchema } from './history.ts';
import { PROBLEM_CODES, type ProblemCode } from './problem.ts';
import {
  FederatedHealthSchema,
  FederatedHistorySchema,
  FederatedLimitQuerySchema,
  FederatedRowsSchema,
  FederatedStatsSchema,
  FederatedTraceSchema,
  ProblemSchema,
  PublishResultSchema,
  SubscribeQuerySchema,
  WindowQuerySchema,
} from './public-api.ts';
import {
  DeliveredAnswerSchema,
  DeliveredBodySchema,
  HealthBodySchema,
  LagSummarySchema,
  LimitQuerySchema,
  OverviewBodySchema,
  PageQuerySchema,
  RecentBodySchema,
  RecentQuerySchema,
  RowsBodySchema,
  SiteOffsetsSchema,
  StageStatsSchema,
  StatsQuerySchema,
  TraceBodySchema,
} from './read-api.ts';
import { ReplayJobSchema, ReplayListSchema, ReplayRequestSchema } from './replay.ts';
import { SeedEventSchema } from './seed-shape.ts';

/**
 * The API documents of fedgate's three HTTP surfaces, generated from the zod
 * schemas that validate their inputs (and type their answers): the gateway's
 * public API, the gateways' peer API (mTLS) and each site's read API. No
 * hand-written schema: a field the validator accepts is in the document.
 */
extendZodWithOpenApi(z);

/** The problem codes each operation can answer, so the document lists them per status. */
export const ROUTE_PROBLEMS = {
  publish: [
    'invalid-json',
    'invalid-event',
    'unsupported-media-type',
    'payload-too-large',
    'unknown-event-type',
    'unknown-region',
    'unknown-country',
    'unknown-product',
    'missing-token',
    'invalid-token',
    'insufficient-scope',
    'overloaded',
    'rate-limited',
    'kafka-unavailable',
    'internal',
  ],
  query: ['invalid-query', 'internal'],
  /** The federated view: a token with read:federation. */
  federated: ['missing-token', 'invalid-token', 'insufficient-scope', 'invalid-query', 'internal'],
  live: ['missing-token', 'invalid-token', 'insufficient-scope', 'rate-limited', 'internal'],
  subscribe: ['missing-token', 'invalid-token', 'insufficient-scope', 'invalid-query', 'rate-limited', 'kafka-unavailable', 'internal'],
  metrics: ['missing-token', 'invalid-token', 'insufficient-scope', 'internal'],
  replayStart: [
    'invalid-json',
    'invalid-query',
    'unsupported-media-type',
    'payload-too-large',
    'missing-token',
    'invalid-token',
    'insufficient-scope',
    'internal',
  ],
  replayRead: ['missing-token', 'invalid-token', 'insufficient-scope', 'not-found', 'internal'],
  replayCancel: ['missing-token', 'invalid-token', 'insufficient-scope', 'not-found', 'replay-finished', 'kafka-unavailable', 'internal'],
  read: ['internal'],
  peerPublish: ['invalid-token', 'insufficient-scope', 'invalid-event', 'kafka-unavailable', 'internal'],
  peerRead: ['invalid-token', 'internal'],
  peerCatalog: ['invalid-token', 'invalid-query', 'not-found', 'internal'],
} as const satisfies Record<string, readonly ProblemCode[]>;

type Responses = RouteConfig['responses'];

const EXAMPLE_EVENT = {
  type: 'com.fedgate.pim.price.updated',
  data: { productId: 'sku-00042', region: 'apac', price: { currency: 'JPY', amount: '1500' } },
};

/** One response per status, each naming the codes it carries (in `description` and `x-problem-codes`). */
function problems(codes: readonly ProblemCode[]): Responses {
  const byStatus = new Map<number, ProblemCode[]>();
  for (const code of codes) byStatus.set(PROBLEM_CODES[code], [...(byStatus.get(PROBLEM_CODES[code]) ?? []), code]);
  return Object.fromEntries(
    [...byStatus].map(([status, list]) => [
      String(status),
      { description: `problem: ${list.join(', ')}`, 'x-problem-codes': list, content: { 'application/problem+json': { schema: ProblemSchema } } },
    ]),
  );
}

const json = (schema: z.ZodTypeAny, description: string) => ({ description, content: { 'application/json': { schema } } });
const document = (registry: OpenAPIRegistry, title: string, description: string) =>
  new OpenApiGeneratorV31(registry.definitions).generateDocument({ openapi: '3.1.0', info: { title, version: '0.1.0', description } });

/** The gateway's public API: publish, the federated view, docs, metrics, keys. */
export function publicApiDocument(site: string) {
  const r = new OpenAPIRegistry();
  r.register('Problem', ProblemSchema);
  const bearer = r.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT (ES256, from a site of the federation)',
  });
  const Event = r.register('PublishInput', PublishInputSchema.describe('CloudEvents 1.0 (structured JSON); id, time and traceparent are kept when given'));
  const body = z.union([Event, z.array(Event).min(1)]);
  // Both publish routes take it (gateway/routes/publish.ts, accept).
  const idempotencyHeaders = z.object({
    'Idempotency-Key': z
      .string()
      .regex(/^[\x21-\x7e]{1,200}$/)
      .optional()
      .describe('a retried request with the same key gets the first answer back'),
  });
  r.registerPath({
    method: 'post',
    path: '/v1/events',
    tags: ['publish'],
    summary: 'Publish one event or a batch; 202 only after Kafka acknowledged every event (acks=all), here or at a peer',
    security: [{ [bearer.name]: [] }],
    request: {
      headers: idempotencyHeaders,
      body: {
        required: true,
        content: {
          'application/json': { schema: body, example: EXAMPLE_EVENT },
          'application/cloudevents+json': { schema: Event, example: EXAMPLE_EVENT },
          'application/cloudevents-batch+json': { schema: z.array(Event).min(1) },
        },
      },
    },
    responses: { 202: json(PublishResultSchema, 'acknowledged by Kafka: ids, target sites and the site that wrote them'), ...problems(ROUTE_PROBLEMS.publish) },
  });
  r.registerPath({
    method: 'post',
    path: '/publish-event',
    tags: ['publish'],
    summary:
      "The seed design's shape (seed 001), a migration path: `event_type` product-price-update, product-discount-update or product-country-update, and the native `data`; one object or an array. The same pipeline, scopes and problems as POST /v1/events",
    security: [{ [bearer.name]: [] }],
    request: {
      headers: idempotencyHeaders,
      body: {
        required: true,
        content: {
          'application/json': {
            schema: z.union([SeedEventSchema, z.array(SeedEventSchema).min(1)]),
            example: { event_type: 'product-price-update', data: EXAMPLE_EVENT.data },
          },
        },
      },
    },
    responses: { 202: json(PublishResultSchema, 'acknowledged by Kafka, as for POST /v1/events'), ...problems(ROUTE_PROBLEMS.publish) },
  });
  const federation: Array<[string, string, RouteConfig['request'], z.ZodTypeAny, readonly ProblemCode[]]> = [
    ['/v1/federation/health', 'Health of every site; unreachable sites are flagged', undefined, FederatedHealthSchema, ROUTE_PROBLEMS.federated],
    [
      '/v1/federation/stats',
      'Per site: throughput, latency percentiles, consumer lag; per MM2 flow: lag in records and seconds',
      { query: WindowQuerySchema },
      FederatedStatsSchema,
      ROUTE_PROBLEMS.federated,
    ],
    [
      '/v1/federation/events/{eventId}/trace',
      'One event across sites, each stage with its delay after publish',
      { params: z.object({ eventId: EventIdSchema }) },
      FederatedTraceSchema,
      ROUTE_PROBLEMS.federated,
    ],
    [
      '/v1/federation/products/{productId}/events',
      'Product history merged across sites, newest first',
      { params: z.object({ productId: ProductIdSchema }), query: FederatedLimitQuerySchema },
      FederatedRowsSchema,
      ROUTE_PROBLEMS.federated,
    ],
    [
      '/v1/federation/history',
      'Stored events of a set of products with their values, merged across sites, newest first, paged; each says which sites hold it',
      { query: HistoryQuerySchema },
      FederatedHistorySchema,
      ROUTE_PROBLEMS.federated,
    ],
    [
      '/v1/federation/dead-letters',
      'Dead-lettered messages of every site, with the reason',
      { query: FederatedLimitQuerySchema },
      FederatedRowsSchema,
      ROUTE_PROBLEMS.federated,
    ],
  ];
  for (const [path, summary, request, answer, codes] of federation) {
    r.registerPath({
      method: 'get',
      path,
      tags: ['federated view'],
      summary,
      security: [{ [bearer.name]: [] }],
      request,
      responses: { 200: json(answer, 'the merged answer; `partial` when a site did not answer'), ...problems(codes) },
    });
  }
  r.registerPath({
    method: 'get',
    path: '/v1/federation/live',
    tags: ['federated view'],
    summary: 'Live flow of every site: Server-Sent Events `events`, one JSON object a second; a few streams per client at once',
    security: [{ [bearer.name]: [] }],
    responses: { 200: text('text/event-stream', 'event stream'), ...problems(ROUTE_PROBLEMS.live) },
  });
  r.registerPath({
    method: 'get',
    path: '/v1/subscribe',
    tags: ['subscribe'],
    summary:
      'The business events that reach this site, as Server-Sent Events: `ready` (with the starting cursor), then one event per CloudEvent (`event` = its type, `data` = the structured CloudEvent, `id` = a cursor), `gap` when retention deleted events before a resume; token scope subscribe:events',
    security: [{ [bearer.name]: [] }],
    request: {
      query: SubscribeQuerySchema,
      headers: z.object({ 'Last-Event-ID': z.string().optional().describe('resume right after the event with this id (a cursor)') }),
    },
    responses: { 200: text('text/event-stream', 'event stream'), ...problems(ROUTE_PROBLEMS.subscribe) },
  });
  r.registerPath({ method: 'get', path: '/', summary: 'Redirects to the dashboard', responses: { 302: { description: 'to /dashboard' } } });
  r.registerPath({ method: 'get', path: '/dashboard', summary: 'The dashboard', responses: { 200: text('text/html', 'page') } });
  r.registerPath({ method: 'get', path: '/healthz', summary: 'Liveness', responses: { 200: json(z.object({ site: z.string(), ok: z.boolean() }), 'alive') } });
  r.registerPath({ method: 'get', path: '/docs', summary: 'This document, rendered', responses: { 200: text('text/html', 'page') } });
  r.registerPath({
    method: 'get',
    path: '/docs/assets/{file}',
    summary: "The renderer's files",
    request: { params: z.object({ file: z.string() }) },
    responses: { 200: text('application/octet-stream', 'file'), ...problems(['not-found']) },
  });
  for (const [path, what] of [
    ['/openapi.json', 'this document'],
    ['/openapi/peer.json', "the gateways' peer API (served on the mTLS peer listener)"],
    ['/openapi/site.json', "each site's read API (asked by its gateway only)"],
  ] as const) {
    r.registerPath({ method: 'get', path, summary: `OpenAPI 3.1: ${what}`, responses: { 200: json(z.record(z.unknown()), 'document') } });
  }
  r.registerPath({
    method: 'get',
    path: '/.well-known/jwks.json',
    summary: "This site's public signing keys",
    responses: { 200: json(z.object({ keys: z.array(z.record(z.unknown())) }), 'JWKS') },
  });
  const replayId = z.object({ id: z.string() });
  r.registerPath({
    method: 'post',
    path: '/v1/replays',
    tags: ['replay'],
    summary:
      "Replay stored history (every site's event store) to this gateway's site: by product ids and/or event time, to all of its consumers or one; 202 with the job, which runs on",
    security: [{ [bearer.name]: [] }],
    request: { body: { required: true, content: { 'application/json': { schema: ReplayRequestSchema } } } },
    responses: { 202: json(ReplayJobSchema, 'the job, running; Location names it'), ...problems(ROUTE_PROBLEMS.replayStart) },
  });
  r.registerPath({
    method: 'get',
    path: '/v1/replays',
    tags: ['replay'],
    summary: "This gateway's replays, newest first (kept in memory: the last 100)",
    security: [{ [bearer.name]: [] }],
    responses: { 200: json(ReplayListSchema, 'jobs'), ...problems(ROUTE_PROBLEMS.replayRead) },
  });
  r.registerPath({
    method: 'get',
    path: '/v1/replays/{id}',
    tags: ['replay'],
    summary: 'One replay: its state and progress (read, sent, not served here, sites that did not answer)',
    security: [{ [bearer.name]: [] }],
    request: { params: replayId },
    responses: { 200: json(ReplayJobSchema, 'the job'), ...problems(ROUTE_PROBLEMS.replayRead) },
  });
  r.registerPath({
    method: 'delete',
    path: '/v1/replays/{id}',
    tags: ['replay'],
    summary: 'Cancel a running replay after the page in flight, whichever gateway of the site runs it; what it sent stays sent',
    security: [{ [bearer.name]: [] }],
    request: { params: replayId },
    responses: { 200: json(ReplayJobSchema, 'the job, cancelled'), ...problems(ROUTE_PROBLEMS.replayCancel) },
  });
  r.registerPath({
    method: 'get',
    path: '/metrics',
    summary: "Prometheus metrics; the scrape credential is the site's metrics secret, or a token with read:metrics",
    security: [{ [bearer.name]: [] }],
    responses: { 200: text('text/plain', 'text exposition format'), ...problems(ROUTE_PROBLEMS.metrics) },
  });
  return document(
    r,
    `fedgate gateway (${site})`,
    'Publish product events once, with a token of your site; fedgate routes them to exactly the sites that need them and shows the whole federation.',
  );
}

/** The peer API: HTTPS with a gateway client certificate of the federation CA. */
export function peerApiDocument(site: string) {
  const r = new OpenAPIRegistry();
  r.register('Problem', ProblemSchema);
  r.registerPath({
    method: 'post',
    path: '/peer/v1/publish',
    summary: 'Write complete events a peer could not write to its own Kafka (failover); 200 after this site acknowledged',
    request: {
      body: {
        required: true,
        content: {
          'application/json': {
            schema: z
              .object({
                events: z.array(ProductEventSchema).min(1),
                publisherToken: z
                  .string()
                  .describe(
                    "the publisher's own token: it must verify here, carry each event's publish scope, and every event must come from the calling gateway's site",
                  ),
              })
              .strict(),
          },
        },
      },
    },
    responses: { 200: json(z.object({ writtenAt: z.string(), accepted: z.number().int() }), 'written here'), ...problems(ROUTE_PROBLEMS.peerPublish) },
  });
  r.registerPath({
    method: 'post',
    path: '/peer/v1/catalog',
    summary: "Enrichment: the PIS catalog's name, brand and category of up to 1,000 products; answered by the PIS site's gateway only (404 elsewhere)",
    request: { body: { required: true, content: { 'application/json': { schema: z.object({ ids: z.array(ProductIdSchema).min(1).max(1000) }).strict() } } } },
    responses: {
      200: json(
        z.object({ entries: z.record(z.object({ name: z.string(), brand: z.string().optional(), category: z.string().optional() })) }),
        'the products the catalog knows; one that is absent is not in the catalog',
      ),
      ...problems(ROUTE_PROBLEMS.peerCatalog),
    },
  });
  r.registerPath({
    method: 'get',
    path: '/peer/v1/site/{path}',
    summary: "This site's read API, proxied: GET /peer/v1/site/<path> answers as GET /v1/<path> of the site read API",
    request: { params: z.object({ path: z.string() }) },
    responses: { 200: json(z.record(z.unknown()), 'the read API answer'), ...problems(ROUTE_PROBLEMS.peerRead) },
  });
  r.registerPath({
    method: 'get',
    path: '/.well-known/jwks.json',
    summary: "This site's public signing keys",
    responses: { 200: json(z.object({ keys: z.array(z.record(z.unknown())) }), 'JWKS') },
  });
  return document(
    r,
    `fedgate peer API (${site})`,
    'Gateway to gateway, over mutual TLS: failover writes, the federated read proxy, the PIS catalog, signing keys.',
  );
}

const text = (type: string, description: string) => ({ description, content: { [type]: { schema: z.string() } } });

/** A site's read API: what the federated view asks each site. */
export function readApiDocument(site: string) {
  const r = new OpenAPIRegistry();
  r.register('Problem', ProblemSchema);
  r.register('StageStats', StageStatsSchema);
  const get = (path: string, summary: string, answer: z.ZodTypeAny, request?: RouteConfig['request']) =>
    r.registerPath({
      method: 'get',
      path,
      summary,
      request,
      responses: { 200: json(answer, 'answer'), ...problems(request ? ROUTE_PROBLEMS.query : ROUTE_PROBLEMS.read) },
    });
  const productId = z.object({ productId: ProductIdSchema });
  get('/v1/health', 'Health of this site', HealthBodySchema);
  get('/v1/products/{productId}/events', "A product's monitoring rows, newest first, paged", RowsBodySchema, { params: productId, query: PageQuerySchema });
  get('/v1/history', "The stored events of a set of products with their values, newest first, paged (this site's event store)", HistoryBodySchema, {
    query: HistoryQuerySchema,
  });
  get('/v1/products/{productId}', "A product's current state here: prices, availability, discounts", z.record(z.unknown()), { params: productId });
  get('/v1/events/{eventId}/trace', 'Every stage of one event here', TraceBodySchema, { params: z.object({ eventId: EventIdSchema }) });
  get(
    '/v1/stats',
    'Counts and latency percentiles per stage',
    z.object({ site: z.string(), windowSeconds: z.number().int(), stages: z.array(StageStatsSchema) }),
    {
      query: StatsQuerySchema,
    },
  );
  get('/v1/lag', 'Consumer lag per group, read now', z.object({ site: z.string(), groups: z.record(LagSummarySchema) }));
  get('/v1/offsets', 'End offsets of the routed topics and copies here, and the newest replicated heartbeats', SiteOffsetsSchema.extend({ site: z.string() }));
  get('/v1/overview', 'Stats, consumer lag and offsets in one answer', OverviewBodySchema, { query: StatsQuerySchema });
  get('/v1/recent', 'Monitoring rows after a cursor (the live flow)', RecentBodySchema, { query: RecentQuerySchema });
  get('/v1/dead-letters', 'Dead-lettered messages here', RowsBodySchema, { query: LimitQuerySchema });
  r.registerPath({
    method: 'get',
    path: '/metrics',
    summary: "Prometheus metrics of the instance; the scrape credential is the site's metrics secret (not the read API's)",
    responses: { 200: text('text/plain', 'text exposition format'), ...problems(ROUTE_PROBLEMS.metrics) },
  });
  r.registerPath({
    method: 'post',
    path: '/v1/delivered',
    summary: 'Which of these event ids were consumed here',
    request: { body: { required: true, content: { 'application/json': { schema: DeliveredBodySchema } } } },
    responses: { 200: json(DeliveredAnswerSchema, 'answer'), ...problems(ROUTE_PROBLEMS.query) },
  });
  return document(r, `fedgate site read API (${site})`, "What each site's gateway asks its instance for the federated view.");
}
