import type { Producer, TopicMessages } from 'kafkajs';
import { KIND_OF_TYPE, type MonitoringEvent, monitoringRecord, type ProductEvent, type Publisher, siteOfSource, toKafkaRecord } from '../contract/index.ts';
import { IDEMPOTENCY_TOPIC, MONITORING_TOPIC, type Route, routeEvent, type Topology } from '../federation/index.ts';
import { eventWindowRecord } from './durable-window.ts';

export interface Distributed {
  event: ProductEvent;
  route: Route;
}

/** The routing inputs of an event (pure). */
export function routeOf(topology: Topology, event: ProductEvent): Route {
  const kind = KIND_OF_TYPE[event.type];
  const data = event.data as { region?: string; country?: string };
  return routeEvent(topology, { kind, region: data.region, country: data.country });
}

/**
 * Writes events to their local topics: the routed topic(s) MM2 carries to the
 * target sites (the site's event store reads them too). One Produce request per call
 * (kafkajs does no batching of its own), acks=all: when this resolves, every
 * record is on the broker.
 *
 * With `monitorSite`, the `published` and `routed` monitoring events go in the
 * same request (as one monitoring record per event), so they are acknowledged
 * together with the events.
 */
export function createDistributor(deps: {
  producer: Producer;
  topology: Topology;
  monitorSite?: string;
  timeoutMs?: number;
  /** Also record each event in the site's idempotency window (durable-window.ts), in the same request. Needs `monitorSite`. */
  window?: boolean;
}) {
  /** `publisherOf` names who published each event, for its `published` monitoring row. */
  return async function distribute(events: ProductEvent[], publisherOf?: (event: ProductEvent) => Publisher | undefined): Promise<Distributed[]> {
    const byTopic = new Map<string, TopicMessages['messages']>();
    const add = (topic: string, message: TopicMessages['messages'][number]) => {
      const list = byTopic.get(topic) ?? [];
      list.push(message);
      byTopic.set(topic, list);
    };
    const routedAt = Date.now();
    const out = events.map((event) => {
      const route = routeOf(deps.topology, event);
      const record = toKafkaRecord(event);
      for (const topic of route.topics) add(topic, record);
      if (deps.monitorSite) {
        const origin = siteOfSource(event.source);
        const publisher = publisherOf?.(event);
        const base = { eventId: event.id, site: deps.monitorSite, consumer: '', productId: event.subject, eventType: event.type, sourceSite: origin };
        const published: MonitoringEvent = {
          ...base,
          stage: 'published',
          at: event.publishedat,
          latencyMs: 0,
          detail: {
            ...(origin !== deps.monitorSite ? { failoverFrom: origin } : { traceparent: event.traceparent }),
            ...(publisher ? { publisher } : {}),
          },
        };
        const routed: MonitoringEvent = {
          ...base,
          stage: 'routed',
          at: routedAt,
          latencyMs: routedAt - event.publishedat,
          detail: { targets: route.targets, topics: route.topics },
        };
        add(MONITORING_TOPIC, monitoringRecord([published, routed]));
        if (deps.window) add(IDEMPOTENCY_TOPIC, eventWindowRecord({ id: event.id, type: event.type, routedTo: route.targets, writtenAt: deps.monitorSite }));
      }
      return { event, route };
    });
    if (byTopic.size > 0) {
      await deps.producer.sendBatch({ acks: -1, timeout: deps.timeoutMs, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
    }
    return out;
  };
}
