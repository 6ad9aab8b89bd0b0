import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import type { ProductEvent } from '../../contract/index.ts';
import { parseRetryAfter } from './backoff.ts';
import { SIGNATURE_HEADER, signatureHeader } from './signature.ts';
import { CLOUDEVENTS_JSON, DeliveryError, type Sink } from './sink.ts';

export interface WebhookOptions {
  url: string;
  /** Allowed origins (the site's delivery.webhookOrigins): checked again here, before every request. */
  origins: readonly string[];
  caFile?: string;
  timeoutMs: number;
  /** The live signing secrets, newest first (read per request, so a rotation needs no restart). */
  secrets: () => string[];
}

/**
 * HTTPS POST of the structured CloudEvent, signed (signature.ts). A 2xx is
 * the acknowledgment; anything else, a timeout or a redirect (never
 * followed: it could lead anywhere) is a failed attempt, with Retry-After
 * passed on. Keep-alive connections, a few in parallel.
 */
export function createWebhookSink(options: WebhookOptions): Sink {
  const url = new URL(options.url);
  if (url.protocol !== 'https:' || !options.origins.some((o) => new URL(o).origin === url.origin)) {
    throw new Error(`webhook ${url.origin} is not an allowed https origin of this site (delivery.webhookOrigins)`);
  }
  const tls = options.caFile ? { ca: readFileSync(options.caFile, 'utf8') } : {};
  const agent = new Agent({ keepAlive: true, maxSockets: 8, ...tls });

  async function send(event: ProductEvent, body: Buffer): Promise<void> {
    try {
      await post(event, body);
    } catch (err) {
      // A kept-alive socket the receiver closed while idle fails at once on reuse; the request almost surely
      // never reached its handler (and a resend is within the at-least-once contract), so it goes again at
      // once on a new socket, as Node's documentation recommends, instead of counting as a failed attempt.
      // The new socket is one of its own, outside the pool: the pool's other idle sockets may have been closed
      // by the same idle timeout, and a second stale one would count as the attempt's failure.
      if (!(err as { staleSocket?: boolean }).staleSocket) throw err;
      await post(event, body, true);
    }
  }

  function post(event: ProductEvent, body: Buffer, fresh = false): Promise<void> {
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method: 'POST',
          ...(fresh ? { agent: false, ...tls } : { agent }),
          timeout: options.timeoutMs,
          headers: {
            'content-type': CLOUDEVENTS_JSON,
            'content-length': body.length,
            [SIGNATURE_HEADER]: signatureHeader(options.secrets(), body),
            'user-agent': 'fedgate-delivery',
          },
        },
        (res) => {
          const status = res.statusCode ?? 0;
          let answer = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            if (answer.length < 300) answer += chunk;
          });
          res.on('end', () => {
            if (status >= 200 && status < 300) return resolve();
            const retryAfter = parseRetryAfter(res.headers['retry-after']);
            const what = status >= 300 && status < 400 ? `redirect ${status} (not followed)` : `HTTP ${status}`;
            reject(new DeliveryError(`${what} for ${event.id}${answer ? `: ${answer.slice(0, 200)}` : ''}`, retryAfter));
          });
          res.on('error', (err) => reject(new DeliveryError(`reading the answer: ${err.message}`)));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)));
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err instanceof DeliveryError) return reject(err);
        const stale = req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE');
        reject(Object.assign(new DeliveryError(err.message), { staleSocket: stale }));
      });
      req.end(body);
    });
  }

  return {
    send,
    concurrency: 8,
    async close() {
      agent.destroy();
    },
  };
}
