import { describe, expect, it } from 'vitest';
import { createPromMetrics, type FlowLagReading } from './metrics.ts';

describe('gateway metrics', () => {
  it('reports each flow into the site, and a flow that could not be read has no value rather than a stale one', async () => {
    let flows: FlowLagReading[] | Error = [{ from: 'b', to: 'a', records: 7, seconds: 2.5, lostToRetention: 0 }];
    const m = createPromMetrics({
      site: 'a',
      inFlight: () => 0,
      flowsIn: async () => {
        if (flows instanceof Error) throw flows;
        return flows;
      },
      certificates: () => [{ name: 'gateway', notAfter: new Date('2027-01-01T00:00:00Z') }],
    });
    const first = (await m.render()).body;
    expect(first).toContain('fedgate_flow_lag_records{from="b",to="a",site="a"} 7');
    expect(first).toContain('fedgate_flow_lag_seconds{from="b",to="a",site="a"} 2.5');
    expect(first).toContain('fedgate_flow_lost_to_retention_records{from="b",to="a",site="a"} 0');
    expect(first).toContain('fedgate_flow_lag_readable{site="a"} 1');
    expect(first).toContain(`fedgate_certificate_expiry_timestamp_seconds{certificate="gateway",site="a"} ${Date.parse('2027-01-01T00:00:00Z') / 1000}`);

    flows = new Error('peer down');
    const second = (await m.render()).body;
    expect(second).not.toMatch(/fedgate_flow_lag_records\{/);
    expect(second).toContain('fedgate_flow_lag_readable{site="a"} 0');
  });

  it('has every publish outcome at 0 before the first event (rate() over a window needs the earlier samples)', async () => {
    const m = createPromMetrics({ site: 'a', inFlight: () => 0, flowsIn: async () => [], certificates: () => [] });
    const body = (await m.render()).body;
    for (const outcome of ['accepted', 'failover', 'duplicate', 'rejected'])
      expect(body).toContain(`fedgate_publish_events_total{outcome="${outcome}",site="a"} 0`);
  });

  it('counts answers by route pattern and status class', async () => {
    const m = createPromMetrics({ site: 'a', inFlight: () => 0, flowsIn: async () => [], certificates: () => [] });
    m.response('/v1/events', 202);
    m.response('/v1/events', 202);
    m.response('/v1/events', 503);
    const body = (await m.render()).body;
    expect(body).toContain('fedgate_http_responses_total{route="/v1/events",class="2xx",site="a"} 2');
    expect(body).toContain('fedgate_http_responses_total{route="/v1/events",class="5xx",site="a"} 1');
  });
});
