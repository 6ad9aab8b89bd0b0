import { siteOf, type Topology } from '../federation/index.ts';
import { type FanOut, fanOutOf, type SiteAnswer } from './federated-merge.ts';
import type { PeerClient } from './peer-client.ts';

export interface FanOutDeps {
  topology: Topology;
  site: string;
  peers: PeerClient;
  /** This site's instance read API, e.g. http://127.0.1.1:8081 */
  instanceUrl: string;
  /** The credential of this site's read API. */
  instanceHeaders: Record<string, string>;
  deadlineMs: number;
  now?: () => number;
}

/**
 * The federated view's I/O: asks one read-API path (after /v1) of every site,
 * its own instance directly and peers through their gateways over mTLS, each
 * with a deadline. An answer other than 200, an error or a timeout marks the
 * site unreachable; it never fails the whole call.
 */
export function createFanOut(deps: FanOutDeps) {
  const now = deps.now ?? Date.now;

  async function ask<T>(site: string, path: string): Promise<SiteAnswer<T>> {
    const started = now();
    try {
      let status: number;
      let body: T;
      if (site === deps.site) {
        const res = await fetch(`${deps.instanceUrl}/v1${path}`, { headers: deps.instanceHeaders, signal: AbortSignal.timeout(deps.deadlineMs) });
        status = res.status;
        body = (await res.json()) as T;
      } else {
        const res = await deps.peers.call<T>(siteOf(deps.topology, site), 'GET', `/peer/v1/site${path}`, deps.deadlineMs);
        status = res.status;
        body = res.body;
      }
      if (status !== 200) return { site, reachable: false, ms: now() - started, error: `answered ${status}` };
      return { site, reachable: true, ms: now() - started, body };
    } catch (err) {
      const e = err as Error;
      return { site, reachable: false, ms: now() - started, error: e.name === 'TimeoutError' ? `no answer within ${deps.deadlineMs} ms` : e.message };
    }
  }

  /** The same path at every site. */
  async function fanOut<T>(path: string): Promise<FanOut<T>> {
    return fanOutOf(await Promise.all(deps.topology.sites.map((s) => ask<T>(s.name, path))));
  }

  /** A path per site (each site's own cursor, say). */
  async function fanOutEach<T>(pathOf: (site: string) => string): Promise<FanOut<T>> {
    return fanOutOf(await Promise.all(deps.topology.sites.map((s) => ask<T>(s.name, pathOf(s.name)))));
  }

  return { fanOut, fanOutEach };
}
