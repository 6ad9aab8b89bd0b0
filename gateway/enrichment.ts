import type { Catalog } from '../contract/index.ts';

/** A product's catalog row in the PIS (`products`). */
export interface CatalogEntry {
  name: string;
  brand?: string;
  category?: string;
}

/** Looks up products in the PIS catalog; a product it does not return is not in the catalog. Rejects when the catalog cannot answer. */
export type CatalogLookup = (productIds: string[]) => Promise<Map<string, CatalogEntry>>;

export type UnknownProductPolicy = 'pass' | 'dead-letter';

export interface Enricher {
  /** Each product's catalog data (one lookup for every product not cached). */
  catalogOf(productIds: string[]): Promise<Map<string, Catalog>>;
  unknownProduct: UnknownProductPolicy;
  stats(): { hits: number; misses: number; lookups: number; failures: number; cached: number };
}

/**
 * Enrichment: the step between ingest (HTTP, the seed shape, change capture,
 * the source topic) and distribution that adds the PIS catalog's name, brand
 * and category to each event. Lookups are cached for `ttlMs`, a product that
 * is not in the catalog too (so a flood of unknown ids costs one lookup per
 * TTL); a catalog that does not answer is not cached, and its events pass
 * marked `catalog-unavailable`: a catalog outage never stops publishing.
 */
export function createEnricher(options: {
  lookup: CatalogLookup;
  ttlMs: number;
  unknownProduct: UnknownProductPolicy;
  maxEntries?: number;
  now?: () => number;
}): Enricher {
  const now = options.now ?? Date.now;
  const maxEntries = options.maxEntries ?? 200_000;
  const cache = new Map<string, { entry: CatalogEntry | null; until: number }>();
  const counts = { hits: 0, misses: 0, lookups: 0, failures: 0 };
  const asCatalog = (entry: CatalogEntry | null): Catalog =>
    entry
      ? {
          status: 'enriched',
          name: entry.name,
          ...(entry.brand ? { brand: entry.brand } : {}),
          ...(entry.category ? { category: entry.category } : {}),
        }
      : { status: 'unenriched', reason: 'unknown-product' };

  return {
    unknownProduct: options.unknownProduct,
    stats: () => ({ ...counts, cached: cache.size }),
    async catalogOf(productIds) {
      const t = now();
      const out = new Map<string, Catalog>();
      const missing: string[] = [];
      for (const id of new Set(productIds)) {
        const hit = cache.get(id);
        if (hit && hit.until > t) {
          counts.hits++;
          out.set(id, asCatalog(hit.entry));
        } else {
          counts.misses++;
          missing.push(id);
        }
      }
      if (missing.length === 0) return out;
      counts.lookups++;
      let found: Map<string, CatalogEntry>;
      try {
        found = await options.lookup(missing);
      } catch {
        counts.failures++;
        for (const id of missing) out.set(id, { status: 'unenriched', reason: 'catalog-unavailable' });
        return out;
      }
      // Oldest first out when full (a Map keeps insertion order).
      while (cache.size + missing.length > maxEntries && cache.size > 0) cache.delete(cache.keys().next().value!);
      for (const id of missing) {
        const entry = found.get(id) ?? null;
        cache.delete(id);
        cache.set(id, { entry, until: t + options.ttlMs });
        out.set(id, asCatalog(entry));
      }
      return out;
    },
  };
}
