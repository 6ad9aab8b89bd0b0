import type { Logger } from 'pino';
import {
  completeEvent,
  EVENT_TYPES,
  type EventType,
  fastPublishInput,
  fromZod,
  KIND_OF_TYPE,
  Problem,
  type ProductEvent,
  type Publisher,
  PublishInputSchema,
} from '../contract/index.ts';
import { RoutingError, type Topology } from '../federation/index.ts';
import type { AcceptedEvent, PublishResult } from './accepted.ts';
import { OverloadedError } from './batcher.ts';
import { routeOf } from './distributor.ts';
import type { Enricher } from './enrichment.ts';
import type { VerifiedToken } from './verifier.ts';

export type { AcceptedEvent, PublishResult } from './accepted.ts';

export interface PublishServiceDeps {
  topology: Topology;
  site: string;
  log: Logger;
  /** Writes to the local Kafka (micro-batched); resolves on acks=all. The publisher goes into the `published` monitoring rows. */
  submit(events: ProductEvent[], publisher: Publisher): Promise<void>;
  /** Writes through a peer gateway, with the publisher's own token so the peer can verify who published; resolves with the peer's site, or rejects. */
  failover(events: ProductEvent[], publisherToken: string): Promise<string>;
  seen: { get(id: string): AcceptedEvent | undefined; set(id: string, v: AcceptedEvent): void };
  /** How far an event's `time` may be ahead of this gateway's clock. */
  maxFutureSkewMs: number;
  now?: () => number;
  onOutcome?: (outcome: 'accepted' | 'failover' | 'duplicate' | 'rejected', count: number) => void;
  /** Adds the PIS catalog's data to each event (the federation has a PIS); absent, events pass as published. */
  enrich?: Enricher;
}

const KNOWN_TYPES = new Set<string>(Object.values(EVENT_TYPES));

export function scopeFor(type: EventType): string {
  return `publish:${KIND_OF_TYPE[type]}`;
}

/**
 * Validates every event first (a batch is all or nothing), checks the
 * token's scopes per event type, routes, then writes: 2xx only after a Kafka
 * ack, here or at a peer.
 */
export function createPublishService(deps: PublishServiceDeps) {
  const now = deps.now ?? Date.now;
  const pending = new Map<string, Promise<AcceptedEvent>>();

  function validate(
    raw: unknown[],
    token: VerifiedToken,
    onInvalid?: (index: number, problem: Problem) => void,
  ): { events: ProductEvent[]; indices: number[] } {
    const events: ProductEvent[] = [];
    const indices: number[] = [];
    const each = (item: unknown, i: number) => {
      const at = raw.length > 1 ? `[${i}]` : '';
      const type = (item as { type?: unknown })?.type;
      if (typeof type !== 'string' || !KNOWN_TYPES.has(type)) {
        throw new Problem(
          'unknown-event-type',
          `${at ? `event ${at}: ` : ''}type ${typeof type === 'string' ? JSON.stringify(type.slice(0, 100)) : `(${type === null ? 'null' : typeof type})`} is not one of ${[...KNOWN_TYPES].join(', ')}`,
          {
            knownTypes: [...KNOWN_TYPES],
          },
        );
      }
      const fast = fastPublishInput(item); // the schema's checks for the usual shapes (contract/event-model.ts)
      const parsed = fast ? { success: true as const, data: fast } : PublishInputSchema.safeParse(item);
      if (!parsed.success) {
        const p = fromZod('invalid-event', parsed.error);
        throw new Problem('invalid-event', at ? `event ${at}: ${p.detail}` : p.detail, { ...p.extra, index: i });
      }
      const time = parsed.data.time === undefined ? null : Date.parse(parsed.data.time);
      if (time !== null && time - now() > deps.maxFutureSkewMs) {
        // Last writer wins by event time: a far-future time would pin the product's state.
        throw new Problem(
          'invalid-event',
          `${at ? `event ${at}: ` : ''}time ${parsed.data.time} is more than ${deps.maxFutureSkewMs / 1000} s ahead of this gateway's clock`,
          { index: i },
        );
      }
      const scope = scopeFor(parsed.data.type);
      if (!token.scopes.has(scope))
        throw new Problem('insufficient-scope', `the token lacks scope "${scope}" for ${parsed.data.type}`, { requiredScope: scope });
      const event = completeEvent(parsed.data, deps.site, now());
      try {
        routeOf(deps.topology, event);
      } catch (err) {
        if (err instanceof RoutingError) throw new Problem(err.code, `${at ? `event ${at}: ` : ''}${err.message}`);
        throw err;
      }
      events.push(event);
      indices.push(i);
    };
    raw.forEach((item, i) => {
      if (!onInvalid) {
        each(item, i);
        return;
      }
      try {
        each(item, i);
      } catch (err) {
        if (!(err instanceof Problem)) throw err;
        onInvalid(i, err);
      }
    });
    const ids = new Set<string>();
    for (const e of events) {
      if (ids.has(e.id)) throw new Problem('invalid-event', `event id "${e.id}" appears twice in the batch`);
      ids.add(e.id);
    }
    return { events, indices };
  }

  /**
   * Enrichment, after validation and before the write: every event gets its
   * product's catalog data. Under the `dead-letter` policy an unknown product
   * is refused like an invalid event (problem `unknown-product`).
   */
  async function enrich(events: ProductEvent[], indices: number[], onInvalid?: (index: number, problem: Problem) => void): Promise<ProductEvent[]> {
    if (!deps.enrich) return events;
    const catalogs = await deps.enrich.catalogOf(events.map((e) => e.subject));
    const kept: ProductEvent[] = [];
    events.forEach((e, k) => {
      const catalog = catalogs.get(e.subject)!;
      if (catalog.status === 'unenriched' && catalog.reason === 'unknown-product' && deps.enrich!.unknownProduct === 'dead-letter') {
        const at = events.length > 1 || indices[k]! > 0 ? `event [${indices[k]}]: ` : '';
        const problem = new Problem('unknown-product', `${at}product "${e.subject}" is not in the PIS catalog, and this site refuses unknown products`, {
          productId: e.subject,
          index: indices[k],
        });
        if (!onInvalid) throw problem;
        onInvalid(indices[k]!, problem);
        return;
      }
      kept.push({ ...e, data: { ...e.data, catalog } } as ProductEvent);
    });
    return kept;
  }

  async function write(events: ProductEvent[], token: VerifiedToken): Promise<string> {
    try {
      await deps.submit(events, { iss: token.issuer, sub: token.subject });
      return deps.site;
    } catch (err) {
      if (err instanceof OverloadedError) throw new Problem('overloaded', err.message, {}, { 'retry-after': '1' });
      deps.log.warn({ err: (err as Error).message, events: events.length }, 'local Kafka did not acknowledge; failing over to a peer');
      try {
        const writtenAt = await deps.failover(events, token.raw);
        deps.onOutcome?.('failover', events.length);
        return writtenAt;
      } catch (peerErr) {
        deps.log.error({ err: (peerErr as Error).message }, 'no peer took the events');
        throw new Problem(
          'kafka-unavailable',
          'the local Kafka did not acknowledge the write and no peer gateway could take it; nothing was accepted',
          {},
          { 'retry-after': '5' },
        );
      }
    }
  }

  /**
   * `onInvalid`: events that fail validation are handed to it and left out,
   * instead of failing the whole batch (change capture dead-letters them).
   */
  return async function publish({
    input,
  }: {
    input: { events: unknown[]; token: VerifiedToken; onInvalid?: (index: number, problem: Problem) => void };
  }): Promise<PublishResult> {
    let events: ProductEvent[];
    let rejected = 0;
    const onInvalid =
      input.onInvalid &&
      ((i: number, p: Problem) => {
        rejected++;
        input.onInvalid!(i, p);
      });
    try {
      const valid = validate(input.events, input.token, onInvalid);
      events = await enrich(valid.events, valid.indices, onInvalid);
    } catch (err) {
      deps.onOutcome?.('rejected', input.events.length);
      throw err;
    }
    if (rejected > 0) deps.onOutcome?.('rejected', rejected);
    const results = new Map<string, AcceptedEvent>();
    const fresh: ProductEvent[] = [];
    const waits: Promise<void>[] = [];
    for (const e of events) {
      const known = deps.seen.get(e.id);
      if (known) {
        results.set(e.id, { ...known, duplicate: true });
        continue;
      }
      const inFlight = pending.get(e.id);
      if (inFlight) {
        waits.push(inFlight.then((a) => void results.set(e.id, { ...a, duplicate: true })));
        continue;
      }
      fresh.push(e);
    }
    if (fresh.length > 0) {
      const written = write(fresh, input.token).then((writtenAt) => {
        for (const e of fresh) {
          const accepted: AcceptedEvent = { id: e.id, type: e.type, routedTo: routeOf(deps.topology, e).targets, writtenAt };
          deps.seen.set(e.id, accepted);
          results.set(e.id, accepted);
        }
      });
      for (const e of fresh) {
        const p = written.then(() => results.get(e.id)!);
        p.catch(() => {});
        pending.set(e.id, p);
      }
      try {
        await written;
      } finally {
        for (const e of fresh) pending.delete(e.id);
      }
      deps.onOutcome?.('accepted', fresh.length);
    }
    await Promise.all(waits);
    if (results.size > fresh.length) deps.onOutcome?.('duplicate', results.size - fresh.length);
    return { events: events.map((e) => results.get(e.id)!) };
  };
}
export type PublishService = ReturnType<typeof createPublishService>;
