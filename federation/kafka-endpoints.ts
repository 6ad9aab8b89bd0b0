import type { KafkaConfig } from 'kafkajs';
import { brokerNodes, type Site, wanAddressOf } from './topology.ts';

/** PEM material for a client of an inter-site (mTLS) listener. */
export interface ClientTls {
  ca: string;
  cert: string;
  key: string;
}

/** The site-local listener of the site's first broker (what `status` shows). */
export function localBootstrap(site: Site): string {
  return `${site.address}:${site.ports.kafka}`;
}

export function interSiteBootstrap(site: Site): string {
  return `${wanAddressOf(site)}:${site.ports.interSite}`;
}

/** Every broker's site-local listener: a client bootstraps from any that answers. */
export function localBootstraps(site: Site): string[] {
  return brokerNodes(site).map((n) => `${site.address}:${n.kafka}`);
}

/** Every broker's inter-site listener. */
export function interSiteBootstraps(site: Site): string[] {
  return brokerNodes(site).map((n) => `${wanAddressOf(site)}:${n.interSite}`);
}

/**
 * kafkajs config for a site's own services: the site-local listener, which
 * authenticates every client by its certificate (mTLS), like the others; or
 * the site's `endpoints.kafka` (names, on Kubernetes).
 */
export function localKafkaConfig(site: Site, clientId: string, tls: ClientTls): KafkaConfig {
  return { clientId, brokers: site.endpoints?.kafka ?? localBootstraps(site), ssl: sslOf(tls) };
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
    brokers: interSiteBootstraps(site),
    ssl: sslOf(tls),
  };
}
