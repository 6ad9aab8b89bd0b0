import { retireWebhookSecret, rotateWebhookSecret, webhookSecrets } from '../../certs/index.ts';
import { type Command, parse, pathsFrom, requireSite, topologyFrom, UsageError } from '../context.ts';

export const webhookCommand: Command = {
  name: 'webhook',
  usage: `  webhook secret --site S --subscription N
                           print the signing secret a webhook receiver verifies with
  webhook rotate --site S --subscription N
                           a new secret; requests carry both signatures until retire
  webhook retire --site S --subscription N
                           stop signing with the secret the last rotate replaced`,
  async run(args, { env, out }) {
    const { positionals, values } = parse(args, { site: { type: 'string' }, subscription: { type: 'string' } } as const);
    const action = positionals[0];
    if (action !== 'secret' && action !== 'rotate' && action !== 'retire') throw new UsageError('use `webhook secret`, `webhook rotate` or `webhook retire`');
    const topology = topologyFrom(values, env);
    const site = requireSite(topology, values.site);
    const webhooks = site.delivery.subscriptions.filter((s) => s.protocol === 'webhook').map((s) => s.name);
    if (!values.subscription || !webhooks.includes(values.subscription)) {
      throw new UsageError(
        webhooks.length
          ? `give --subscription with one of ${site.name}'s webhook subscriptions: ${webhooks.join(', ')}`
          : `${site.name} has no webhook subscription; add one under sites[].delivery.subscriptions in the topology`,
      );
    }
    const { certsDir } = pathsFrom(values, env);
    if (action === 'secret') {
      out.data(webhookSecrets(certsDir, site.name, values.subscription)[0]!);
    } else if (action === 'rotate') {
      out.data(rotateWebhookSecret(certsDir, site.name, values.subscription));
      out.info(`${site.name}/${values.subscription}: new secret above; requests carry both signatures (within 5 s) until \`webhook retire\``);
    } else {
      retireWebhookSecret(certsDir, site.name, values.subscription);
      out.info(`${site.name}/${values.subscription}: only the current secret signs now (within 5 s)`);
    }
    return 0;
  },
};
