import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { DEFAULT_K8S_OPTIONS, type K8sOptions, writeK8sFiles } from '../../deploy/k8s/render.ts';
import { prepareK8sSecrets } from '../../deploy/k8s/secrets.ts';
import { validateK8sFiles } from '../../deploy/k8s/strimzi-model.ts';
import { type Command, parse, pathsFrom, requireSite, topologyFrom, UsageError } from '../context.ts';

const DEFAULT_DIR = 'k8s';

export const k8sCommand: Command = {
  name: 'k8s',
  usage: [
    '  k8s render [--out k8s] [--namespace fedgate] [--domain fedgate.example] [--brokers 3] [--image fedgate:<version>]',
    '             [--connect-image registry/connect-debezium:tag]',
    '                           write the Kubernetes resources per site (<out>/<site>.yaml) from the topology:',
    '                           Strimzi Kafka, topics, users, MirrorMaker 2; the gateway and instance Deployments;',
    "                           Kafka Connect with Debezium and its connector, for the PIS's own database",
    "  k8s validate [paths]     check rendered resources against Strimzi's API model (io.strimzi:api) and fabric8's",
    '  k8s secrets [--site S] [--domain D] [--namespace N] --home DIR',
    '                           make the files the Secrets hold (a state folder of their own) and print the kubectl commands',
  ].join('\n'),
  async run(args, ctx) {
    const { positionals, values } = parse(args, {
      out: { type: 'string' },
      namespace: { type: 'string' },
      domain: { type: 'string' },
      brokers: { type: 'string' },
      image: { type: 'string' },
      'connect-image': { type: 'string' },
      site: { type: 'string' },
    });
    const [sub, ...rest] = positionals;
    if (sub === 'render') {
      if (rest.length) throw new UsageError('`k8s render` takes no paths; choose the folder with --out');
      const options = k8sOptions(values);
      const dir = resolve(values.out ?? DEFAULT_DIR);
      const files = writeK8sFiles(topologyFrom(values, ctx.env), dir, options);
      ctx.out.info(`wrote ${files.map((f) => relative(process.cwd(), f)).join(', ')}`);
      ctx.out.info(
        `next: npx fedgate k8s validate ${relative(process.cwd(), dir) || '.'} (then create the Secrets each file's header names, and kubectl apply it in its site's cluster)`,
      );
      return 0;
    }
    if (sub === 'validate') {
      const files = yamlFiles(rest.length ? rest : [DEFAULT_DIR]);
      const result = await validateK8sFiles(pathsFrom(values, ctx.env).stateDir, files, ctx.out.info);
      for (const line of result.lines) if (!line.startsWith('ok ')) ctx.out.data(`${line}\n`);
      return result.ok ? 0 : 1;
    }
    if (sub === 'secrets') {
      if (!values.home) throw new UsageError('`k8s secrets` writes keys: give it a state folder of its own with --home (for example --home .fedgate-k8s)');
      const topology = topologyFrom(values, ctx.env);
      const sites = values.site ? [requireSite(topology, values.site).name] : undefined;
      const paths = pathsFrom(values, ctx.env);
      const plans = await prepareK8sSecrets({
        topology,
        k8s: k8sOptions(values),
        certsDir: paths.certsDir,
        caKeyDir: paths.caKeyDir,
        sites,
        log: ctx.out.info,
      });
      for (const plan of plans) ctx.out.data(`# site ${plan.site}, in its own cluster:\n${plan.commands.join('\n')}\n\n`);
      return 0;
    }
    throw new UsageError('`k8s` takes a subcommand: `render`, `validate` or `secrets`');
  },
};

function k8sOptions(values: { namespace?: string; domain?: string; brokers?: string; image?: string; 'connect-image'?: string }): K8sOptions {
  const brokers = values.brokers === undefined ? DEFAULT_K8S_OPTIONS.brokers : Number(values.brokers);
  if (brokers !== 1 && brokers !== 3)
    throw new UsageError(`--brokers must be 1 or 3 (got ${values.brokers}); 3 gives replication factor 3 with min.insync.replicas 2`);
  const namespace = values.namespace ?? DEFAULT_K8S_OPTIONS.namespace;
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(namespace))
    throw new UsageError(`--namespace ${namespace} is not a Kubernetes namespace name (lower-case letters, digits, dashes)`);
  const domain = values.domain ?? DEFAULT_K8S_OPTIONS.domain;
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$/.test(domain))
    throw new UsageError(`--domain ${domain} is not a DNS domain such as fedgate.example.com`);
  const image = values.image ?? DEFAULT_K8S_OPTIONS.image;
  if (!/^[a-z0-9][a-z0-9._/:@-]*$/.test(image)) throw new UsageError(`--image ${image} is not an image reference such as registry.example.com/fedgate:0.1.0`);
  const connectImage = values['connect-image'] ?? DEFAULT_K8S_OPTIONS.connectImage;
  if (!/^[a-z0-9][a-z0-9._/:@-]*$/.test(connectImage))
    throw new UsageError(`--connect-image ${connectImage} is not an image reference such as registry.example.com/fedgate/connect-debezium:3.6.1`);
  return { namespace, domain, brokers, image, connectImage };
}

function yamlFiles(paths: string[]): string[] {
  const files: string[] = [];
  for (const p of paths) {
    if (!existsSync(p)) throw new UsageError(`${p} does not exist; render the resources first with \`npx fedgate k8s render --out ${p}\``);
    if (statSync(p).isDirectory())
      files.push(
        ...readdirSync(p)
          .filter((f) => /\.ya?ml$/.test(f))
          .sort()
          .map((f) => join(p, f)),
      );
    else files.push(p);
  }
  if (files.length === 0) throw new UsageError(`no .yaml files in ${paths.join(', ')}; render them with \`npx fedgate k8s render\``);
  return files;
}
