import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  caKeyFile,
  certPaths,
  ensureSigningKeys,
  initCerts,
  METRICS_SECRET_FILE,
  siteSecret as makeSiteSecret,
  metricsSecret,
  readApiSecret,
  rotateCerts,
  webhookSecretFile,
  webhookSecrets,
} from '../../certs/index.ts';
import { isPisSite, PIS_SECRET_FILES, siteOf, type Topology, upstreamSites } from '../../federation/index.ts';
import { cdcPassword } from '../pis-database.ts';
import { CDC_PASSWORD_KEY, cdcPasswordSecret, PIS_CA_KEY, pisCaSecret } from './connect.ts';
import { type K8sOptions, k8sTopology, upstreamClusterCaSecret } from './render.ts';
import { CA_SECRET, databaseSecret, peerHost, podTopology, siteSecret } from './workloads.ts';

/**
 * `fedgate k8s secrets`: makes, in a state folder of its own, every file the
 * rendered resources expect as a Secret (the federation CA, each site's
 * gateway and instance certificates, the gateway's certificate also for
 * `gateway.<site>.<domain>`, the read-API, metrics and webhook secrets and
 * the JWT signing keys), and returns the kubectl commands that create the
 * Secrets from those files. Nothing secret is printed or rendered: the
 * commands name files.
 */
export interface SecretCommands {
  site: string;
  commands: string[];
}

const quote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

export async function prepareK8sSecrets(options: {
  topology: Topology;
  k8s: K8sOptions;
  certsDir: string;
  caKeyDir: string;
  sites?: string[];
  log?: (line: string) => void;
}): Promise<SecretCommands[]> {
  const pods = podTopology(k8sTopology(options.topology, options.k8s), options.k8s);
  const { certsDir, caKeyDir } = options;
  initCerts({ dir: certsDir, caKeyDir, topology: pods, log: options.log });
  const paths = certPaths(certsDir);
  const ns = `-n ${quote(options.k8s.namespace)}`;
  const out: SecretCommands[] = [];
  for (const name of options.sites ?? pods.sites.map((s) => s.name)) {
    const site = siteOf(pods, name);
    // A gateway certificate issued before the site had a name (another topology, an older run) is renewed with it.
    const gatewayCert = paths.role(site.name, 'gateway').cert;
    const san = new X509Certificate(readFileSync(gatewayCert)).subjectAltName ?? '';
    if (!san.includes(`DNS:${peerHost(site.name, options.k8s)}`)) rotateCerts({ dir: certsDir, caKeyDir, topology: pods, site: site.name, log: options.log });
    // Made on first use natively; in a pod the Secret is read-only, so they exist before.
    readApiSecret(certsDir, site.name);
    metricsSecret(certsDir, site.name);
    await ensureSigningKeys(certsDir, site.name);
    const webhooks = site.delivery.subscriptions.filter((s) => s.protocol === 'webhook').map((s) => s.name);
    for (const w of webhooks) webhookSecrets(certsDir, site.name, w);

    // The PIS site's gateway reads the catalog as fedgate_catalog: its password is made here, since the pod cannot write it.
    const pisSite = isPisSite(pods, site.name);
    if (pisSite) makeSiteSecret(certsDir, site.name, PIS_SECRET_FILES.catalog);

    const dir = join(certsDir, site.name);
    const files = [
      ...(pisSite ? [join(dir, PIS_SECRET_FILES.catalog)] : []),
      ...(['gateway', 'instance'] as const).flatMap((role) => [paths.role(site.name, role).key, paths.role(site.name, role).cert]),
      join(dir, 'read-api.secret'),
      join(dir, METRICS_SECRET_FILE),
      join(dir, 'jwt-keys.json'),
      ...webhooks.flatMap((w) => [join(dir, webhookSecretFile(w)), join(dir, `${webhookSecretFile(w)}.previous`)]).filter((f) => existsSync(f)),
    ];
    const mm2 = paths.role(site.name, 'mm2');
    // The PIS's change capture (rendered for the PIS's own database only): the Connect worker's certificate, the
    // capture role's password as the properties file FileConfigProvider reads, and the CA of the database's certificate.
    const pisDb = pisSite ? options.topology.pis?.database : undefined;
    const cdc: string[] = [];
    if (pisDb?.sslrootcert) {
      const connect = paths.role(site.name, 'connect');
      const properties = join(dir, `k8s-${CDC_PASSWORD_KEY}`);
      writeFileSync(properties, `password=${cdcPassword(certsDir, site.name)}\n`, { mode: 0o600 });
      cdc.push(
        `kubectl ${ns} create secret tls ${site.name}.connect.fedgate --cert=${quote(connect.cert)} --key=${quote(connect.key)}`,
        `kubectl ${ns} create secret generic ${cdcPasswordSecret(site.name)} --from-file=${CDC_PASSWORD_KEY}=${quote(properties)}`,
        `kubectl ${ns} create secret generic ${pisCaSecret(site.name)} --from-file=${PIS_CA_KEY}=${quote(pisDb.sslrootcert)}`,
      );
    }
    const strimziCa = (secret: string, key: string, file: string) => [
      `kubectl ${ns} create secret generic ${secret} --from-file=${key}=${quote(file)}`,
      `kubectl ${ns} label secret ${secret} strimzi.io/kind=Kafka strimzi.io/cluster=${site.name}`,
      `kubectl ${ns} annotate secret ${secret} strimzi.io/ca-${key === 'ca.key' ? 'key' : 'cert'}-generation=0`,
    ];
    out.push({
      site: site.name,
      commands: [
        `kubectl ${ns} create secret generic ${CA_SECRET} --from-file=ca.pem=${quote(paths.caCert)}`,
        `kubectl ${ns} create secret generic ${siteSecret(site.name)} ${files.map((f) => `--from-file=${quote(f)}`).join(' ')}`,
        ...strimziCa(`${site.name}-clients-ca-cert`, 'ca.crt', paths.caCert),
        ...strimziCa(`${site.name}-clients-ca`, 'ca.key', caKeyFile(caKeyDir)),
        ...(upstreamSites(pods, site.name).length > 0
          ? [`kubectl ${ns} create secret tls ${site.name}.mm2.fedgate --cert=${quote(mm2.cert)} --key=${quote(mm2.key)}`]
          : []),
        `kubectl ${ns} create secret generic ${databaseSecret(site.name)} --from-literal=url='postgres://USER:PASSWORD@HOST:5432/DB'   # the site's PostgreSQL`,
        ...cdc,
        ...upstreamSites(pods, site.name).map(
          (u) =>
            `kubectl --context ${u.name} ${ns} get secret ${u.name}-cluster-ca-cert -o jsonpath='{.data.ca\\.crt}' | base64 -d > ${u.name}-cluster-ca.crt && kubectl ${ns} create secret generic ${upstreamClusterCaSecret(u.name)} --from-file=ca.crt=${u.name}-cluster-ca.crt`,
        ),
      ],
    });
  }
  return out;
}
