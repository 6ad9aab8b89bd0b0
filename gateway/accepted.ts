/**
 * The publish answer, as the gateway holds it (contract/public-api.ts has
 * its schema). Its own module so that both the publish service and the
 * durable window (which the distributor uses) can name it without a cycle.
 */
export interface AcceptedEvent {
  id: string;
  type: string;
  routedTo: readonly string[];
  /** The site whose Kafka acknowledged the write. */
  writtenAt: string;
  /** True when this id was accepted before and was not written again. */
  duplicate?: true;
}

export interface PublishResult {
  events: AcceptedEvent[];
}
