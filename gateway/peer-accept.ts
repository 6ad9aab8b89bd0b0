import type { Logger } from 'pino';
import { z } from 'zod';
import { fromZod, Problem, type ProductEvent, ProductEventSchema, type Publisher, siteOfSource } from '../contract/index.ts';
import type { AcceptedEvent } from './accepted.ts';
import { scopeFor } from './publish-service.ts';
import { TokenError, type VerifiedToken } from './verifier.ts';

export interface PeerAcceptDeps {
  site: string;
  maxBatchEvents: number;
  /** The same verifier as the publish route: every site's issuer, bound to its own keys. */
  verify(token: string): Promise<VerifiedToken>;
  /** Writes to this site's Kafka (the batcher); resolves on acks=all. */
  submit(events: ProductEvent[], publisher: Publisher): Promise<void>;
  /** Event ids already accepted here (shared with the publish route). */
  seen: { get(id: string): AcceptedEvent | undefined; set(id: string, v: AcceptedEvent): void };
  log: Logger;
}

/**
 * The peer listener's write: events a peer gateway could not write to its
 * own Kafka. A gateway certificate alone is not enough: the request carries
 * the publisher's own token, which must verify here against its issuer and
 * carry the publish scope of every event; and every event must come from the
 * calling gateway's site. The events are validated again, written here only
 * if this site has not accepted their ids already, acknowledged only after
 * this site's Kafka did, and their `published` rows name the publisher.
 */
export function createPeerAccept(deps: PeerAcceptDeps) {
  const Body = z.object({ events: z.array(ProductEventSchema).min(1).max(deps.maxBatchEvents), publisherToken: z.string().min(1).max(8192) }).strict();
  return async function acceptFromPeer(body: unknown, caller: string): Promise<{ writtenAt: string; accepted: number }> {
    const parsed = Body.safeParse(body);
    if (!parsed.success) throw fromZod('invalid-event', parsed.error);
    let publisher: VerifiedToken;
    try {
      publisher = await deps.verify(parsed.data.publisherToken);
    } catch (err) {
      if (err instanceof TokenError) throw new Problem('invalid-token', `the publisher's token does not verify: ${err.message}`);
      throw err;
    }
    for (const e of parsed.data.events) {
      if (siteOfSource(e.source) !== caller)
        throw new Problem('insufficient-scope', `event ${e.id} claims source ${e.source}, but the calling gateway is ${caller}'s`);
      const scope = scopeFor(e.type);
      if (!publisher.scopes.has(scope))
        throw new Problem('insufficient-scope', `the publisher's token lacks scope "${scope}" for event ${e.id}`, { requiredScope: scope });
    }
    const fresh = parsed.data.events.filter((e) => !deps.seen.get(e.id));
    try {
      await deps.submit(fresh, { iss: publisher.issuer, sub: publisher.subject });
    } catch (err) {
      throw new Problem('kafka-unavailable', `this site's Kafka did not acknowledge either: ${(err as Error).message}`);
    }
    for (const e of fresh) deps.seen.set(e.id, { id: e.id, type: e.type, routedTo: [], writtenAt: deps.site });
    deps.log.info({ from: caller, events: fresh.length, publisher: { iss: publisher.issuer, sub: publisher.subject } }, 'wrote events for a peer (failover)');
    return { writtenAt: deps.site, accepted: fresh.length };
  };
}
