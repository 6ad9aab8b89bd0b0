import { setTimeout as sleep } from 'node:timers/promises';
import { issueToken, REPLAY_SCOPE } from '../../certs/index.ts';
import { REPLAY_TARGETS, type ReplayJob } from '../../contract/index.ts';
import { type Command, parse, pathsFrom, requireSite, topologyFrom, UsageError } from '../context.ts';

/**
 * `fedgate replay`: asks a site's gateway to replay stored history to that
 * site's consumers (gateway/replay.ts), then follows the job until it ends.
 * Ctrl-C cancels the job (what it sent stays sent) unless --detach.
 */
export const replayCommand: Command = {
  name: 'replay',
  usage: `  replay --site S [--products A,B] [--from T] [--to T] [--consumer C] [--page-size N] [--detach] [--json]
                           re-send stored history (every site's event store) to site S's consumers:
                           by product ids and/or event time (ISO 8601, from included, to not);
                           C: all (default), ${REPLAY_TARGETS.filter((t) => t !== 'all').join(', ')},
                           or subscription:<name> (one of S's delivery subscriptions: its filter, oldest first).
                           Follows the job until it ends (Ctrl-C cancels it); --detach prints it and leaves it running
  replay --site S --cancel ID | --status ID
                           cancel a running replay, or show one`,
  async run(args, { env, out }) {
    const { values } = parse(args, {
      site: { type: 'string' },
      products: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      consumer: { type: 'string' },
      'page-size': { type: 'string' },
      detach: { type: 'boolean' },
      json: { type: 'boolean' },
      cancel: { type: 'string' },
      status: { type: 'string' },
    });
    const topology = topologyFrom(values, env);
    const site = requireSite(topology, values.site);
    const base = `http://${site.address}:${site.ports.gateway}/v1/replays`;
    const token = await issueToken({
      secretsDir: pathsFrom(values, env).certsDir,
      topology,
      site: site.name,
      scopes: [REPLAY_SCOPE],
      subject: 'fedgate-replay',
      ttlSeconds: 3600,
    });
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const call = async (url: string, init: RequestInit = {}) => {
      const res = await fetch(url, { ...init, headers }).catch((err: Error) => {
        throw new UsageError(`${site.name}'s gateway did not answer (${err.message}); is the federation up? (\`npx fedgate status\`)`);
      });
      const body = (await res.json().catch(() => ({}))) as ReplayJob & { code?: string; detail?: string };
      if (!res.ok) throw new UsageError(`${site.name}'s gateway refused: ${body.code ?? res.status}: ${body.detail ?? ''}`);
      return body;
    };
    const show = (job: ReplayJob) =>
      values.json
        ? out.data(JSON.stringify(job, null, 2))
        : out.data(
            `${job.id} at ${job.site}: ${job.state}; ${job.read} read, ${job.sent} sent, ${job.skipped} not served here` +
              `${job.unreachable.length > 0 ? `; did not answer: ${job.unreachable.join(', ')} (events only they hold were not replayed)` : ''}` +
              `${job.resumed > 0 ? `; resumed ${job.resumed}× after a gateway restart` : ''}` +
              `${job.error ? `; error: ${job.error}` : ''}`,
          );

    if (values.cancel) {
      show(await call(`${base}/${encodeURIComponent(values.cancel)}`, { method: 'DELETE' }));
      return 0;
    }
    if (values.status) {
      show(await call(`${base}/${encodeURIComponent(values.status)}`));
      return 0;
    }
    if (!values.products && !values.from && !values.to) {
      throw new UsageError('say what to replay: --products A,B and/or --from/--to (ISO 8601 event times)');
    }
    const pageSize = values['page-size'] === undefined ? undefined : Number(values['page-size']);
    const job = await call(base, {
      method: 'POST',
      body: JSON.stringify({
        ...(values.products ? { products: values.products.split(',').map((p) => p.trim()) } : {}),
        ...(values.from ? { from: values.from } : {}),
        ...(values.to ? { to: values.to } : {}),
        ...(values.consumer ? { consumer: values.consumer } : {}),
        ...(pageSize !== undefined ? { pageSize } : {}),
      }),
    });
    if (values.detach) {
      show(job);
      return 0;
    }
    out.info(`${job.id} started at ${site.name}; Ctrl-C cancels it`);
    let cancelled = false;
    const onSignal = () => {
      cancelled = true;
    };
    process.once('SIGINT', onSignal);
    try {
      let current = job;
      while (current.state === 'running') {
        await sleep(500);
        current = cancelled ? await call(`${base}/${job.id}`, { method: 'DELETE' }).catch(() => call(`${base}/${job.id}`)) : await call(`${base}/${job.id}`);
        if (!values.json && current.state === 'running') out.info(`${current.read} read, ${current.sent} sent`);
      }
      show(current);
      return current.state === 'done' ? 0 : 1;
    } finally {
      process.off('SIGINT', onSignal);
    }
  },
};
