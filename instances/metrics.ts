import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { LagSummary } from '../federation/index.ts';
import type { DeliveryMetrics } from './delivery/index.ts';

/** What a downstream consumer reports after each batch it has applied and acknowledged. */
export interface ConsumerMetrics {
  batch(o: { consumer: string; applied: number; deadLettered: number; effectLatencySeconds: number[] }): void;
  retried(consumer: string): void;
}

/** What the monitoring consumer reports. */
export interface MonitoringMetrics {
  rows(count: number): void;
}

export interface InstanceMetrics extends ConsumerMetrics, MonitoringMetrics, DeliveryMetrics {
  render(): Promise<{ contentType: string; body: string }>;
}

/**
 * The instance's Prometheus metrics (GET /metrics on its read API, with the
 * site's metrics credential). Labels are bounded: consumer and group names
 * come from the fixed consumer list, never from event data.
 */
export function createInstanceMetrics(options: {
  site: string;
  consumers: readonly string[];
  /** Delivery subscriptions, as `<protocol>:<name>` (from the topology: bounded). */
  subscriptions?: readonly string[];
  lag: () => Promise<Record<string, LagSummary>>;
}): InstanceMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ site: options.site });
  collectDefaultMetrics({ register: registry, prefix: 'fedgate_instance_' });
  const processed = new Counter({
    name: 'fedgate_consumer_processed_events_total',
    help: 'Events whose effect a downstream consumer applied (offsets committed after)',
    labelNames: ['consumer'],
    registers: [registry],
  });
  const deadLettered = new Counter({
    name: 'fedgate_dead_letter_events_total',
    help: 'Events a downstream consumer sent to the dead-letter topic (undecodable, or their effect failed for good)',
    labelNames: ['consumer'],
    registers: [registry],
  });
  const retries = new Counter({
    name: 'fedgate_effect_retries_total',
    help: 'Effect writes tried again after a retriable database error',
    labelNames: ['consumer'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'fedgate_effect_latency_seconds',
    help: 'From publish (the event time) to its effect applied at this site',
    labelNames: ['consumer'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  const monitoringRows = new Counter({
    name: 'fedgate_monitoring_rows_total',
    help: 'Monitoring rows written to the site database',
    registers: [registry],
  });
  new Gauge({
    name: 'fedgate_consumer_lag_records',
    help: 'Records the site’s consumer group has not yet processed, over every topic it reads',
    labelNames: ['group'],
    registers: [registry],
    async collect() {
      try {
        for (const [group, lag] of Object.entries(await options.lag())) this.set({ group }, lag.records);
      } catch {
        // Kafka unreachable: the gauge keeps its last values and the scrape still answers
      }
    },
  });
  const delivered = new Counter({
    name: 'fedgate_delivery_delivered_events_total',
    help: 'Events a subscription delivered and its receiver acknowledged (2xx, publisher confirm, PUBACK)',
    labelNames: ['subscription'],
    registers: [registry],
  });
  const deliveryDeadLettered = new Counter({
    name: 'fedgate_delivery_dead_letter_events_total',
    help: 'Events a subscription gave up on after its attempts, sent to its dead-letter topic',
    labelNames: ['subscription'],
    registers: [registry],
  });
  const failedAttempts = new Counter({
    name: 'fedgate_delivery_failed_attempts_total',
    help: 'Delivery attempts that failed (each retried or, the last, dead-lettered)',
    labelNames: ['subscription'],
    registers: [registry],
  });
  const deliveryLatency = new Histogram({
    name: 'fedgate_delivery_latency_seconds',
    help: 'From the origin gateway accepting an event to its receiver acknowledging it',
    labelNames: ['subscription'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  for (const subscription of options.subscriptions ?? []) for (const c of [delivered, deliveryDeadLettered, failedAttempts]) c.inc({ subscription }, 0);
  // Every consumer's counters exist (at 0) before its first event: increase() over a window needs the series.
  for (const consumer of options.consumers) for (const c of [processed, deadLettered, retries]) c.inc({ consumer }, 0);
  return {
    batch({ consumer, applied, deadLettered: dl, effectLatencySeconds }) {
      processed.inc({ consumer }, applied);
      deadLettered.inc({ consumer }, dl);
      for (const s of effectLatencySeconds) latency.observe({ consumer }, s);
    },
    retried: (consumer) => retries.inc({ consumer }),
    delivery({ subscription, delivered: d, deadLettered: dl, failedAttempts: f, latencySeconds }) {
      delivered.inc({ subscription }, d);
      deliveryDeadLettered.inc({ subscription }, dl);
      failedAttempts.inc({ subscription }, f);
      for (const s of latencySeconds) deliveryLatency.observe({ subscription }, s);
    },
    rows: (count) => monitoringRows.inc(count),
    render: async () => ({ contentType: registry.contentType, body: await registry.metrics() }),
  };
}
