import { createConnection } from 'node:net';
import { connect } from 'node:tls';
import kafkajs, { type Admin } from 'kafkajs';
import type { ClientTls, Site } from '../federation/index.ts';
import { brokerListeners } from './broker-config.ts';

// kafkajs is CommonJS and Node's loader does not see this enum as a named export.
const { ConfigResourceTypes } = kafkajs;

/**
 * Makes a running broker load its renewed keystore without a restart: Kafka's
 * dynamic listener SSL reconfiguration. Setting a listener's
 * `ssl.keystore.location` to the same file makes the broker rebuild that
 * listener's SSL factory when the file changed since it was read; it refuses
 * a keystore whose subject or SANs differ (rotateCerts keeps both).
 * Connections already open keep their session; new handshakes present the
 * new certificate.
 *
 * kafkajs sends AlterConfigs (not the incremental kind), which replaces the
 * broker's per-broker dynamic configs: fedgate sets no other ones, and this
 * request carries all of them.
 */
export async function reloadBrokerKeystore(admin: Admin, site: Site, keystoreFile: string, brokerId = 1): Promise<void> {
  await admin.alterConfigs({
    validateOnly: false,
    resources: [
      {
        type: ConfigResourceTypes.BROKER,
        name: String(brokerId),
        configEntries: brokerListeners(site).map((l) => ({ name: `listener.name.${l.name}.ssl.keystore.location`, value: keystoreFile })),
      },
    ],
  });
}

/**
 * The serial number of the certificate a TLS listener presents in a fresh
 * handshake (upper-case hex, as `certSerial` prints it). The client offers
 * `tls` (the listeners require a client certificate) and checks the server
 * against the CA.
 */
export function presentedSerial(host: string, port: number, tls: ClientTls, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, ca: tls.ca, cert: tls.cert, key: tls.key, timeout: timeoutMs }, () => {
      const serial = socket.getPeerCertificate().serialNumber;
      socket.end();
      resolve(serial.replace(/^0+(?=.)/, '').toUpperCase());
    });
    socket.on('timeout', () => {
      socket.destroy();
      reject(new Error(`TLS handshake with ${host}:${port} timed out after ${timeoutMs} ms`));
    });
    socket.on('error', reject);
  });
}

/**
 * The serial number of the certificate a PostgreSQL server presents in a
 * fresh TLS handshake: PostgreSQL 15 starts TLS inside its own protocol, so
 * the client first sends an SSLRequest (length 8, code 80877103) and
 * upgrades the socket once the server answers `S`. The server is checked
 * against `ca` and `host`; no login is attempted.
 */
export function presentedPostgresSerial(host: string, port: number, ca: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const fail = (err: Error) => {
      raw.destroy();
      reject(err);
    };
    const raw = createConnection({ host, port, timeout: timeoutMs }, () => {
      const request = Buffer.alloc(8);
      request.writeInt32BE(8, 0);
      request.writeInt32BE(80877103, 4);
      raw.write(request);
    });
    raw.once('data', (answer: Buffer) => {
      if (answer[0] !== 0x53) return fail(new Error(`${host}:${port} refused TLS (answered ${JSON.stringify(String.fromCharCode(answer[0] ?? 0))})`));
      const socket = connect({ socket: raw, ca, host }, () => {
        const serial = socket.getPeerCertificate().serialNumber;
        socket.end();
        resolve(serial.replace(/^0+(?=.)/, '').toUpperCase());
      });
      socket.on('error', fail);
    });
    raw.on('timeout', () => fail(new Error(`TLS handshake with PostgreSQL at ${host}:${port} timed out after ${timeoutMs} ms`)));
    raw.on('error', reject);
  });
}
