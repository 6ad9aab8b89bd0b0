import { issueToken, READ_SCOPE } from '../../certs/index.ts';
import type { SiteStatus } from '../../deploy/index.ts';
import { type Command, launcherFrom, type Out, parse, pathsFrom, topologyFrom } from '../context.ts';

type FlowRow = { from: string; to: string; records?: number; seconds?: number; lostToRetention?: number; unknown?: true };
type SubscriptionRow = {
  site: string;
  name: string;
  state: string;
  lagRecords: number | null;
  delivered: number;
  deadLettered: number;
  lastError: string | null;
};
type Stats = { flows: FlowRow[]; subscriptions: SubscriptionRow[] };

export const statusCommand: Command = {
  name: 'status',
  usage: `  status [--json]          processes, listeners and readiness per site; MM2 lag per flow; delivery subscriptions`,
  async run(args, ctx) {
    const { values } = parse(args, { json: { type: 'boolean' } });
    const topology = topologyFrom(values, ctx.env);
    const status = await launcherFrom(topology, values, ctx).status();
    const gateway = status.find((s) => s.gateway.ready);
    // The federated view needs a read token: a short one from that site's own issuer key, which the operator holds.
    const read = gateway
      ? await issueToken({
          secretsDir: pathsFrom(values, ctx.env).certsDir,
          topology,
          site: gateway.site,
          scopes: [READ_SCOPE],
          subject: 'fedgate-status',
          ttlSeconds: 60,
        })
      : null;
    const stats = gateway && read ? await statsOf(gateway.gateway.url, read) : null;
    const flows = stats?.flows ?? null;
    if (values.json) {
      ctx.out.data(JSON.stringify({ sites: status, flows, subscriptions: stats?.subscriptions ?? null }, null, 2));
      return 0;
    }
    printStatus(status, ctx.out);
    if (flows === null) {
      ctx.out.data('\nflow lag: no gateway is up to compute it');
      return 0;
    }
    const rows = flows.map(
      (f) =>
        `${`${f.from} -> ${f.to}`.padEnd(22)}${String(f.records ?? '?').padStart(7)}  ${String(f.seconds ?? '?').padStart(7)}${f.lostToRetention ? `  LOST ${f.lostToRetention} records to retention at ${f.from}` : ''}`,
    );
    ctx.out.data(`\n${'flow'.padEnd(22)}records  seconds\n${rows.join('\n')}`);
    if (stats && stats.subscriptions.length > 0) {
      const subs = stats.subscriptions.map(
        (x) =>
          `${`${x.site}/${x.name}`.padEnd(30)}${x.state.padEnd(13)}${String(x.lagRecords ?? '?').padStart(7)}${String(x.delivered).padStart(11)}${String(x.deadLettered).padStart(15)}${x.lastError ? `  last error: ${x.lastError.slice(0, 80)}` : ''}`,
      );
      ctx.out.data(
        `\n${'subscription'.padEnd(30)}${'state'.padEnd(13)}${'lag'.padStart(7)}${'delivered'.padStart(11)}${'dead-lettered'.padStart(15)}\n${subs.join('\n')}`,
      );
    }
    return 0;
  },
};

/** MM2 lag per flow (federation/flow-lags.ts) and every site's subscriptions, from a ready gateway's federated view; null when it does not answer. */
async function statsOf(gatewayUrl: string, token: string): Promise<Stats | null> {
  try {
    const res = await fetch(`${gatewayUrl}/v1/federation/stats?windowSeconds=60`, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(5000),
    });
    if (!res.ok) return null;
    const body = (await res.json()) as { links: FlowRow[]; sites: { site: string; subscriptions: Omit<SubscriptionRow, 'site'>[] | null }[] };
    return { flows: body.links, subscriptions: body.sites.flatMap((s) => (s.subscriptions ?? []).map((x) => ({ site: s.site, ...x }))) };
  } catch {
    return null;
  }
}

export function printStatus(sites: SiteStatus[], out: Out): void {
  const mark = (c: { running: boolean; ready: boolean }) => (c.ready ? 'ready' : c.running ? 'starting' : 'stopped');
  const rows = [
    ['site', 'kafka (local)', 'kafka (mTLS)', 'broker', 'mm2', 'pulls from', 'db', 'instance', 'gateway', 'dashboard'],
    ...sites.map((s) => [
      s.site,
      s.listeners.local,
      s.listeners.interSite,
      mark(s.broker),
      s.mm2.upstream.length ? mark(s.mm2) : 'n/a',
      s.mm2.upstream.join(',') || '-',
      s.database.managed ? mark(s.database) : s.database.where.startsWith('PGlite') ? 'pglite' : 'server',
      s.instance.nodes ? `${mark(s.instance)} (${s.instance.pids?.length ?? 0}/${s.instance.nodes} workers)` : mark(s.instance),
      mark(s.gateway),
      `${s.gateway.url}/dashboard`,
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  out.data(rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ')).join('\n'));
  for (const s of sites.filter((x) => x.pis)) {
    out.data(
      `PIS at ${s.site}: database ${s.pis!.database.external ? "the PIS's own, not run by fedgate" : mark(s.pis!.database)} (${s.pis!.database.url}), Debezium on Connect ${mark(s.pis!.connect)} (${s.pis!.connect.url})`,
    );
  }
}
