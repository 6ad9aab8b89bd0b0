import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** What the gateway reports; structural, so services do not depend on prom-client. */
export interface GatewayMetrics {
  published(outcome: 'accepted' | 'failover' | 'duplicate' | 'rejected', count: number): void;
  rejected(code: string): void;
  publishSeconds(seconds: number): void;
  batch(size: number): void;
  render(): Promise<{ contentType: string; body: string }>;
}

export function createPromMetrics(options: { site: string; lag: () => Promise<Record<string, number>>; inFlight: () => number }): GatewayMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ site: options.site });
  collectDefaultMetrics({ register: registry, prefix: 'fedgate_gateway_' });
  const events = new Counter({ name: 'fedgate_publish_events_total', help: 'Events by publish outcome', labelNames: ['outcome'], registers: [registry] });
  const rejections = new Counter({
    name: 'fedgate_http_rejections_total',
    help: 'HTTP error answers by problem code',
    labelNames: ['code'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'fedgate_publish_seconds',
    help: 'Publish request time, accept to Kafka ack',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const batches = new Histogram({
    name: 'fedgate_kafka_batch_events',
    help: 'Events per shared Kafka request',
    buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000],
    registers: [registry],
  });
  new Gauge({
    name: 'fedgate_publish_in_flight_events',
    help: 'Events queued or in flight to Kafka',
    registers: [registry],
    collect() {
      this.set(options.inFlight());
    },
  });
  new Gauge({
    name: 'fedgate_consumer_lag_records',
    help: 'Consumer lag of this site’s groups, in records',
    labelNames: ['group'],
    registers: [registry],
    async collect() {
      try {
        for (const [group, lag] of Object.entries(await options.lag())) this.set({ group }, lag);
      } catch {
        // the instance may be down; the gauge keeps its last values
      }
    },
  });
  return {
    published: (outcome, count) => events.inc({ outcome }, count),
    rejected: (code) => rejections.inc({ code }),
    publishSeconds: (s) => latency.observe(s),
    batch: (n) => batches.observe(n),
    render: async () => ({ contentType: registry.contentType, body: await registry.metrics() }),
  };
}
