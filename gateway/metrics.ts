import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** What the gateway reports; structural, so services do not depend on prom-client. */
export const PUBLISH_OUTCOMES = ['accepted', 'failover', 'duplicate', 'rejected'] as const;

export interface GatewayMetrics {
  published(outcome: (typeof PUBLISH_OUTCOMES)[number], count: number): void;
  rejected(code: string): void;
  publishSeconds(seconds: number): void;
  batch(size: number): void;
  /** One HTTP answer: the route pattern that served it (bounded) and its status. */
  response(route: string, status: number): void;
  render(): Promise<{ contentType: string; body: string }>;
}

/** A flow into this site, as the federated view computes it (federation/flow-lags.ts). */
export interface FlowLagReading {
  from: string;
  to: string;
  records: number;
  seconds: number;
  lostToRetention: number;
}

export interface GatewayMetricsOptions {
  site: string;
  inFlight: () => number;
  /** The MM2 flows into this site (each site's gateway reports its own, so no series is reported twice). */
  flowsIn: () => Promise<FlowLagReading[]>;
  /** The site's certificates (CA included): name and expiry, read at each scrape, so a rotation shows at once. */
  certificates: () => Array<{ name: string; notAfter: Date }>;
}

export function createPromMetrics(options: GatewayMetricsOptions): GatewayMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ site: options.site });
  collectDefaultMetrics({ register: registry, prefix: 'fedgate_gateway_' });
  const events = new Counter({ name: 'fedgate_publish_events_total', help: 'Events by publish outcome', labelNames: ['outcome'], registers: [registry] });
  // Every outcome's series exists (at 0) from the start: rate() and increase() over a window need samples from before the first event.
  for (const outcome of PUBLISH_OUTCOMES) events.inc({ outcome }, 0);
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
  const responses = new Counter({
    name: 'fedgate_http_responses_total',
    help: 'HTTP answers by route pattern and status class',
    labelNames: ['route', 'class'],
    registers: [registry],
  });
  // The flow gauges share one federated reading per scrape: prom-client starts every collect() at once,
  // so a reading in progress is joined, and the next scrape reads anew.
  let reading: Promise<FlowLagReading[] | null> | null = null;
  const readFlows = () => {
    reading ??= options
      .flowsIn()
      .catch(() => null)
      .finally(() => {
        reading = null;
      });
    return reading;
  };
  const flowGauge = (name: string, help: string, pick: (f: FlowLagReading) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['from', 'to'],
      registers: [registry],
      async collect() {
        // A flow whose lag is unknown (a site did not answer) has no value rather than a stale one.
        this.reset();
        for (const f of (await readFlows()) ?? []) this.set({ from: f.from, to: f.to }, pick(f));
      },
    });
  flowGauge('fedgate_flow_lag_records', 'Records at the source not yet copied here by MM2', (f) => f.records);
  flowGauge(
    'fedgate_flow_lag_seconds',
    'How far behind its source the copy here is: 0 when nothing is pending, else the age of the newest heartbeat MM2 copied',
    (f) => f.seconds,
  );
  flowGauge(
    'fedgate_flow_lost_to_retention_records',
    'Records the source deleted (retention) before MM2 copied them here; must be 0',
    (f) => f.lostToRetention,
  );
  new Gauge({
    name: 'fedgate_flow_lag_readable',
    help: '1 when the flows into this site could be read at this scrape, else 0',
    registers: [registry],
    async collect() {
      this.set((await readFlows()) ? 1 : 0);
    },
  });
  new Gauge({
    name: 'fedgate_certificate_expiry_timestamp_seconds',
    help: 'When each certificate of this site expires (Unix seconds)',
    labelNames: ['certificate'],
    registers: [registry],
    collect() {
      this.reset();
      for (const c of options.certificates()) this.set({ certificate: c.name }, Math.floor(c.notAfter.getTime() / 1000));
    },
  });
  return {
    published: (outcome, count) => events.inc({ outcome }, count),
    rejected: (code) => rejections.inc({ code }),
    publishSeconds: (s) => latency.observe(s),
    batch: (n) => batches.observe(n),
    response: (route, status) => responses.inc({ route, class: `${Math.floor(status / 100)}xx` }),
    render: async () => ({ contentType: registry.contentType, body: await registry.metrics() }),
  };
}
