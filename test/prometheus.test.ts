import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueToken } from '../certs/index.ts';
import { asPromQL, dashboards } from '../deploy/grafana/dashboards.ts';
import { prometheusConfig } from '../deploy/prometheus/config.ts';
import { type PrometheusServer, startPrometheus } from '../deploy/prometheus/server.ts';
import { createTestFederation, REPO, type TestFederation, testTopology } from './support/federation.ts';

/**
 * A real Prometheus (Debian's) scrapes a real two-site federation with the
 * prometheus.yml fedgate renders and fedgate's alert rules, only with short
 * `for:` durations and thresholds so the alerts move within a test. Every
 * target is up with the sites' metrics credentials; the metrics the rules
 * use carry data; cutting a flow puts the flow-lag alert in pending; stopping
 * a site fires the site-down alert.
 */
const topology = testTopology(201, [
  { name: 'a', regions: ['eu'], countries: ['DE'] },
  { name: 'b', regions: ['us', 'eu'], countries: ['US'] },
]);

describe('Prometheus scrapes the federation', () => {
  let fed: TestFederation;
  let prom: PrometheusServer;

  beforeAll(async () => {
    fed = createTestFederation('prometheus', topology);
    await fed.launcher.up();
    const dir = join(fed.runDir, 'prometheus');
    mkdirSync(dir, { recursive: true });
    // The shipped rules, with test-sized durations and thresholds.
    const rules = readFileSync(join(REPO, 'deploy/prometheus/rules.yml'), 'utf8')
      .replace(/for: \d+m/g, 'for: 3s')
      .replace('fedgate_flow_lag_seconds > 60', 'fedgate_flow_lag_seconds > 3');
    writeFileSync(join(dir, 'rules.yml'), rules);
    prom = await startPrometheus({
      dir,
      listen: `${fed.site('a').address}:19090`,
      config: prometheusConfig(topology, {
        certsDir: fed.certsDir,
        ruleFiles: [join(dir, 'rules.yml')],
        scrapeIntervalSeconds: 2,
        evaluationIntervalSeconds: 1,
      }),
    });
  }, 240_000);
  afterAll(async () => {
    await prom?.stop();
    await fed?.stop();
  });

  async function eventually<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: T | undefined;
    for (;;) {
      last = await fn().catch(() => undefined);
      if (last !== undefined && ok(last)) return last;
      if (Date.now() > deadline) throw new Error(`${what}: not reached in ${timeoutMs / 1000} s; last: ${JSON.stringify(last)?.slice(0, 600)}`);
      await sleep(500);
    }
  }
  const publish = async (site: string, events: unknown[]) => {
    const token = await issueToken({ secretsDir: fed.certsDir, topology, site, scopes: ['publish:price'], ttlSeconds: 600 });
    const res = await fetch(`${fed.launcher.gatewayUrl(site)}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(events),
    });
    expect(res.status).toBe(202);
  };
  const euPrices = (n: number) =>
    Array.from({ length: n }, (_, i) => ({
      type: 'com.fedgate.pim.price.updated',
      id: `prom-${randomUUID()}`,
      data: { productId: `sku-prom-${i % 7}`, region: 'eu', price: { currency: 'EUR', amount: `${10 + i}.00` } },
    }));
  const value = (r: Array<{ value: [number, string] }>) => r.map((x) => Number(x.value[1]));

  it('every target is up, scraped with its site’s metrics credential', async () => {
    const targets = await eventually(
      'every target up',
      () => prom.targets(),
      (t) => t.length === 8 && t.every((x) => x.health === 'up'),
    );
    expect(targets.map((t) => `${t.labels.job}@${t.labels.site}`).sort()).toEqual([
      'fedgate-broker@a',
      'fedgate-broker@b',
      'fedgate-gateway@a',
      'fedgate-gateway@b',
      'fedgate-instance@a',
      'fedgate-instance@b',
      'fedgate-mm2@a',
      'fedgate-mm2@b',
    ]);
  });

  it('without the credential, /metrics of the gateway and the instance answer 401, and so do the JMX exporters', async () => {
    for (const url of [fed.launcher.gatewayUrl('a'), fed.launcher.instanceUrl('a')]) {
      const res = await fetch(`${url}/metrics`);
      expect(res.status).toBe(401);
      expect((await res.json()).code).toBe('missing-token');
    }
    const { address, ports } = fed.site('a');
    for (const port of [ports.brokerMetrics, ports.mm2Metrics]) {
      expect((await fetch(`http://${address}:${port}/metrics`)).status).toBe(401);
      const wrong = Buffer.from('prometheus:not-the-secret').toString('base64');
      expect((await fetch(`http://${address}:${port}/metrics`, { headers: { authorization: `Basic ${wrong}` } })).status).toBe(401);
    }
  });

  it('after a publish, the metrics the alert rules and dashboards use carry data', async () => {
    await publish('a', euPrices(40));
    await eventually(
      'publishes counted',
      () => prom.query('sum(fedgate_publish_events_total{outcome="accepted",site="a"})'),
      (r) => value(r)[0] === 40,
    );
    // eu prices are effects at a and (copied by MM2) at b.
    for (const site of ['a', 'b'])
      await eventually(
        `price-book at ${site} processed them`,
        () => prom.query(`fedgate_consumer_processed_events_total{consumer="price-book",site="${site}"}`),
        (r) => value(r)[0] === 40,
      );
    await eventually(
      'effect latency observed',
      () => prom.query('sum by (site) (fedgate_effect_latency_seconds_count{consumer="price-book"})'),
      (r) => r.length === 2 && value(r).every((v) => v === 40),
    );
    await eventually(
      'publish responses counted by route and class',
      () => prom.query('fedgate_http_responses_total{route="/v1/events",class="2xx",site="a"}'),
      (r) => value(r)[0]! >= 1,
    );
    const flows = await eventually(
      'flow lag series for a -> b and b -> a, at 0 once copied',
      () => prom.query('fedgate_flow_lag_records'),
      (r) => r.length === 2 && value(r).every((v) => v === 0),
    );
    expect(flows.map((f) => `${f.metric.from}->${f.metric.to}@${f.metric.site}`).sort()).toEqual(['a->b@b', 'b->a@a']);
    const certs = await prom.query('fedgate_certificate_expiry_timestamp_seconds - time()');
    expect(certs.length).toBeGreaterThan(0);
    expect(value(certs).every((s) => s > 14 * 86400)).toBe(true);
    expect(value(await prom.query('sum(fedgate_dead_letter_events_total)'))).toEqual([0]);
    expect(value(await prom.query('count(fedgate_consumer_lag_records)'))[0]).toBeGreaterThanOrEqual(6);
    expect(value(await prom.query('count(fedgate_monitoring_rows_total > 0)'))).toEqual([2]);
    // The brokers and MM2 nodes, through the JMX exporters.
    await eventually(
      'messages in at a’s broker',
      () => prom.query('kafka_server_messages_in_total{site="a"}'),
      (r) => value(r)[0]! >= 40,
    );
    expect(value(await prom.query('sum(kafka_server_replicamanager_underreplicatedpartitions)'))).toEqual([0]);
    await eventually(
      'MM2 at b copied a’s eu prices',
      () => prom.query('sum(kafka_connect_mirror_source_connector_record_count_total{site="b",topic="a.fed.price.eu"})'),
      (r) => value(r)[0]! >= 40,
    );
    expect(value(await prom.query('count(kafka_connect_mirror_source_connector_replication_latency_ms_max{site="b",topic="a.fed.price.eu"})'))).toEqual([3]);
    // Nothing fires on a healthy federation.
    expect(await prom.alerts()).toEqual([]);
  });

  it('every Grafana panel’s query returns data (site a for the site view, b for the MM2 node pulling a’s prices)', async () => {
    // Fresh traffic, so every rate over the last minute has something to show.
    await publish('a', euPrices(30));
    // Both sites scraped after applying them: the site view below is a's (a race seen once in CI: b scraped, a not yet).
    for (const s of ['b', 'a'])
      await eventually(
        `the new events applied at ${s}`,
        () => prom.query(`sum(fedgate_consumer_processed_events_total{site="${s}",consumer="price-book"})`),
        (r) => value(r)[0] === 70,
      );
    const variables: Record<string, Record<string, string>> = { 'fedgate-site': { site: 'a' }, 'fedgate-mm2': { site: 'b' } };
    const empty: string[] = [];
    let queries = 0;
    for (const d of dashboards())
      for (const p of d.panels)
        for (const t of p.targets) {
          queries++;
          const promql = asPromQL(t.expr, variables[d.uid] ?? {});
          const r = await prom.query(promql);
          if (!value(r).some((v) => Number.isFinite(v))) empty.push(`${d.uid} / ${p.title}: ${promql}`);
        }
    expect(queries).toBeGreaterThanOrEqual(25);
    expect(empty).toEqual([]);
  });

  it('cutting the flow a -> b (b’s MM2 node stopped) puts the flow-lag alert in pending, then firing', async () => {
    await fed.launcher.stop('b', 'mm2');
    await publish('a', euPrices(20));
    const lagging = await eventually(
      'flow lag alert',
      () => prom.alerts(),
      (a) => a.some((x) => x.labels.alertname === 'FedgateFlowLagHigh' && x.labels.from === 'a' && x.labels.to === 'b'),
    );
    expect(lagging.filter((x) => x.labels.alertname === 'FedgateFlowLagHigh').map((x) => `${x.labels.from}->${x.labels.to}`)).toEqual(['a->b']);
    expect(value(await prom.query('fedgate_flow_lag_records{from="a",to="b"}'))).toEqual([20]);
    await eventually(
      'flow lag alert firing',
      () => prom.alerts(),
      (a) => a.some((x) => x.labels.alertname === 'FedgateFlowLagHigh' && x.state === 'firing'),
    );
  });

  it('stopping site b fires the site-down alert for b, and only for b', async () => {
    await fed.launcher.stop('b', 'gateway');
    await fed.launcher.stop('b', 'instance');
    const down = await eventually(
      'site-down alert firing',
      () => prom.alerts(),
      (a) => a.some((x) => x.labels.alertname === 'FedgateSiteDown' && x.state === 'firing'),
    );
    expect(down.filter((x) => x.labels.alertname === 'FedgateSiteDown').map((x) => [x.labels.site, x.labels.severity])).toEqual([['b', 'critical']]);
  });
});
