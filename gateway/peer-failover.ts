import type { ProductEvent } from '../contract/index.ts';
import type { Site, Topology } from '../federation/index.ts';
import type { PeerResponse } from './peer-client.ts';

export interface PeerFailoverDeps {
  topology: Topology;
  site: string;
  call<T>(peer: Site, method: 'POST', path: string, deadlineMs: number, body: unknown): Promise<PeerResponse<T>>;
  deadlineMs?: number;
}

/**
 * When the local Kafka does not acknowledge: write through the first peer
 * gateway whose Kafka does, in topology order, and resolve with that peer's
 * site. It never chains further (the peer writes locally or refuses), and it
 * rejects with every peer's reason when none took the events: the caller then
 * answers 503, never a 2xx.
 */
export function createPeerFailover(deps: PeerFailoverDeps) {
  const peers = deps.topology.sites.filter((s) => s.name !== deps.site);
  return async function failover(events: ProductEvent[], publisherToken: string): Promise<string> {
    const errors: string[] = [];
    for (const peer of peers) {
      try {
        const res = await deps.call<{ writtenAt?: string }>(peer, 'POST', '/peer/v1/publish', deps.deadlineMs ?? 5000, { events, publisherToken });
        if (res.status === 200 && res.body?.writtenAt) return res.body.writtenAt;
        errors.push(`${peer.name}: ${res.status}`);
      } catch (err) {
        errors.push(`${peer.name}: ${(err as Error).message}`);
      }
    }
    throw new Error(`no peer accepted: ${errors.join('; ')}`);
  };
}
