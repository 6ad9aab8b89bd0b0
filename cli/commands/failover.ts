import { Kafka, logLevel } from 'kafkajs';
import { failoverConsumers } from '../../deploy/index.ts';
import { upstreamSites } from '../../federation/index.ts';
import { type Command, launcherFrom, parse, requireSite, topologyFrom, UsageError } from '../context.ts';

export const failoverCommand: Command = {
  name: 'failover',
  usage: `  failover consumers --from S --to T [--group G]... [--dry-run] [--json]
                           resume S's consumer groups at T: commit at T the offsets MM2
                           translated from S (checkpoints); stop the groups' consumers
                           first. Never moves a group back; nothing is skipped`,
  async run(args, ctx) {
    const { positionals, values } = parse(args, {
      from: { type: 'string' },
      to: { type: 'string' },
      group: { type: 'string', multiple: true },
      'dry-run': { type: 'boolean' },
      json: { type: 'boolean' },
    });
    if (positionals[0] !== 'consumers')
      throw new UsageError('`failover` takes one subcommand: `consumers`, e.g. `failover consumers --from cloud-a --to onprem`');
    const topology = topologyFrom(values, ctx.env);
    const from = requireSite(topology, values.from).name;
    const to = requireSite(topology, values.to).name;
    if (from === to) throw new UsageError('--from and --to name the same site; fail over to another site');
    if (!upstreamSites(topology, to).some((u) => u.name === from))
      throw new UsageError(`no flow runs from ${from} to ${to}, so ${to} holds no copies of ${from}'s topics; pick a site ${from} flows to`);
    const launcher = launcherFrom(topology, values, ctx);
    const kafka = new Kafka({ ...launcher.adminKafka(to), clientId: 'fedgate-failover', logLevel: logLevel.NOTHING });
    const moved = await failoverConsumers({ kafka, from, groups: values.group, dryRun: values['dry-run'] });
    if (values.json) {
      ctx.out.data(JSON.stringify({ from, to, dryRun: !!values['dry-run'], groups: moved }, null, 2));
      return 0;
    }
    const lines = [`${values['dry-run'] ? 'would resume' : 'resumed'} ${moved.length} group(s) of ${from} at ${to}:`];
    for (const g of moved) {
      lines.push(`  ${g.group}`);
      for (const p of g.partitions)
        lines.push(
          `    ${`${p.topic}/${p.partition}`.padEnd(28)} at ${from} ${String(p.upstreamOffset).padStart(8)}  translated ${String(p.translated).padStart(8)}  resumes at ${String(p.resumesAt).padStart(8)}${p.previous !== null && p.previous >= p.translated ? ' (already there)' : ''}`,
        );
    }
    ctx.out.data(lines.join('\n'));
    return 0;
  },
};
