import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ClientTls, peerEndpoint, type Site, type Topology } from '../federation/index.ts';

/**
 * The federation's private PKI, issued with the openssl CLI (no hand-rolled
 * ASN.1). Keys are RSA 2048 in PKCS#8 PEM (`BEGIN PRIVATE KEY`), which
 * Kafka's `ssl.keystore.type=PEM` loads directly, without passwords.
 *
 * Layout under the (git-ignored) certs folder, which services are given:
 *   ca/ca.pem (the CA certificate only)
 *   <site>/<role>.key, <role>.pem, <role>.keystore.pem (key + cert + CA)
 * The CA's private key lives in its own folder beside it (`ca-key/ca.key`
 * in the state folder), which no service is given: only `certs init` and
 * `certs rotate` read it.
 * Roles: `broker` (server, SAN = the site's address), `gateway` (client and
 * server of the site's gateway: Kafka and peer calls), and the clients `mm2`
 * (the site's MirrorMaker 2 node), `instance` (the site's consumers) and
 * `admin` (the launcher's admin steps and the operator's tools: probes,
 * drills, tests); at the PIS's site, `connect` (the Debezium worker: Kafka
 * client and REST server) and `pis` (the PIS's own Kafka client, which may
 * write only its source topic) and `pisdb` (the TLS server certificate of the
 * PIS database fedgate runs). Every certificate has a distinct subject; Kafka maps it to
 * the principal `<site>.<role>.fedgate`.
 */

export const CERT_ROLES = ['broker', 'mm2', 'gateway', 'instance', 'admin', 'connect', 'pis', 'pisdb'] as const;
const CLIENT_ONLY: ReadonlySet<CertRole> = new Set(['mm2', 'instance', 'admin', 'pis']);
export type CertRole = (typeof CERT_ROLES)[number];

export interface IssuedFiles {
  key: string;
  cert: string;
  /** Key, certificate and CA in one file, for `ssl.keystore.type=PEM`. */
  keystore: string;
}

export interface CertPaths {
  caCert: string;
  role(site: string, role: CertRole): IssuedFiles;
}

/** The CA's private key, in the folder kept apart from what services are given. */
export const caKeyFile = (caKeyDir: string) => join(caKeyDir, 'ca.key');

export function certPaths(dir: string): CertPaths {
  return {
    caCert: join(dir, 'ca', 'ca.pem'),
    role: (site, role) => ({
      key: join(dir, site, `${role}.key`),
      cert: join(dir, site, `${role}.pem`),
      keystore: join(dir, site, `${role}.keystore.pem`),
    }),
  };
}

export interface InitCertsOptions {
  dir: string;
  /** Where the CA's private key is kept: not inside `dir`, which services are given. */
  caKeyDir: string;
  topology: Topology;
  /** Validity of newly issued certificates, in days. */
  days?: number;
  /** Replace the CA (and so every certificate issued by it). */
  force?: boolean;
  /** Common name of the CA; tests use it to make a second, untrusted CA. */
  caName?: string;
  log?: (line: string) => void;
}

export interface InitCertsResult {
  created: string[];
  kept: string[];
}

export class CertsError extends Error {
  override name = 'CertsError';
}

export function initCerts(options: InitCertsOptions): InitCertsResult {
  const { dir, topology, days = 825, force = false, log = () => {} } = options;
  checkDays(days);
  requireOpenssl();
  const paths = certPaths(dir);
  const caKey = caKeyFile(options.caKeyDir);
  moveLegacyCaKey(dir, options.caKeyDir, log);
  const result: InitCertsResult = { created: [], kept: [] };

  const caExists = existsSync(paths.caCert) && existsSync(caKey);
  if (caExists && !force) {
    result.kept.push('ca');
  } else {
    if (caExists) log('replacing the federation CA (--force): every certificate is issued again');
    rmSync(join(dir, 'ca'), { recursive: true, force: true });
    mkdirSync(join(dir, 'ca'), { recursive: true, mode: 0o755 });
    mkdirSync(options.caKeyDir, { recursive: true, mode: 0o700 });
    openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', caKey]);
    chmodSync(caKey, 0o600);
    openssl([
      'req',
      '-x509',
      '-new',
      '-key',
      caKey,
      '-out',
      paths.caCert,
      '-days',
      String(days + 1),
      '-subj',
      `/O=fedgate/OU=${topology.federation}/CN=${options.caName ?? 'fedgate federation CA'}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE,pathlen:0',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    result.created.push('ca');
    log(`created the federation CA (${paths.caCert})`);
  }

  for (const site of topology.sites) {
    mkdirSync(join(dir, site.name), { recursive: true, mode: 0o700 });
    for (const role of CERT_ROLES) {
      const files = paths.role(site.name, role);
      const label = `${site.name}/${role}`;
      if (!force && isUsable(files, paths.caCert, site, role)) {
        result.kept.push(label);
        continue;
      }
      issue(paths, caKey, files, site, role, days);
      result.created.push(label);
      log(`issued ${label} (${subjectOf(site, role)})`);
    }
  }
  return result;
}

/**
 * The subject of each role's certificate; distinct per site and role. Only a
 * CN: the native brokers map it to `User:<CN>`, and Strimzi's `tls-external`
 * KafkaUsers (deploy/k8s/render.ts) require the subject to be exactly
 * `CN=<user name>`, so the same certificate serves both.
 */
export function subjectOf(site: Pick<Site, 'name'>, role: CertRole): string {
  return `/CN=${site.name}.${role}.fedgate`;
}

/**
 * Issues one role's key and certificate. The new files are written beside the
 * old ones and renamed over them last, so a process (re)reading them (a
 * broker reloading its keystore) never sees half a file.
 */
function issue(paths: CertPaths, caKey: string, files: IssuedFiles, site: Site, role: CertRole, days: number): void {
  const next = { key: `${files.key}.next`, cert: `${files.cert}.next`, keystore: `${files.keystore}.next` };
  const csr = `${files.cert}.csr`;
  const ext = `${files.cert}.ext`;
  openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', next.key]);
  chmodSync(next.key, 0o600);
  openssl(['req', '-new', '-key', next.key, '-out', csr, '-subj', subjectOf(site, role)]);
  const usage = CLIENT_ONLY.has(role) ? 'clientAuth' : 'serverAuth,clientAuth';
  // Brokers and gateways are reached by IP; hostname verification checks this SAN.
  const ips = [...new Set([site.address, site.wanAddress ?? site.address])].map((ip) => `IP:${ip}`).join(',');
  // A gateway reached by name (`endpoints.peer`, on Kubernetes) also answers to that name.
  const peerHost = role === 'gateway' && site.endpoints?.peer ? peerEndpoint(site).host : null;
  const peerName = peerHost && !/^\d+\.\d+\.\d+\.\d+$/.test(peerHost) ? `,DNS:${peerHost}` : '';
  const san = CLIENT_ONLY.has(role) ? `DNS:${site.name}.${role}` : `${ips},DNS:${site.name},DNS:localhost${peerName}`;
  writeFileSync(
    ext,
    ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', `extendedKeyUsage=${usage}`, `subjectAltName=${san}`].join(
      '\n',
    ),
  );
  openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    paths.caCert,
    '-CAkey',
    caKey,
    '-set_serial',
    `0x${randomBytes(16).toString('hex')}`,
    '-days',
    String(days),
    '-out',
    next.cert,
    '-extfile',
    ext,
  ]);
  rmSync(csr);
  rmSync(ext);
  writeFileSync(next.keystore, readFileSync(next.key, 'utf8') + readFileSync(next.cert, 'utf8') + readFileSync(paths.caCert, 'utf8'), { mode: 0o600 });
  renameSync(next.key, files.key);
  renameSync(next.cert, files.cert);
  renameSync(next.keystore, files.keystore);
}

/** Earlier versions kept the CA key in `<certs>/ca/`, which services are given; it moves to its own folder. */
function moveLegacyCaKey(dir: string, caKeyDir: string, log: (line: string) => void): void {
  const legacy = join(dir, 'ca', 'ca.key');
  if (!existsSync(legacy)) return;
  if (!existsSync(caKeyFile(caKeyDir))) {
    mkdirSync(caKeyDir, { recursive: true, mode: 0o700 });
    copyFileSync(legacy, caKeyFile(caKeyDir));
    chmodSync(caKeyFile(caKeyDir), 0o600);
    log(`moved the CA key out of the certificates folder, to ${caKeyFile(caKeyDir)}`);
  }
  rmSync(legacy);
}

export interface RotateCertsOptions {
  dir: string;
  caKeyDir: string;
  topology: Topology;
  site: string;
  days?: number;
  log?: (line: string) => void;
}

export interface RotatedCert {
  role: CertRole;
  /** Upper-case hex, as `openssl x509 -serial` and Node's `getPeerCertificate()` print it. */
  serial: string;
  notAfter: string;
}

/**
 * Renews every leaf certificate of one site with the existing CA: new keys,
 * new serials, the same subjects and SANs (Kafka refuses a dynamically
 * reloaded keystore whose subject or SANs changed). Other sites and the CA
 * are untouched, so every peer keeps trusting the site.
 */
export function rotateCerts(options: RotateCertsOptions): RotatedCert[] {
  const { dir, topology, days = 825, log = () => {} } = options;
  checkDays(days);
  requireOpenssl();
  const site = topology.sites.find((s) => s.name === options.site);
  if (!site) throw new CertsError(`unknown site "${options.site}"; the topology has ${topology.sites.map((s) => s.name).join(', ')}`);
  const paths = certPaths(dir);
  moveLegacyCaKey(dir, options.caKeyDir, log);
  const caKey = caKeyFile(options.caKeyDir);
  if (!existsSync(paths.caCert) || !existsSync(caKey)) {
    throw new CertsError(`no federation CA in ${dir} (its key in ${options.caKeyDir}); run \`npx fedgate certs init\` first`);
  }
  mkdirSync(join(dir, site.name), { recursive: true, mode: 0o700 });
  return CERT_ROLES.map((role) => {
    const files = paths.role(site.name, role);
    issue(paths, caKey, files, site, role, days);
    const rotated = {
      role,
      serial: certSerial(files.cert),
      notAfter: openssl(['x509', '-in', files.cert, '-noout', '-enddate'])
        .trim()
        .replace(/^notAfter=/, ''),
    };
    log(`renewed ${site.name}/${role} (serial ${rotated.serial}, valid until ${rotated.notAfter})`);
    return rotated;
  });
}

/** A certificate file's serial number, upper-case hex without leading zeros. */
export function certSerial(certFile: string): string {
  return openssl(['x509', '-in', certFile, '-noout', '-serial'])
    .trim()
    .replace(/^serial=/, '')
    .replace(/^0+(?=.)/, '')
    .toUpperCase();
}

/** A certificate is kept only if it chains to the current CA and names the site's current address. */
function isUsable(files: IssuedFiles, caCert: string, site: Site, role: CertRole): boolean {
  if (![files.key, files.cert, files.keystore].every((f) => existsSync(f))) return false;
  try {
    openssl(['verify', '-CAfile', caCert, files.cert]);
    const text = openssl(['x509', '-in', files.cert, '-noout', '-ext', 'subjectAltName,extendedKeyUsage', '-checkend', '86400']);
    return CLIENT_ONLY.has(role) || [site.address, site.wanAddress ?? site.address].every((ip) => text.includes(`IP Address:${ip}`));
  } catch {
    return false;
  }
}

function checkDays(days: number): void {
  if (!Number.isInteger(days) || days < 1 || days > 3650) throw new CertsError(`--days must be a whole number from 1 to 3650 (got ${days})`);
}

let opensslChecked = false;
function requireOpenssl(): void {
  if (opensslChecked) return;
  try {
    execFileSync('openssl', ['version'], { stdio: 'pipe' });
    opensslChecked = true;
  } catch {
    throw new CertsError('openssl is not installed; install it (Debian: apt-get install openssl) and run `npx fedgate certs init` again');
  }
}

function openssl(args: string[]): string {
  try {
    return execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new CertsError(`openssl ${args[0]} failed: ${stderr.trim().split('\n').slice(-3).join(' / ')}`);
  }
}

/** The same client material trusting `caFile` for the site's Kafka instead (Strimzi's cluster CA on Kubernetes); unchanged without one. */
export function withKafkaCa(tls: ClientTls, caFile: string | undefined): ClientTls {
  return caFile ? { ...tls, ca: readFileSync(caFile, 'utf8') } : tls;
}

/** PEM material of one site role, for a Kafka client (kafkajs `ssl`) or an HTTPS agent. */
export function clientTls(certsDir: string, site: string, role: CertRole): ClientTls {
  const paths = certPaths(certsDir);
  const files = paths.role(site, role);
  return { ca: readFileSync(paths.caCert, 'utf8'), cert: readFileSync(files.cert, 'utf8'), key: readFileSync(files.key, 'utf8') };
}
