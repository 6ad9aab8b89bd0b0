import type { KafkaConfig } from 'kafkajs';
import { type Site, wanAddressOf } from './topology.ts';

/** PEM material for a client of an inter-site (mTLS) listener. */
export interface ClientTls {
  ca: string;
  cert: string;
  key: string;
}

export function localBootstrap(site: Site): string {
  return `${site.address}:${site.ports.kafka}`;
}

export function interSiteBootstrap(site: Site): string {
  return `${wanAddressOf(site)}:${site.ports.interSite}`;
}

/**
 * kafkajs config for a site's own services: the site-local listener, which
 * authenticates every client by its certificate (mTLS), like the others.
 */
export function localKafkaConfig(site: Site, clientId: string, tls: ClientTls): KafkaConfig {
  return { clientId, brokers: [localBootstrap(site)], ssl: sslOf(tls) };
}

/** Hostname verification stays on: Node checks the broker certificate's IP SAN against the address; SNI may not carry an IP. */
const sslOf = (tls: ClientTls) => ({ ca: [tls.ca], cert: tls.cert, key: tls.key, servername: undefined, rejectUnauthorized: true });

/**
 * kafkajs config for the inter-site listener with a client certificate.
 * Hostname verification stays on: Node checks the broker certificate's IP SAN
 * against the address. `servername` is cleared because SNI may not carry an IP.
 */
export function interSiteKafkaConfig(site: Site, clientId: string, tls: ClientTls): KafkaConfig {
  return {
    clientId,
    brokers: [interSiteBootstrap(site)],
    ssl: sslOf(tls),
  };
}
