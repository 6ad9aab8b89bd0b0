import type { Context, ErrorHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Logger } from 'pino';
import type { ZodError, z } from 'zod';

/**
 * Every HTTP error in fedgate is `application/problem+json` (RFC 9457) with
 * a stable `code` from this closed list and the request id. Clients branch
 * on `code`, never on `detail` text.
 */
export const PROBLEM_CODES = {
  'invalid-json': 400,
  'invalid-event': 422,
  'invalid-query': 400,
  'unsupported-media-type': 415,
  'payload-too-large': 413,
  'unknown-event-type': 422,
  'unknown-region': 422,
  'unknown-country': 422,
  'unknown-product': 422,
  'unknown-subscription': 422,
  'missing-token': 401,
  'invalid-token': 401,
  'insufficient-scope': 403,
  'not-found': 404,
  'replay-finished': 409,
  overloaded: 429,
  'rate-limited': 429,
  'kafka-unavailable': 503,
  internal: 500,
} as const satisfies Record<string, ContentfulStatusCode>;
export type ProblemCode = keyof typeof PROBLEM_CODES;

export class Problem extends Error {
  override name = 'Problem';
  constructor(
    readonly code: ProblemCode,
    readonly detail: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
  }
  get status(): ContentfulStatusCode {
    return PROBLEM_CODES[this.code];
  }
}

const TITLES: Record<ProblemCode, string> = {
  'invalid-json': 'The body is not valid JSON',
  'invalid-event': 'The event is not valid',
  'invalid-query': 'The query is not valid',
  'unsupported-media-type': 'Unsupported content type',
  'payload-too-large': 'The body is too large',
  'unknown-event-type': 'Unknown event type',
  'unknown-region': 'Unknown region',
  'unknown-country': 'No site serves this country',
  'unknown-product': 'The product is not in the PIS catalog',
  'unknown-subscription': 'This site has no such delivery subscription',
  'missing-token': 'A bearer token is required',
  'invalid-token': 'The token is not valid',
  'insufficient-scope': 'The token does not allow this',
  'replay-finished': 'The replay has already finished',
  'not-found': 'Not found',
  overloaded: 'Too many requests in flight',
  'rate-limited': 'Too many from this client',
  'kafka-unavailable': 'Kafka did not acknowledge the write',
  internal: 'Internal error',
};

export function problemBody(code: ProblemCode, detail: string, requestId: string | undefined, extra: Record<string, unknown> = {}) {
  return { type: `https://fedgate.dev/problems/${code}`, title: TITLES[code], status: PROBLEM_CODES[code], code, detail, requestId, ...extra };
}

export function sendProblem(c: Context, problem: Problem): Response {
  const body = problemBody(problem.code, problem.detail, c.get('requestId' as never) as string | undefined, problem.extra);
  return c.body(JSON.stringify(body), problem.status, { 'content-type': 'application/problem+json', ...problem.headers });
}

export function fromZod(code: ProblemCode, error: ZodError, extra: Record<string, unknown> = {}): Problem {
  const errors = error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  return new Problem(code, errors.map((e) => `${e.path || '(body)'}: ${e.message}`).join('; '), { errors, ...extra });
}

/** A query, path parameter or body parsed with its schema, or an `invalid-query` problem naming each field. */
export function parseQuery<T extends z.ZodTypeAny>(schema: T, value: unknown): z.output<T> {
  const r = schema.safeParse(value);
  if (!r.success) throw fromZod('invalid-query', r.error);
  return r.data;
}

const CODE_OF_HTTP_STATUS: Partial<Record<number, ProblemCode>> = {
  400: 'invalid-query',
  401: 'invalid-token',
  404: 'not-found',
  413: 'payload-too-large',
  415: 'unsupported-media-type',
  429: 'overloaded',
};

/** The one error handler: known problems as they are; anything else logged with its stack and answered 500 with a generic detail. */
export function problemErrorHandler(log: Logger): ErrorHandler {
  return (err, c) => {
    if (err instanceof Problem) return sendProblem(c, err);
    // Hono's own middleware throws these; a status without a code of ours is an unexpected error (below).
    const code = err instanceof HTTPException ? CODE_OF_HTTP_STATUS[err.status] : undefined;
    if (code) return sendProblem(c, new Problem(code, err.message || TITLES[code]));
    log.error({ err, requestId: c.get('requestId' as never) }, 'unhandled error');
    return sendProblem(c, new Problem('internal', 'An internal error occurred; the request id identifies it in the logs.'));
  };
}
