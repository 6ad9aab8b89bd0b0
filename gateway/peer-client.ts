import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { certPaths } from '../certs/index.ts';
import { peerEndpoint, type Site, type Topology } from '../federation/index.ts';

/**
 * Gateway-to-gateway calls: HTTPS to the peer listener, presenting this
 * site's gateway client certificate and trusting only the federation CA.
 * Node checks the peer certificate's IP SAN against the address.
 * Every call has a deadline.
 */
export interface PeerResponse<T> {
  status: number;
  body: T;
}

export class PeerError extends Error {
  override name = 'PeerError';
  constructor(
    message: string,
    readonly site: string,
    readonly reason: 'timeout' | 'unreachable' | 'status',
    readonly status?: number,
  ) {
    super(message);
  }
}

export function createPeerClient(options: { topology: Topology; site: string; certsDir: string }) {
  const paths = certPaths(options.certsDir);
  const own = paths.role(options.site, 'gateway');
  const agent = new Agent({
    keepAlive: true,
    maxSockets: 16,
    ca: readFileSync(paths.caCert),
    cert: readFileSync(own.cert),
    key: readFileSync(own.key),
  });

  function call<T>(peer: Site, method: 'GET' | 'POST', path: string, deadlineMs: number, body?: unknown): Promise<PeerResponse<T>> {
    const at = peerEndpoint(peer);
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = request(
        {
          agent,
          host: at.host,
          port: at.port,
          method,
          path,
          headers: { accept: 'application/json', ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}) },
          timeout: deadlineMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            clearTimeout(timer);
            let parsed: unknown = null;
            try {
              parsed = JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null');
            } catch {
              parsed = null;
            }
            resolve({ status: res.statusCode ?? 0, body: parsed as T });
          });
          res.on('error', (err) => reject(new PeerError(err.message, peer.name, 'unreachable')));
        },
      );
      const timer = setTimeout(() => req.destroy(new PeerError(`no answer within ${deadlineMs} ms`, peer.name, 'timeout')), deadlineMs);
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(err instanceof PeerError ? err : new PeerError(err.message, peer.name, 'unreachable'));
      });
      req.end(payload);
    });
  }

  return { call, close: () => agent.destroy() };
}
export type PeerClient = ReturnType<typeof createPeerClient>;
