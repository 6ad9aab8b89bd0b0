import type { Producer, TopicMessages } from 'kafkajs';
import { routeEvent, type Route, type Topology } from '../federation/index.ts';
import { KIND_OF_TYPE, toKafkaRecord, type ProductEvent } from './event-model.ts';

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
 * target sites, and the site's storage stream. One Produce request per call
 * (kafkajs does no batching of its own), acks=all: when this resolves, every
 * record is on the broker.
 */
export function createDistributor(deps: { producer: Producer; topology: Topology }) {
  return async function distribute(events: ProductEvent[]): Promise<Distributed[]> {
    const byTopic = new Map<string, TopicMessages['messages']>();
    const out = events.map((event) => {
      const route = routeOf(deps.topology, event);
      const record = toKafkaRecord(event);
      for (const topic of route.topics) {
        const list = byTopic.get(topic) ?? [];
        list.push(record);
        byTopic.set(topic, list);
      }
      return { event, route };
    });
    if (byTopic.size > 0) {
      await deps.producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
    }
    return out;
  };
}
