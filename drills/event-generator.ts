import { EVENT_TYPES, type PublishInput } from '../contract/index.ts';
import type { Topology } from '../federation/index.ts';
import { knownRegions } from '../federation/index.ts';

const CURRENCY_OF_REGION: Record<string, string> = { eu: 'EUR', us: 'USD', apac: 'JPY' };

/** A small deterministic PRNG (mulberry32), so a seed reproduces a stream. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface GeneratorOptions {
  topology: Topology;
  /** Number of distinct products (ids `sku-00001`...). */
  products?: number;
  seed?: number;
  /** Share of price, discount and country events; default 60/20/20. */
  mix?: { price: number; discount: number; country: number };
}

/**
 * A realistic stream of PIM events for the topology's regions and countries:
 * mostly price updates, some discounts (half of them for every region), some
 * availability changes. Prices are decimal strings in the region's currency.
 */
export function createEventGenerator(options: GeneratorOptions) {
  const rand = prng(options.seed ?? 42);
  const products = options.products ?? 500;
  const regions = knownRegions(options.topology);
  const countries = [...new Set(options.topology.sites.flatMap((s) => s.countries))].sort();
  const mix = options.mix ?? { price: 0.6, discount: 0.2, country: 0.2 };
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;
  const product = () => `sku-${String(1 + Math.floor(rand() * products)).padStart(5, '0')}`;

  function price(productId = product(), region = pick(regions)): PublishInput {
    const currency = CURRENCY_OF_REGION[region] ?? 'EUR';
    const amount =
      currency === 'JPY' ? String(100 + Math.floor(rand() * 50_000)) : `${1 + Math.floor(rand() * 999)}.${String(Math.floor(rand() * 100)).padStart(2, '0')}`;
    return { type: EVENT_TYPES.price, data: { productId, region, price: { currency, amount } } };
  }
  function discount(productId = product()): PublishInput {
    const everywhere = rand() < 0.5;
    return {
      type: EVENT_TYPES.discount,
      data: {
        productId,
        discountId: `promo-${1 + Math.floor(rand() * 20)}`,
        ...(everywhere ? {} : { region: pick(regions) }),
        percent: String(5 * (1 + Math.floor(rand() * 10))),
        active: rand() < 0.9,
      },
    };
  }
  function country(productId = product()): PublishInput {
    return { type: EVENT_TYPES.country, data: { productId, country: pick(countries), available: rand() < 0.8 } };
  }

  return {
    price,
    discount,
    country,
    next(): PublishInput {
      const r = rand();
      if (r < mix.price || countries.length === 0) return price();
      if (r < mix.price + mix.discount) return discount();
      return country();
    },
  };
}
