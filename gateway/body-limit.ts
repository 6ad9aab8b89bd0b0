import type { IncomingMessage } from 'node:http';
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit as honoBodyLimit } from 'hono/body-limit';
import { Problem } from '../contract/index.ts';

/** Past the limit, how much more of a body is read and thrown away so the client can finish sending and see the 413. */
const DRAIN_FACTOR = 8;
const DRAIN_MS = 5000;

export type BodyEnv = { Bindings: { incoming?: IncomingMessage }; Variables: { body: Uint8Array } };

/**
 * The request body limit. On the Node server the body is read here, straight
 * from the socket (no web Request is built: with Hono's streaming limit on
 * every request, building one stood out in the gateway's CPU profile), and
 * handed on as bytes (`readBody`).
 *
 * A body over the limit is answered 413 with `Connection: close`, after the
 * rest of it has been read and thrown away (up to DRAIN_FACTOR × the limit, or
 * DRAIN_MS): a server that closes while the client is still writing makes the
 * client's kernel see a reset, and the client gets "fetch failed" instead of
 * the 413. A Content-Length beyond the drain bound is refused at once.
 */
export function bodyLimit<E extends BodyEnv>(maxBytes: number): MiddlewareHandler<E> {
  const tooLarge = (): never => {
    throw new Problem('payload-too-large', `the body is over ${maxBytes} bytes; send smaller batches`, { limitBytes: maxBytes }, { connection: 'close' });
  };
  const streaming = honoBodyLimit({ maxSize: maxBytes, onError: tooLarge });
  return async (c, next) => {
    const length = c.req.header('content-length');
    if (length !== undefined && c.req.header('transfer-encoding') === undefined && (!/^\d{1,15}$/.test(length) || Number(length) > maxBytes * DRAIN_FACTOR))
      tooLarge();
    const incoming = c.env?.incoming;
    // In-memory route tests (`app.request()`) have no socket: Hono's limit on the web body.
    if (!incoming) return streaming(c, next);
    const read = await readLimited(incoming, maxBytes);
    if (read === 'too-large') return tooLarge();
    if (read === 'aborted') throw new Problem('invalid-json', 'the body ended before it was complete');
    (c as unknown as Context<BodyEnv>).set('body', read);
    await next();
  };
}

/** The request body's bytes: what `bodyLimit` read, or the web body where it did not read it. */
export async function readBody<E extends BodyEnv>(c: Context<E>): Promise<Uint8Array> {
  return (c as unknown as Context<BodyEnv>).get('body') ?? new Uint8Array(await c.req.arrayBuffer());
}

function readLimited(incoming: IncomingMessage, maxBytes: number): Promise<Uint8Array | 'too-large' | 'aborted'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let over = false;
    const finish = (result: Uint8Array | 'too-large' | 'aborted') => {
      clearTimeout(timer);
      incoming.off('data', onData).off('end', onEnd).off('error', onAbort).off('aborted', onAbort);
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > maxBytes * DRAIN_FACTOR) return finish('too-large');
      if (bytes > maxBytes) {
        over = true;
        chunks.length = 0;
      } else if (!over) chunks.push(chunk);
    };
    const onEnd = () => finish(over ? 'too-large' : Buffer.concat(chunks, bytes));
    const onAbort = () => finish(over ? 'too-large' : 'aborted');
    const timer = setTimeout(() => finish(over ? 'too-large' : 'aborted'), DRAIN_MS);
    incoming.on('data', onData).on('end', onEnd).on('error', onAbort).on('aborted', onAbort);
  });
}
