import { localBootstraps } from './kafka-endpoints.ts';
import { IDLE_FETCH_WAIT_MS } from './mm2-config.ts';
import { type Properties, renderProperties } from './properties.ts';
import { type Pis, replicationOf, type Site, siteOf, type Topology } from './topology.ts';

/**
 * The PIS side of a federation: the PIS database's change capture. Debezium's
 * PostgreSQL connector, on a Kafka Connect worker at the PIS's site, streams
 * every committed row change of the captured tables into `pis.public.<table>`
 * there; the site's gateway turns each change into a product event and
 * publishes it through the same path as an HTTP publish (gateway/cdc-ingest.ts).
 *
 * Every name the PIS side uses (tables, topics, groups, slot, publication) is
 * built here and nowhere else.
 */

/** The PIS tables captured: each row change becomes one product event. */
export const PIS_TABLES = ['prices', 'discounts', 'availability'] as const;
export type PisTable = (typeof PIS_TABLES)[number];

/** Debezium's `topic.prefix`: its topics are `<prefix>.<schema>.<table>`. */
export const CDC_TOPIC_PREFIX = 'pis';
export const cdcTopic = (table: PisTable) => `${CDC_TOPIC_PREFIX}.public.${table}`;
export const CDC_TOPICS = PIS_TABLES.map(cdcTopic);

/**
 * The PIS's own source topic (PEMX `product-event`): a PIS with a Kafka client
 * writes events there as `<site>.pis.fedgate`, and the site's gateway validates
 * and routes them like any publish. It may write nothing else.
 */
export const SOURCE_TOPIC = 'product-event';
/** The gateway's group reading the source topic. */
export const sourceGroup = (site: string) => `fedgate-source.${site}`;

/** The Connect worker's own topics at the PIS site (compacted; never replicated). */
export const CONNECT_TOPICS = { configs: 'site.connect-configs', offsets: 'site.connect-offsets', status: 'site.connect-status' } as const;
/** The Connect worker's group (not `fedgate.<site>.`, which MM2 translates). */
export const connectGroup = (site: string) => `fedgate-connect.${site}`;
/** The gateway's group reading the change topics. */
export const cdcGroup = (site: string) => `fedgate-cdc.${site}`;

/** The connector's name on the worker. */
export const CDC_CONNECTOR = 'pis-cdc';
/** The logical replication slot and publication Debezium reads (pgoutput). */
export const CDC_SLOT = 'fedgate_cdc';
export const CDC_PUBLICATION = 'fedgate_cdc';
/** The PIS database, its owner (the PIS application) and the capture role (REPLICATION, SELECT on the captured tables). */
export const PIS_DATABASE = 'pis';
export const PIS_OWNER = 'pis';
export const CDC_ROLE = 'fedgate_cdc';
/** The role the PIS site's gateway reads the catalog (`products`) with, for enrichment: SELECT on that table only. */
export const CATALOG_ROLE = 'fedgate_catalog';

/** The PIS database's role secrets, in the PIS site's secrets folder. */
export const PIS_SECRET_FILES = { owner: 'pis-owner.secret', cdc: 'pis-cdc.secret', catalog: 'pis-catalog.secret' } as const;

/** The PIS settings and site, or null when the topology has no PIS. */
export function pisOf(topology: Topology): { pis: Pis; site: Site } | null {
  return topology.pis ? { pis: topology.pis, site: siteOf(topology, topology.pis.site) } : null;
}

export const isPisSite = (topology: Topology, site: string) => topology.pis?.site === site;

/** Where the PIS database is: the one fedgate runs on the PIS site's address, or the PIS's own (`pis.database`). */
export function pisDatabaseEndpoint(topology: Topology): { host: string; port: number; database: string; external: boolean } {
  const { pis, site } = pisOf(topology)!;
  return pis.database
    ? { host: pis.database.host, port: pis.database.port, database: pis.database.name, external: true }
    : { host: site.address, port: pis.databasePort, database: PIS_DATABASE, external: false };
}

/** True when the topology's PIS database runs outside fedgate. */
export const isExternalPisDatabase = (topology: Topology) => Boolean(topology.pis?.database);

/**
 * How fedgate's clients (Debezium, the catalog reader, the launcher's setup,
 * the demo PIS, `pis check`) reach the PIS database: TLS, with the server's
 * certificate verified against a CA and its address (libpq's `verify-full`);
 * the CA is the federation's for the database fedgate runs, the topology's
 * `sslrootcert` for the PIS's own. Plaintext only where the topology says
 * "disable", which it allows on loopback only.
 */
export type PisDatabaseTls = { sslmode: 'verify-full'; rootCert: string } | { sslmode: 'disable' };

export function pisDatabaseTls(topology: Topology, federationCa: string): PisDatabaseTls {
  const db = topology.pis?.database;
  if (!db) return { sslmode: 'verify-full', rootCert: federationCa };
  return db.sslmode === 'disable' ? { sslmode: 'disable' } : { sslmode: 'verify-full', rootCert: db.sslrootcert! };
}

/** The PIS database's URL for a role, with its password (read from the role's secret file) and the TLS settings libpq and node-postgres read. */
export function pisDatabaseUrl(topology: Topology, role: string, password: string, federationCa: string): string {
  const { host, port, database } = pisDatabaseEndpoint(topology);
  const tls = pisDatabaseTls(topology, federationCa);
  const query = tls.sslmode === 'disable' ? 'sslmode=disable' : `sslmode=verify-full&sslrootcert=${encodeURIComponent(tls.rootCert)}`;
  return `postgres://${role}:${encodeURIComponent(password)}@${host.includes(':') ? `[${host}]` : host}:${port}/${database}?${query}`;
}

export interface ConnectPaths {
  /** The federation CA, PEM. */
  caFile: string;
  /** The site's Connect key, certificate and CA in one PEM file (Kafka client and REST server). */
  keystoreFile: string;
  /** Debezium's plugin folder. */
  pluginPath: string;
  /** A properties file with `password=<the capture role's password>`, read through FileConfigProvider. */
  secretsFile: string;
  /** The REST listener's key store and trust store (PKCS12: Jetty takes no PEM stores) and their password. */
  rest: { keystore: string; truststore: string; password: string };
}

/** The Connect worker's REST authorization's class (deploy/connect/RestPrincipals.java). */
export const CONNECT_REST_EXTENSION = 'fedgate.connect.RestPrincipals';
/** The client-certificate subjects the Connect worker's REST API lets through (RFC 2253, as certs/certs.ts issues them). */
export const connectRestSubjects = (site: string) => [`CN=${site}.admin.fedgate`, `CN=${site}.connect.fedgate`];

/** The Connect worker's REST URL (HTTPS, client certificates required). */
export function connectUrl(topology: Topology): string {
  const { pis, site } = pisOf(topology)!;
  return `https://${site.address}:${pis.connectPort}`;
}

/**
 * Pure: the worker's `connect-distributed.properties`. It reaches the site's
 * Kafka over mTLS as `<site>.connect.fedgate`; its REST listener binds the
 * site's address only and requires a client certificate of the federation.
 * Topics are never created by the worker (the launcher makes them, with ACLs).
 */
export function renderConnectProperties(topology: Topology, paths: ConnectPaths): string {
  const { pis, site } = pisOf(topology)!;
  const rf = replicationOf(site).factor;
  const tls = (prefix: string): Properties => [
    [`${prefix}security.protocol`, 'SSL'],
    [`${prefix}ssl.keystore.type`, 'PEM'],
    [`${prefix}ssl.keystore.location`, paths.keystoreFile],
    [`${prefix}ssl.truststore.type`, 'PEM'],
    [`${prefix}ssl.truststore.location`, paths.caFile],
    [`${prefix}ssl.endpoint.identification.algorithm`, 'https'],
  ];
  return renderProperties(`Kafka Connect worker of ${site.name} (Debezium, PIS change capture), generated by fedgate`, [
    ['bootstrap.servers', localBootstraps(site).join(',')],
    ...tls(''),
    ...tls('producer.'),
    ...tls('consumer.'),
    ...tls('admin.'),
    ['group.id', connectGroup(site.name)],
    ['config.storage.topic', CONNECT_TOPICS.configs],
    ['offset.storage.topic', CONNECT_TOPICS.offsets],
    ['status.storage.topic', CONNECT_TOPICS.status],
    ['config.storage.replication.factor', rf],
    ['offset.storage.replication.factor', rf],
    ['status.storage.replication.factor', rf],
    ['key.converter', 'org.apache.kafka.connect.json.JsonConverter'],
    ['value.converter', 'org.apache.kafka.connect.json.JsonConverter'],
    ['key.converter.schemas.enable', false],
    ['value.converter.schemas.enable', false],
    ['plugin.path', paths.pluginPath],
    // Debezium's jars and Kafka's ship ServiceLoader manifests (the worker's own scan says so): the default
    // (hybrid_warn) also scans all of them by reflection, 31 s of the worker's start on this machine.
    ['plugin.discovery', 'service_load'],
    // The launcher creates every topic with its ACLs; the worker creates none.
    ['topic.creation.enable', false],
    // Source offsets (the LSN Debezium has confirmed) are flushed every second: a killed worker re-sends at most about that much.
    ['offset.flush.interval.ms', 1000],
    ['scheduled.rebalance.max.delay.ms', 0],
    // The worker's offsets, status and config logs ask an idle broker every 5 s instead of every 500 ms (IDLE_FETCH_WAIT_MS).
    ['fetch.max.wait.ms', IDLE_FETCH_WAIT_MS],
    // The capture role's password is read from a file when the connector starts; the config topic holds only the reference.
    ['config.providers', 'file'],
    ['config.providers.file.class', 'org.apache.kafka.common.config.provider.FileConfigProvider'],
    ['listeners', `https://${site.address}:${pis.connectPort}`],
    ['rest.advertised.listener', 'https'],
    ['listeners.https.ssl.keystore.type', 'PKCS12'],
    ['listeners.https.ssl.keystore.location', paths.rest.keystore],
    ['listeners.https.ssl.keystore.password', paths.rest.password],
    ['listeners.https.ssl.key.password', paths.rest.password],
    ['listeners.https.ssl.truststore.type', 'PKCS12'],
    ['listeners.https.ssl.truststore.location', paths.rest.truststore],
    ['listeners.https.ssl.truststore.password', paths.rest.password],
    ['listeners.https.ssl.client.auth', 'required'],
    // Authorization (deploy/connect/RestPrincipals.java): of the federation's certificates, only the site's admin (the
    // launcher, status, drills) and the worker itself may use the API; any other gets 403.
    ['rest.extension.classes', CONNECT_REST_EXTENSION],
    ['fedgate.rest.allowed.subjects', connectRestSubjects(site.name).join(';')],
  ]);
}

/**
 * Pure: the Debezium connector's configuration (PUT /connectors/pis-cdc/config).
 * Changes arrive as plain JSON envelopes (`before`, `after`, `source`, `op`);
 * decimals as strings, so money is never a float; no tombstones.
 */
export function cdcConnectorConfig(topology: Topology, secretsFile: string, federationCa: string): Record<string, string> {
  const db = pisDatabaseEndpoint(topology);
  const tls = pisDatabaseTls(topology, federationCa);
  return {
    'connector.class': 'io.debezium.connector.postgresql.PostgresConnector',
    'tasks.max': '1',
    'database.hostname': db.host,
    'database.port': String(db.port),
    'database.user': CDC_ROLE,
    'database.password': `\${file:${secretsFile}:password}`,
    'database.dbname': db.database,
    // The JDBC driver's TLS (the replication connection too): the server's certificate chains to the CA and names the host.
    'database.sslmode': tls.sslmode,
    ...(tls.sslmode === 'verify-full' ? { 'database.sslrootcert': tls.rootCert } : {}),
    'topic.prefix': CDC_TOPIC_PREFIX,
    'plugin.name': 'pgoutput',
    'slot.name': CDC_SLOT,
    'publication.name': CDC_PUBLICATION,
    // The launcher creates the publication for exactly the captured tables (the capture role owns nothing).
    'publication.autocreate.mode': 'disabled',
    'table.include.list': PIS_TABLES.map((t) => `public.${t}`).join(','),
    'snapshot.mode': 'initial',
    'decimal.handling.mode': 'string',
    'time.precision.mode': 'adaptive_time_microseconds',
    'tombstones.on.delete': 'false',
    'key.converter': 'org.apache.kafka.connect.json.JsonConverter',
    'value.converter': 'org.apache.kafka.connect.json.JsonConverter',
    'key.converter.schemas.enable': 'false',
    'value.converter.schemas.enable': 'false',
    'errors.retry.timeout': '-1',
    // How long the task waits for changes before handing a batch to Connect (500 ms by default): a change's first hop.
    'poll.interval.ms': '50',
  };
}
