/**
 * Realistic PFA records for the simulator: plausible dates, categories, rental rates and
 * purchase prices, generated from a seeded PRNG so a test can ask for the same data twice.
 */
import type { PfaRecord } from '../../streams/pfa-record';

const CATEGORIES: Array<{
  category: string;
  class: string;
  prefix: string;
  rate: [number, number];
  price: [number, number];
  makes: Array<[string, string]>;
}> = [
  {
    category: 'Cranes',
    class: 'Heavy Lift',
    prefix: 'CR',
    rate: [8000, 45000],
    price: [400000, 2500000],
    makes: [
      ['Liebherr', 'LR 1300'],
      ['Manitowoc', 'MLC300'],
      ['Tadano', 'GR-1000XL'],
    ],
  },
  {
    category: 'Earthmoving',
    class: 'Excavation',
    prefix: 'EX',
    rate: [4000, 18000],
    price: [150000, 900000],
    makes: [
      ['Caterpillar', '336'],
      ['Komatsu', 'PC490'],
      ['Volvo', 'EC480E'],
    ],
  },
  {
    category: 'Generators',
    class: 'Power',
    prefix: 'GN',
    rate: [900, 6000],
    price: [25000, 300000],
    makes: [
      ['Cummins', 'C500D5'],
      ['Aggreko', '500kVA'],
      ['Caterpillar', 'XQ425'],
    ],
  },
  {
    category: 'Scaffolding',
    class: 'Access',
    prefix: 'SC',
    rate: [300, 2500],
    price: [5000, 60000],
    makes: [
      ['PERI', 'UP Flex'],
      ['Layher', 'Allround'],
      ['Safway', 'Systems'],
    ],
  },
  {
    category: 'Vehicles',
    class: 'Light Fleet',
    prefix: 'VH',
    rate: [1200, 3500],
    price: [35000, 95000],
    makes: [
      ['Toyota', 'Hilux'],
      ['Ford', 'F-350'],
      ['Mitsubishi', 'L200'],
    ],
  },
  {
    category: 'Compressors',
    class: 'Air',
    prefix: 'CP',
    rate: [700, 4000],
    price: [20000, 150000],
    makes: [
      ['Atlas Copco', 'XAS 1800'],
      ['Sullair', '1600H'],
      ['Doosan', 'XHP1070'],
    ],
  },
];
const FORECAST_CATEGORIES = ['Baseline', 'Forecast', 'Contingency', 'Change Order'];
const AREAS = ['North', 'South', 'East', 'West', 'Central', 'Port'];

/** mulberry32: tiny, fast, good enough for test data. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(rand: () => number, items: readonly T[]): T {
  const item = items[Math.floor(rand() * items.length)];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}

function addDays(iso: string, days: number): string {
  const d = new Date(`${iso}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

export interface SeedOptions {
  organization: string;
  count: number;
  /** First numeric id; ids look like PFA-000123 or `${prefix}-000123`. */
  startAt?: number;
  prefix?: string;
  seed?: number;
  updatedAt: () => string;
}

export function makeRecords(opts: SeedOptions): PfaRecord[] {
  const rand = prng(opts.seed ?? 42);
  const prefix = opts.prefix ?? `PFA-${opts.organization}`;
  const out: PfaRecord[] = [];
  for (let i = 0; i < opts.count; i++) {
    const n = (opts.startAt ?? 1) + i;
    const cat = pick(rand, CATEGORIES);
    const [manufacturer, model] = pick(rand, cat.makes);
    const isRental = rand() < 0.75;
    const originalStart = addDays('2026-01-01', Math.floor(rand() * 300));
    const originalEnd = addDays(originalStart, 30 + Math.floor(rand() * 400));
    const forecastStart = addDays(originalStart, Math.floor(rand() * 30) - 10);
    const forecastEnd = addDays(originalEnd, Math.floor(rand() * 60) - 20 < 0 ? 0 : Math.floor(rand() * 60));
    const money = (range: [number, number]): number =>
      Math.round((range[0] + rand() * (range[1] - range[0])) * 100) / 100;
    out.push({
      pfaId: `${prefix}-${String(n).padStart(6, '0')}`,
      organization: opts.organization,
      version: 1 + Math.floor(rand() * 8),
      updatedAt: opts.updatedAt(),
      updatedBy: pick(rand, ['jdoe', 'mchen', 'asmith', 'rpatel', 'EAM-IMPORT']),
      forecastStart,
      forecastEnd: forecastEnd < forecastStart ? forecastStart : forecastEnd,
      forecastCategory: pick(rand, FORECAST_CATEGORIES),
      category: cat.category,
      source: isRental ? 'Rental' : 'Purchase',
      dor: rand() < 0.6 ? 'PROJECT' : 'BEO',
      equipment: `${cat.prefix}-${String(Math.floor(rand() * 9999)).padStart(4, '0')}`,
      monthlyRate: isRental ? money(cat.rate) : null,
      purchasePrice: isRental ? null : money(cat.price),
      isDiscontinued: false,
      isFundsTransferable: rand() < 0.7,
      actualEnd: null,
      description: `${manufacturer} ${model} for ${cat.category.toLowerCase()} works`,
      notes: rand() < 0.3 ? 'Mobilisation via main gate; escort required.' : null,
      originalStart,
      originalEnd,
      class: cat.class,
      areaSilo: pick(rand, AREAS),
      manufacturer,
      model,
    });
  }
  return out;
}

export const PEMS_USERS = ['jdoe', 'mchen', 'asmith', 'rpatel', 'lnguyen'];
