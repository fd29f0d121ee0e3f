/**
 * The PEMS → mirror read side: normalize a record polled from GET /pfa (schemas/openapi/pems-api.json)
 * into a typed PfaRecord, and decide whether it changes the mirror. Pure.
 *
 * The mirror reflects what PEMS holds, so normalization checks types and formats but not
 * business rules (a negative rate PEMS already stores is mirrored as is; validation.ts guards
 * our writes). Unknown extra fields are dropped; a missing nullable field becomes null.
 */
import { PfaRecord } from './pfa-record';

export type NormalizeResult = { ok: true; record: PfaRecord } | { ok: false; reason: string };

const DATE_FIELDS = ['forecastStart', 'forecastEnd', 'actualEnd', 'originalStart', 'originalEnd'] as const;
const MONEY_FIELDS = ['monthlyRate', 'purchasePrice'] as const;
const TEXT_FIELDS = [
  'forecastCategory',
  'category',
  'equipment',
  'description',
  'notes',
  'class',
  'areaSilo',
  'manufacturer',
  'model',
] as const;
const BOOL_FIELDS = ['isDiscontinued', 'isFundsTransferable'] as const;

class Invalid {
  constructor(readonly reason: string) {}
}

/** True for a real calendar date in strict YYYY-MM-DD (rejects 2026-02-30, 2026-2-3, 2026-02-03T00:00). */
export function isCalendarDate(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return false;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  if (mo < 1 || mo > 12 || d < 1) return false;
  // Day 0 of the next month is the last day of this one; UTC avoids DST surprises.
  const last = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  return d <= last;
}

/** Rounds to cents, half away from zero, without 1.005 → 1.00 binary-float surprises. */
export function roundCents(n: number): number {
  // toPrecision(15) drops the binary representation error (1.005 * 100 = 100.49999999999999)
  // before rounding; 15 significant digits is what a double holds exactly.
  const r = Math.round(Number((Math.abs(n) * 100).toPrecision(15))) / 100;
  const signed = n < 0 ? -r : r;
  return Object.is(signed, -0) ? 0 : signed;
}

type Raw = Record<string, unknown>;

function requiredString(raw: Raw, f: string): string {
  const v = raw[f];
  if (typeof v !== 'string' || v.trim() === '') throw new Invalid(`${f} missing or not a non-empty string`);
  return v;
}

function text(raw: Raw, f: string): string | null {
  const v = raw[f];
  if (v === null || v === undefined) return null;
  if (typeof v !== 'string') throw new Invalid(`${f} is not a string`);
  return v;
}

function date(raw: Raw, f: string): string | null {
  const v = text(raw, f);
  if (v === null || v === '') return null; // EAM returns '' for an empty date in some exports
  if (!isCalendarDate(v)) throw new Invalid(`${f} '${v}' is not a valid YYYY-MM-DD date`);
  return v;
}

/** Money: a finite number, or a plain decimal string (EAM sends amounts as text in places). */
function money(raw: Raw, f: string): number | null {
  const v = raw[f];
  if (v === null || v === undefined) return null;
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v.trim())) n = Number(v.trim());
  else throw new Invalid(`${f} is not a number`);
  if (!Number.isFinite(n)) throw new Invalid(`${f} is not a finite number`);
  return roundCents(n);
}

function bool(raw: Raw, f: string): boolean {
  const v = raw[f];
  if (typeof v !== 'boolean') throw new Invalid(`${f} missing or not a boolean`);
  return v;
}

function oneOf<T extends string>(raw: Raw, f: string, allowed: readonly T[]): T | null {
  const v = text(raw, f);
  if (v === null) return null;
  if (!(allowed as readonly string[]).includes(v)) throw new Invalid(`${f} '${v}' is not one of ${allowed.join(', ')}`);
  return v as T;
}

export function normalizePemsRecord(raw: unknown): NormalizeResult {
  try {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Invalid('record is not an object');
    const r = raw as Raw;
    const version = r.version;
    if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) {
      throw new Invalid('version missing or not a positive integer');
    }
    const updatedAtRaw = requiredString(r, 'updatedAt');
    // ISO-8601 date-time with a zone: anything Date.parse accepts loosely (e.g. "Nov 24 2026")
    // would make the cursor order depend on the parser.
    if (
      !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(updatedAtRaw) ||
      Number.isNaN(Date.parse(updatedAtRaw))
    ) {
      throw new Invalid(`updatedAt '${updatedAtRaw}' is not an ISO-8601 timestamp with a zone`);
    }
    const record: PfaRecord = {
      pfaId: requiredString(r, 'pfaId'),
      organization: requiredString(r, 'organization'),
      version,
      // Canonical UTC form, so string comparison of mirror timestamps is time order.
      updatedAt: new Date(updatedAtRaw).toISOString(),
      updatedBy: text(r, 'updatedBy') ?? '',
      forecastStart: null,
      forecastEnd: null,
      forecastCategory: null,
      category: null,
      source: oneOf(r, 'source', ['Rental', 'Purchase'] as const),
      dor: oneOf(r, 'dor', ['BEO', 'PROJECT'] as const),
      equipment: null,
      monthlyRate: null,
      purchasePrice: null,
      isDiscontinued: bool(r, 'isDiscontinued'),
      isFundsTransferable: bool(r, 'isFundsTransferable'),
      actualEnd: null,
      description: null,
      notes: null,
      originalStart: null,
      originalEnd: null,
      class: null,
      areaSilo: null,
      manufacturer: null,
      model: null,
    };
    const out = record as unknown as Record<string, unknown>;
    for (const f of DATE_FIELDS) out[f] = date(r, f);
    for (const f of MONEY_FIELDS) out[f] = money(r, f);
    for (const f of TEXT_FIELDS) out[f] = text(r, f);
    for (const f of BOOL_FIELDS) out[f] = bool(r, f);
    return { ok: true, record };
  } catch (e) {
    if (e instanceof Invalid) return { ok: false, reason: e.reason };
    throw e;
  }
}

export type UpsertDecision = 'insert' | 'update' | 'ignore_older' | 'ignore_duplicate';

/**
 * PEMS's version only grows (+1 per write, child records included), so it orders records
 * better than updatedAt (same-second writes) or arrival order (a re-polled page, a replayed
 * raw topic). Equal version = same state: ignore, which makes replays idempotent.
 */
export function decideUpsert(
  current: { version: number } | null | undefined,
  incoming: { version: number },
): UpsertDecision {
  if (current === null || current === undefined) return 'insert';
  if (incoming.version > current.version) return 'update';
  if (incoming.version === current.version) return 'ignore_duplicate';
  return 'ignore_older';
}
