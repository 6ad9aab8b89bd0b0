import type { Logger } from 'pino';
import { z } from 'zod';
import { fromZod, Problem, type ProductEvent, ProductEventSchema } from '../contract/index.ts';
import type { AcceptedEvent } from './publish-service.ts';

export interface PeerAcceptDeps {
  site: string;
  maxBatchEvents: number;
  /** Writes to this site's Kafka (the batcher); resolves on acks=all. */
  submit(events: ProductEvent[]): Promise<void>;
  /** Event ids already accepted here (shared with the publish route). */
  seen: { get(id: string): AcceptedEvent | undefined; set(id: string, v: AcceptedEvent): void };
  log: Logger;
}

/**
 * The peer listener's write: events a peer gateway could not write to its
 * own Kafka. They are complete events (the peer validated and routed them);
 * they are validated again, written here only if this site has not accepted
 * their ids already, and acknowledged only after this site's Kafka did.
 */
export function createPeerAccept(deps: PeerAcceptDeps) {
  const Body = z.object({ events: z.array(ProductEventSchema).min(1).max(deps.maxBatchEvents) }).strict();
  return async function acceptFromPeer(body: unknown, caller: string): Promise<{ writtenAt: string; accepted: number }> {
    const parsed = Body.safeParse(body);
    if (!parsed.success) throw fromZod('invalid-event', parsed.error);
    const fresh = parsed.data.events.filter((e) => !deps.seen.get(e.id));
    try {
      await deps.submit(fresh);
    } catch (err) {
      throw new Problem('kafka-unavailable', `this site's Kafka did not acknowledge either: ${(err as Error).message}`);
    }
    for (const e of fresh) deps.seen.set(e.id, { id: e.id, type: e.type, routedTo: [], writtenAt: deps.site });
    deps.log.info({ from: caller, events: fresh.length }, 'wrote events for a peer (failover)');
    return { writtenAt: deps.site, accepted: fresh.length };
  };
}
