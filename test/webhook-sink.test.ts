import { once } from 'node:events';
import { createServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { completeEvent, PublishInputSchema } from '../contract/index.ts';
import { createWebhookSink } from '../instances/delivery/webhook.ts';
import { issueTestServerCert } from './support/test-ca.ts';

const tls = issueTestServerCert(join(tmpdir(), `fedgate-webhook-${process.pid}`));
const event = (productId: string) =>
  completeEvent(
    PublishInputSchema.parse({ type: 'com.fedgate.pim.price.updated', data: { productId, region: 'eu', price: { currency: 'EUR', amount: '1.00' } } }),
    'a',
  );

/**
 * A receiver that drops a kept-alive socket on its next request without an
 * answer: what a receiver's idle timeout does when it races the sender's
 * reuse of the socket ("socket hang up" on a reused socket).
 */
async function receiver(dropOnReuse: (n: number) => boolean) {
  const perSocket = new WeakMap<Socket, number>();
  const seen: { id: string; reused: boolean }[] = [];
  let n = 0;
  const server = createServer({ cert: tls.cert, key: tls.key, keepAliveTimeout: 60_000 }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const count = (perSocket.get(req.socket) ?? 0) + 1;
      perSocket.set(req.socket, count);
      seen.push({ id: JSON.parse(Buffer.concat(chunks).toString('utf8')).id, reused: count > 1 });
      if (count > 1 && dropOnReuse(++n)) return req.socket.destroy();
      res.writeHead(200).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  const sink = createWebhookSink({ url, origins: [url], caFile: tls.caFile, timeoutMs: 5000, secrets: () => ['s'] });
  return {
    server,
    sink,
    seen,
    close: async () => {
      await sink.close();
      server.close();
    },
  };
}

describe('webhook sink over kept-alive sockets', () => {
  const closers: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of closers) await c();
  });

  it('sends again on a socket of its own when a reused socket hangs up, and that resend is the delivery', async () => {
    const r = await receiver(() => true); // every reuse of a kept-alive socket is dropped
    closers.push(r.close);
    // Two at once: the pool then holds two idle sockets, both of which the receiver drops on reuse.
    const [first, second, third] = [event('p-1'), event('p-2'), event('p-3')];
    await Promise.all([first, second].map((e) => r.sink.send(e, Buffer.from(JSON.stringify(e)))));
    await r.sink.send(third, Buffer.from(JSON.stringify(third)));
    expect(r.seen.slice(0, 2).map((s) => s.reused)).toEqual([false, false]);
    expect(r.seen.slice(2)).toEqual([
      { id: third.id, reused: true }, // dropped: one of the pool's idle sockets
      { id: third.id, reused: false }, // answered 200 on a new socket, not the pool's other stale one
    ]);
  });

  it('counts a hang-up on a new socket as the failed attempt (no loop of resends)', async () => {
    const server = createServer({ cert: tls.cert, key: tls.key }, (req) => req.socket.destroy());
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const sink = createWebhookSink({ url, origins: [url], caFile: tls.caFile, timeoutMs: 5000, secrets: () => ['s'] });
    closers.push(async () => {
      await sink.close();
      server.close();
    });
    const e = event('p-3');
    await expect(sink.send(e, Buffer.from(JSON.stringify(e)))).rejects.toThrow(/socket hang up/);
  });
});
