import {
  CDC_CONNECTOR,
  CONNECT_TOPICS,
  cdcConnectorConfig,
  connectGroup,
  pisDatabaseEndpoint,
  pisOf,
  replicationOf,
  type Site,
  type Topology,
  TopologyError,
} from '../../federation/index.ts';
import { debeziumVersion } from '../kafka-runtime.ts';

/**
 * The PIS's change capture under Strimzi (pure): at the PIS site, a
 * `KafkaConnect` that builds its image with Debezium's PostgreSQL connector
 * from Maven Central (the version deploy/debezium/pom.xml pins for the
 * launcher's worker) and a `KafkaConnector` with the connector configuration
 * the launcher gives its own worker (cdcConnectorConfig, the same function).
 *
 * Only for the PIS's own database (`pis.database` in the topology): the
 * PIS database `npx fedgate up` runs is a local process, not something a
 * cluster can reach.
 */

/** The in-cluster paths of the Secrets the Connect pods mount (Strimzi allows additional volumes under /mnt). */
export const CONNECT_MOUNTS = { password: '/mnt/pis-cdc', ca: '/mnt/pis-ca' } as const;
/** The Secrets the Connect resources name: the capture role's password file, and the CA of the PIS database's certificate. */
export const cdcPasswordSecret = (site: string) => `fedgate-${site}-pis-cdc`;
export const pisCaSecret = (site: string) => `fedgate-${site}-pis-ca`;
export const connectClusterName = (site: string) => `${site}-connect`;
/** The key of the password Secret: a properties file with `password=<the fedgate_cdc role's password>`, read through FileConfigProvider. */
export const CDC_PASSWORD_KEY = 'cdc.properties';
export const PIS_CA_KEY = 'ca.pem';

export interface ConnectRenderOptions {
  /** Where Strimzi's build pushes the Connect image with Debezium (a registry the cluster pulls from). */
  connectImage: string;
  kafkaVersion: string;
  localBootstrap: string;
  meta(name: string, site: string, extra?: { labels?: Record<string, string>; annotations?: Record<string, string> }): Record<string, unknown>;
}

export function connectResources(topology: Topology, site: Site, o: ConnectRenderOptions): Record<string, unknown>[] {
  const pis = pisOf(topology);
  // The PIS database `fedgate up` runs is not rendered (the file's header says so).
  if (!pis || pis.site.name !== site.name || !pisDatabaseEndpoint(topology).external) return [];
  if (pis.pis.database?.sslmode === 'disable')
    throw new TopologyError('the topology for Kubernetes', [
      {
        field: 'pis.database.sslmode',
        message: 'a Connect pod reaches the PIS database over the network; "disable" is for a database on the loopback of the machine fedgate runs on',
        fix: 'use "verify-full" with "sslrootcert", the CA of the PIS database server\'s certificate',
      },
    ]);
  const rf = replicationOf(site).factor;
  const user = `${site.name}.connect.fedgate`;
  const cluster = connectClusterName(site.name);
  const {
    'connector.class': connectorClass,
    'tasks.max': tasksMax,
    ...config
  } = cdcConnectorConfig(topology, `${CONNECT_MOUNTS.password}/${CDC_PASSWORD_KEY}`, `${CONNECT_MOUNTS.ca}/${PIS_CA_KEY}`);
  // The topology's sslrootcert is a path on the machine that renders; in the pod it is the mounted Secret.
  if (config['database.sslrootcert']) config['database.sslrootcert'] = `${CONNECT_MOUNTS.ca}/${PIS_CA_KEY}`;
  const version = debeziumVersion();
  const connect = {
    apiVersion: 'kafka.strimzi.io/v1beta2',
    kind: 'KafkaConnect',
    // Connectors are KafkaConnector resources: the operator owns the REST API (fedgate's RestPrincipals is for the native worker).
    metadata: o.meta(cluster, site.name, { annotations: { 'strimzi.io/use-connector-resources': 'true' } }),
    spec: {
      version: o.kafkaVersion,
      replicas: 1,
      bootstrapServers: o.localBootstrap,
      tls: { trustedCertificates: [{ secretName: `${site.name}-cluster-ca-cert`, certificate: 'ca.crt' }] },
      // The same principal, group and topics as the native worker, so the same KafkaUser's ACLs apply.
      authentication: { type: 'tls', certificateAndKey: { secretName: user, certificate: 'tls.crt', key: 'tls.key' } },
      config: {
        'group.id': connectGroup(site.name),
        'config.storage.topic': CONNECT_TOPICS.configs,
        'offset.storage.topic': CONNECT_TOPICS.offsets,
        'status.storage.topic': CONNECT_TOPICS.status,
        'config.storage.replication.factor': rf,
        'offset.storage.replication.factor': rf,
        'status.storage.replication.factor': rf,
        'key.converter': 'org.apache.kafka.connect.json.JsonConverter',
        'value.converter': 'org.apache.kafka.connect.json.JsonConverter',
        'key.converter.schemas.enable': false,
        'value.converter.schemas.enable': false,
        // The topics are KafkaTopic resources; the worker creates none.
        'topic.creation.enable': false,
        'offset.flush.interval.ms': 1000,
        'config.providers': 'file',
        'config.providers.file.class': 'org.apache.kafka.common.config.provider.FileConfigProvider',
      },
      build: {
        output: { type: 'docker', image: o.connectImage },
        plugins: [
          {
            name: 'debezium-connector-postgres',
            artifacts: [{ type: 'maven', group: 'io.debezium', artifact: 'debezium-connector-postgres', version }],
          },
        ],
      },
      template: {
        pod: {
          volumes: [
            { name: 'pis-cdc', secret: { secretName: cdcPasswordSecret(site.name) } },
            { name: 'pis-ca', secret: { secretName: pisCaSecret(site.name) } },
          ],
        },
        connectContainer: {
          volumeMounts: [
            { name: 'pis-cdc', mountPath: CONNECT_MOUNTS.password, readOnly: true },
            { name: 'pis-ca', mountPath: CONNECT_MOUNTS.ca, readOnly: true },
          ],
        },
      },
      jvmOptions: { '-Xms': pis.pis.connectHeap, '-Xmx': pis.pis.connectHeap },
      resources: { requests: { cpu: '250m', memory: '768Mi' }, limits: { memory: '768Mi' } },
    },
  };
  const connector = {
    apiVersion: 'kafka.strimzi.io/v1beta2',
    kind: 'KafkaConnector',
    metadata: o.meta(CDC_CONNECTOR, site.name, { labels: { 'strimzi.io/cluster': cluster } }),
    spec: { class: connectorClass, tasksMax: Number(tasksMax), config },
  };
  return [connect, connector];
}
