/**
 * The conflict screen's four columns — Base | Yours | PEMS now | Result — and a person's
 * choices turned into a resolution. Fields that are not a real conflict are merged already and
 * say why ("only you changed this", "only PEMS changed this"); each real conflict needs Mine,
 * PEMS or a custom value. Pure: the values come from the conflict row and PEMS's history.
 */
import { applyResolution, sameValue, type Resolution } from './conflicts';
import { parseCustomValue } from './custom-value';
import { isEditableField } from './pfa-record';
import { validateChangeShape, validateRecord } from './validation';

export type MergeKind = 'conflict' | 'only_you' | 'only_pems';
export type Choice = 'mine' | 'pems' | 'custom';

export interface MergeRow {
  field: string;
  kind: MergeKind;
  base: unknown;
  baseKnown: boolean;
  yours: unknown;
  pems: unknown;
}

export interface PlanInput {
  fields: ReadonlyArray<{ field: string; base: unknown; local: unknown; pems: unknown }>;
  delta: Readonly<Record<string, unknown>>;
  /** PEMS's record at the user's base version and at the conflict's version, when history has them. */
  baseRecord: Readonly<Record<string, unknown>> | null;
  pemsRecord: Readonly<Record<string, unknown>> | null;
}

export function mergeRows(i: PlanInput): MergeRow[] {
  const rows: MergeRow[] = i.fields.map((f) => ({
    field: f.field,
    kind: 'conflict',
    base: f.base,
    baseKnown: true,
    yours: f.local,
    pems: f.pems,
  }));
  const conflicting = new Set(i.fields.map((f) => f.field));
  for (const [field, yours] of Object.entries(i.delta)) {
    if (conflicting.has(field)) continue;
    const base = i.baseRecord ? (i.baseRecord[field] ?? null) : null;
    rows.push({
      field,
      kind: 'only_you',
      base,
      baseKnown: i.baseRecord !== null,
      yours,
      pems: i.pemsRecord ? (i.pemsRecord[field] ?? null) : base,
    });
  }
  if (i.baseRecord && i.pemsRecord) {
    for (const field of Object.keys(i.pemsRecord)) {
      if (!isEditableField(field) || conflicting.has(field) || field in i.delta) continue;
      const base = i.baseRecord[field] ?? null;
      const pems = i.pemsRecord[field] ?? null;
      if (!sameValue(base, pems)) rows.push({ field, kind: 'only_pems', base, baseKnown: true, yours: base, pems });
    }
  }
  return rows;
}

export interface Decision {
  choices: Record<string, Choice | undefined>;
  custom: Record<string, string>;
}

export interface Plan {
  resolution: Resolution | null;
  /** merge only: the value of every conflicting field. */
  values?: Record<string, unknown>;
  /** field → the Result column's value. */
  result: Record<string, unknown>;
  /** field → what is wrong with the choice (missing, bad custom value, a PEMS rule). */
  errors: Record<string, string>;
}

/** The resolution a person's choices make, checked against PEMS's rules on the resulting record. */
export function planResolution(
  rows: readonly MergeRow[],
  d: Decision,
  pemsRecord: Readonly<Record<string, unknown>>,
  delta: Readonly<Record<string, unknown>>,
): Plan {
  const errors: Record<string, string> = {};
  const result: Record<string, unknown> = {};
  const values: Record<string, unknown> = {};
  const conflicts = rows.filter((r) => r.kind === 'conflict');
  for (const r of rows) {
    if (r.kind === 'only_you') result[r.field] = r.yours;
    else if (r.kind === 'only_pems') result[r.field] = r.pems;
  }
  for (const r of conflicts) {
    const c = d.choices[r.field];
    if (c === 'mine') values[r.field] = r.yours;
    else if (c === 'pems') values[r.field] = r.pems;
    else if (c === 'custom') {
      const v = parseCustomValue(r.field, d.custom[r.field] ?? '');
      if (v.ok) values[r.field] = v.value;
      else errors[r.field] = v.message;
    } else errors[r.field] = `choose Mine, PEMS or Custom for ${r.field}`;
    if (r.field in values) result[r.field] = values[r.field];
  }
  if (Object.keys(errors).length > 0) return { resolution: null, result, errors };
  const all = (c: Choice): boolean => conflicts.every((r) => d.choices[r.field] === c);
  const resolution: Resolution = all('mine') ? 'use_local' : all('pems') ? 'use_pems' : 'merge';
  const fields = conflicts.map((r) => ({
    field: r.field,
    base: r.base,
    baseKnown: r.baseKnown,
    local: r.yours,
    pems: r.pems,
  }));
  const changes = applyResolution(
    { fields, changes: { ...delta } },
    resolution,
    resolution === 'merge' ? values : undefined,
  );
  for (const e of validateChangeShape(changes)) errors[e.field] = e.message;
  const known = new Set(validateRecord(pemsRecord).map((e) => `${e.field}\u0000${e.message}`));
  for (const e of validateRecord({ ...pemsRecord, ...changes }))
    if (!known.has(`${e.field}\u0000${e.message}`)) errors[e.field] = e.message;
  return Object.keys(errors).length > 0
    ? { resolution: null, result, errors }
    : { resolution, values: resolution === 'merge' ? values : undefined, result, errors };
}
