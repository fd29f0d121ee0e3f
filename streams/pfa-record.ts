/**
 * The PEMS PFA record as the contract (schemas/openapi/pems-api.json) defines it, and the catalogue of
 * which fields the sync may write. Pure data: every stage and edge imports from here.
 */

/** Fields the sync may write through PUT /pfa/{id} and POST /pfa/batch. */
export const EDITABLE_FIELDS = [
  'forecastStart',
  'forecastEnd',
  'forecastCategory',
  'category',
  'source',
  'dor',
  'equipment',
  'monthlyRate',
  'purchasePrice',
  'isDiscontinued',
  'isFundsTransferable',
  'actualEnd',
  'description',
  'notes',
] as const;

/** Fields PEMS owns; writing one is 400 FIELD_NOT_EDITABLE. */
export const PEMS_OWNED_FIELDS = [
  'originalStart',
  'originalEnd',
  'class',
  'areaSilo',
  'manufacturer',
  'model',
] as const;

/** Bookkeeping fields present on every record and never part of a change. */
export const SYSTEM_FIELDS = ['pfaId', 'organization', 'version', 'updatedAt', 'updatedBy'] as const;

export type EditableField = (typeof EDITABLE_FIELDS)[number];
export type PemsOwnedField = (typeof PEMS_OWNED_FIELDS)[number];

export type FieldValue = string | number | boolean | null;

/** A set of field changes (a delta). Keys are editable fields once validated. */
export type Changes = Partial<Record<EditableField, FieldValue>>;

export interface PfaRecord {
  pfaId: string;
  organization: string;
  /** EAM's recordid / updatecount: +1 on every write, also on child-record activity. */
  version: number;
  updatedAt: string;
  updatedBy: string;
  forecastStart: string | null;
  forecastEnd: string | null;
  forecastCategory: string | null;
  category: string | null;
  source: 'Rental' | 'Purchase' | null;
  dor: 'BEO' | 'PROJECT' | null;
  equipment: string | null;
  monthlyRate: number | null;
  purchasePrice: number | null;
  isDiscontinued: boolean;
  isFundsTransferable: boolean;
  actualEnd: string | null;
  description: string | null;
  notes: string | null;
  originalStart: string | null;
  originalEnd: string | null;
  class: string | null;
  areaSilo: string | null;
  manufacturer: string | null;
  model: string | null;
}

const editable: ReadonlySet<string> = new Set(EDITABLE_FIELDS);
const owned: ReadonlySet<string> = new Set(PEMS_OWNED_FIELDS);

export function isEditableField(name: string): name is EditableField {
  return editable.has(name);
}

export function isPemsOwnedField(name: string): name is PemsOwnedField {
  return owned.has(name);
}

/** The editable values of a record, as a Changes object (used for diffs and snapshots). */
export function editableValues(record: Partial<PfaRecord>): Changes {
  const out: Changes = {};
  for (const f of EDITABLE_FIELDS) {
    if (f in record) out[f] = (record as Record<string, FieldValue>)[f] ?? null;
  }
  return out;
}
