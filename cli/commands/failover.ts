import { Kafka, logLevel } from 'kafkajs';
import { failbackConsumers, failoverConsumers } from '../../deploy/index.ts';
import { upstreamSites } from '../../federation/index.ts';
import { type Command, launcherFrom, parse, requireSite, topologyFrom, UsageError } from '../context.ts';

export const failoverCommand: Command = {
  name: 'failover',
  usage: `  failover consumers --from S --to T [--group G]... [--dry-run] [--json]
                           resume S's consumer groups at T: commit at T the offsets MM2
                           translated from S (checkpoints); stop the groups' consumers
                           first. Never moves a group back; nothing is skipped
  failover consumers --back --from T --to S [--group G]... [--dry-run] [--json]
                           fail back: S's groups, which ran at T while S was down, resume
                           at S on S's own topics, their positions on T's copies translated
                           back through the S -> T offset syncs; stop them at T and stop
                           S's instance first`,
  async run(args, ctx) {
    const { positionals, values } = parse(args, {
      from: { type: 'string' },
      to: { type: 'string' },
      group: { type: 'string', multiple: true },
      'dry-run': { type: 'boolean' },
      json: { type: 'boolean' },
      back: { type: 'boolean' },
    });
    if (positionals[0] !== 'consumers')
      throw new UsageError('`failover` takes one subcommand: `consumers`, e.g. `failover consumers --from cloud-a --to onprem`');
    const topology = topologyFrom(values, ctx.env);
    const from = requireSite(topology, values.from).name;
    const to = requireSite(topology, values.to).name;
    if (from === to) throw new UsageError('--from and --to name the same site; fail over to another site');
    if (values.back) {
      // Failing back: the groups are `to`'s, they ran at `from` on the copies of `to`'s topics.
      if (!upstreamSites(topology, from).some((u) => u.name === to))
        throw new UsageError(`no flow runs from ${to} to ${from}, so ${from} never held ${to}'s topics; name the site ${to}'s groups failed over to`);
      const launcher = launcherFrom(topology, values, ctx);
      const kafkaOf = (site: string) => new Kafka({ ...launcher.adminKafka(site), clientId: 'fedgate-failback', logLevel: logLevel.NOTHING });
      const back = await failbackConsumers({ atSurvivor: kafkaOf(from), atHome: kafkaOf(to), home: to, groups: values.group, dryRun: values['dry-run'] });
      if (values.json) {
        ctx.out.data(JSON.stringify({ from, to, back: true, dryRun: !!values['dry-run'], groups: back }, null, 2));
        return 0;
      }
      const lines = [`${values['dry-run'] ? 'would fail back' : 'failed back'} ${back.length} group(s) of ${to} from ${from}:`];
      for (const g of back) {
        lines.push(`  ${g.group}`);
        for (const p of g.partitions)
          lines.push(
            `    ${`${p.topic}/${p.partition}`.padEnd(28)} at ${from} ${String(p.copyOffset).padStart(8)}  ${p.translated === null ? 'no offset sync at or before it: left as it was' : `translated ${String(p.translated).padStart(8)}  resumes at ${String(p.resumesAt).padStart(8)}`}`,
          );
      }
      ctx.out.data(lines.join('\n'));
      return 0;
    }
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
          `    ${`${p.topic}/${p.partition}`.padEnd(28)} at ${from} ${String(p.upstreamOffset).padStart(8)}  translated ${String(p.translated).padStart(8)}  from its offset sync ${String(p.fromSync ?? '-').padStart(8)}  resumes at ${String(p.resumesAt).padStart(8)}${p.previous !== null && p.previous === p.resumesAt ? ' (already there)' : ''}`,
        );
    }
    ctx.out.data(lines.join('\n'));
    return 0;
  },
};
