import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseTopology, type Site, siteOf, type Topology } from '../../federation/index.ts';
import { NODE_V8_OPTIONS } from '../components/node-process.ts';
import { pisCaSecret } from './connect.ts';

/**
 * fedgate's own processes of a site on Kubernetes: the gateway and the
 * instance workers as Deployments, their Services, and the topology as a
 * ConfigMap, rendered from the same topology as everything else (pure).
 *
 * The pods run the processes the launcher runs natively (`gateway/main.ts`,
 * `instances/main.ts`) with the same environment: only names change. Each
 * site's entry in the pods' topology gets `endpoints`, so its processes reach
 * Kafka (Strimzi's bootstrap service), the read API and the other sites'
 * gateways by name, and listen on the pod's address.
 */

/** Where the pods find what they read; the image's user owns /var/lib/fedgate (deploy/docker/Dockerfile). */
export const POD_PATHS = {
  topology: '/etc/fedgate/topology.json',
  kafkaCa: '/etc/fedgate/kafka-ca/ca.crt',
  /** The CA of the PIS's own database's certificate (the PIS site's gateway reads the catalog over verify-full TLS). */
  pisCa: '/etc/fedgate/pis-ca/ca.pem',
  home: '/var/lib/fedgate',
  certs: '/var/lib/fedgate/certs',
  run: '/var/lib/fedgate/run',
} as const;
/** The image's unprivileged user and group. */
export const POD_UID = 10001;

export interface WorkloadOptions {
  namespace: string;
  domain: string;
  /** The fedgate image (built from deploy/docker/Dockerfile). */
  image: string;
}

const REPO_ROOT = join(import.meta.dirname, '../..');
export const defaultImage = () => `fedgate:${(JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version}`;

/** The name other sites' gateways reach a site's peer listener at (its Service of type LoadBalancer). */
export const peerHost = (site: string, options: Pick<WorkloadOptions, 'domain'>) => `gateway.${site}.${options.domain}`;
/** Secrets the pods mount: the federation CA certificate, and one site's folder of `.fedgate/certs/<site>/`. */
export const CA_SECRET = 'fedgate-ca';
export const siteSecret = (site: string) => `fedgate-${site}-certs`;
/** The PostgreSQL URL of the site's database (key `url`): the instance workers share it. */
export const databaseSecret = (site: string) => `fedgate-${site}-database`;
export const workloadName = (site: string, what: 'gateway' | 'instance' | 'instance-workers' | 'topology') => `fedgate-${site}-${what}`;

/**
 * The topology as the pods read it: every site with `endpoints` (names
 * inside its own cluster, and its gateway's public name for the other sites).
 */
export function podTopology(topology: Topology, options: Pick<WorkloadOptions, 'domain'>): Topology {
  return parseTopology(
    {
      ...topology,
      sites: topology.sites.map(({ flows, ...s }) => ({
        ...s,
        flows,
        endpoints: {
          kafka: [`${s.name}-kafka-bootstrap:9093`],
          instance: `${workloadName(s.name, 'instance')}:${s.ports.instance}`,
          peer: `${peerHost(s.name, options)}:${s.ports.peer}`,
          bind: '0.0.0.0',
        },
      })),
      // The topology's sslrootcert is a path on the machine that renders; in the pods it is the mounted Secret.
      ...(topology.pis?.database?.sslrootcert ? { pis: { ...topology.pis, database: { ...topology.pis.database, sslrootcert: POD_PATHS.pisCa } } } : {}),
    },
    'the topology for the pods',
  );
}

type Resource = { apiVersion: string; kind: string; metadata: { name: string; namespace: string; labels: Record<string, string> }; [k: string]: unknown };

export function workloadResources(topology: Topology, siteName: string, options: WorkloadOptions): Resource[] {
  const pods = podTopology(topology, options);
  const site = siteOf(pods, siteName);
  const labels = (component: string) => ({
    'app.kubernetes.io/part-of': 'fedgate',
    'app.kubernetes.io/name': `fedgate-${component}`,
    'fedgate.dev/site': site.name,
  });
  const meta = (name: string, component: string) => ({ name, namespace: options.namespace, labels: labels(component) });
  const resources: Resource[] = [
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: meta(workloadName(site.name, 'topology'), 'topology'),
      data: { 'topology.json': `${JSON.stringify(pods, null, 2)}\n` },
    },
    deployment(
      site,
      'gateway',
      1,
      options,
      meta(workloadName(site.name, 'gateway'), 'gateway'),
      labels('gateway'),
      pods.pis?.site === site.name && Boolean(pods.pis.database?.sslrootcert),
    ),
    deployment(site, 'instance', 1, options, meta(workloadName(site.name, 'instance'), 'instance'), labels('instance')),
  ];
  if (site.workers > 1) {
    resources.push(
      deployment(
        site,
        'instance-workers',
        site.workers - 1,
        options,
        meta(workloadName(site.name, 'instance-workers'), 'instance-worker'),
        labels('instance-worker'),
      ),
    );
  }
  resources.push(
    service(meta(workloadName(site.name, 'gateway'), 'gateway'), labels('gateway'), 'ClusterIP', [{ name: 'http', port: site.ports.gateway }]),
    // The other sites' gateways reach this one here (mTLS; point gateway.<site>.<domain> at its address).
    service(meta(`fedgate-${site.name}-peer`, 'gateway'), labels('gateway'), 'LoadBalancer', [{ name: 'peer', port: site.ports.peer }]),
    // Worker 1 serves the read API; the other workers serve no HTTP.
    service(meta(workloadName(site.name, 'instance'), 'instance'), labels('instance'), 'ClusterIP', [{ name: 'read-api', port: site.ports.instance }]),
  );
  return resources;
}

function service(
  metadata: Resource['metadata'],
  selector: Record<string, string>,
  type: 'ClusterIP' | 'LoadBalancer',
  ports: { name: string; port: number }[],
): Resource {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata,
    spec: { type, selector, ports: ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.name, protocol: 'TCP' })) },
  };
}

function deployment(
  site: Site,
  what: 'gateway' | 'instance' | 'instance-workers',
  replicas: number,
  options: WorkloadOptions,
  metadata: Resource['metadata'],
  labels: Record<string, string>,
  /** The PIS site's gateway, with the PIS's own database: it reads the catalog (enrichment) verified against that database's CA. */
  pisCa = false,
): Resource {
  const gateway = what === 'gateway';
  const worker = what === 'instance-workers';
  const readyFile = `${POD_PATHS.run}/instance-worker.ready`;
  const env: Array<Record<string, unknown>> = [
    { name: 'FEDGATE_TOPOLOGY', value: POD_PATHS.topology },
    { name: 'FEDGATE_SITE', value: site.name },
    { name: 'FEDGATE_CERTS_DIR', value: POD_PATHS.certs },
    { name: 'FEDGATE_KAFKA_CA_FILE', value: POD_PATHS.kafkaCa },
    { name: 'LOG_LEVEL', value: 'info' },
  ];
  if (!gateway) {
    env.push(
      { name: 'FEDGATE_RUN_DIR', value: POD_PATHS.run },
      { name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: databaseSecret(site.name), key: 'url' } } },
    );
  }
  if (worker) env.push({ name: 'FEDGATE_WORKER', value: '2' }, { name: 'FEDGATE_READY_FILE', value: readyFile });
  const http = gateway ? { path: '/healthz', port: 'http' } : { path: '/v1/health', port: 'read-api' };
  // Worker 1 and the gateway answer on HTTP; the other workers write their pid to a file once they consume.
  const probe = worker ? { exec: { command: ['test', '-s', readyFile] } } : { httpGet: http };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata,
    spec: {
      replicas,
      selector: { matchLabels: labels },
      // Worker 1 holds the read API alone: the old pod goes before the new one starts.
      strategy: gateway ? { type: 'RollingUpdate' } : { type: 'Recreate' },
      template: {
        metadata: { labels },
        spec: {
          automountServiceAccountToken: false,
          securityContext: { runAsNonRoot: true, runAsUser: POD_UID, runAsGroup: POD_UID, fsGroup: POD_UID, seccompProfile: { type: 'RuntimeDefault' } },
          // A drain (SIGTERM) commits what was processed and leaves the groups; give it time.
          terminationGracePeriodSeconds: 30,
          containers: [
            {
              name: gateway ? 'gateway' : 'instance',
              image: options.image,
              imagePullPolicy: 'IfNotPresent',
              workingDir: '/app',
              // The process itself, as the launcher runs it (deploy/components/node-process.ts): no launcher in the pod.
              command: ['node', ...NODE_V8_OPTIONS[gateway ? 'gateway' : 'instance'], '--import', 'tsx', gateway ? 'gateway/main.ts' : 'instances/main.ts'],
              env,
              ports: gateway
                ? [
                    { name: 'http', containerPort: site.ports.gateway, protocol: 'TCP' },
                    { name: 'peer', containerPort: site.ports.peer, protocol: 'TCP' },
                  ]
                : worker
                  ? []
                  : [{ name: 'read-api', containerPort: site.ports.instance, protocol: 'TCP' }],
              readinessProbe: { ...probe, periodSeconds: 5, failureThreshold: 3 },
              livenessProbe: { ...probe, initialDelaySeconds: 30, periodSeconds: 10, failureThreshold: 6 },
              resources: gateway
                ? { requests: { cpu: '250m', memory: '256Mi' }, limits: { memory: '512Mi' } }
                : { requests: { cpu: '250m', memory: '384Mi' }, limits: { memory: '768Mi' } },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
              volumeMounts: [
                { name: 'topology', mountPath: '/etc/fedgate', readOnly: true },
                { name: 'kafka-ca', mountPath: '/etc/fedgate/kafka-ca', readOnly: true },
                { name: 'ca', mountPath: `${POD_PATHS.certs}/ca`, readOnly: true },
                { name: 'site', mountPath: `${POD_PATHS.certs}/${site.name}`, readOnly: true },
                { name: 'run', mountPath: POD_PATHS.run },
                { name: 'tmp', mountPath: '/tmp' },
                ...(pisCa ? [{ name: 'pis-ca', mountPath: '/etc/fedgate/pis-ca', readOnly: true }] : []),
              ],
            },
          ],
          volumes: [
            { name: 'topology', configMap: { name: workloadName(site.name, 'topology') } },
            // The CA of the site's brokers (Strimzi's cluster CA), which the operator keeps in this Secret.
            { name: 'kafka-ca', secret: { secretName: `${site.name}-cluster-ca-cert`, items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
            { name: 'ca', secret: { secretName: CA_SECRET, items: [{ key: 'ca.pem', path: 'ca.pem' }] } },
            { name: 'site', secret: { secretName: siteSecret(site.name), defaultMode: 0o400 } },
            { name: 'run', emptyDir: {} },
            { name: 'tmp', emptyDir: {} },
            ...(pisCa ? [{ name: 'pis-ca', secret: { secretName: pisCaSecret(site.name), items: [{ key: 'ca.pem', path: 'ca.pem' }] } }] : []),
          ],
        },
      },
    },
  };
}
