import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Problem, problemErrorHandler } from './problem.ts';

describe('the one error handler', () => {
  const app = new Hono();
  app.onError(problemErrorHandler(pino({ level: 'silent' })));
  app.get('/problem', () => {
    throw new Problem('overloaded', 'too many', {}, { 'retry-after': '1' });
  });
  app.get('/http/:status', (c) => {
    throw new HTTPException(Number(c.req.param('status')) as 413, { message: 'from hono' });
  });
  app.get('/bug', () => {
    throw new TypeError('secret internals');
  });

  it('answers a Problem with its status, code and headers', async () => {
    const res = await app.request('/problem');
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(await res.json()).toMatchObject({ code: 'overloaded', status: 429, detail: 'too many' });
  });

  it("maps Hono's HTTP exceptions that have a code of ours", async () => {
    for (const [status, code] of [
      [413, 'payload-too-large'],
      [404, 'not-found'],
      [401, 'invalid-token'],
      [400, 'invalid-query'],
    ] as const) {
      const res = await app.request(`/http/${status}`);
      expect(res.status).toBe(status);
      expect((await res.json()).code).toBe(code);
    }
  });

  it('answers any other error, an unexpected 503 from Hono included, with a generic 500 that leaks nothing', async () => {
    for (const path of ['/http/503', '/bug']) {
      const res = await app.request(path);
      expect(res.status).toBe(500);
      const body = await res.json();
      expect(body.code).toBe('internal');
      expect(JSON.stringify(body)).not.toContain('secret internals');
    }
  });
});
