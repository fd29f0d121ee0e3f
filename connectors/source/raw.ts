/**
 * The raw (bronze) topic's record format, shared by the poller (writes) and the mirror stream
 * (reads). Pure.
 *
 * Key: JSON `{"organization_id": ORG, "pfa_id": PFA}`, the same shape and field order as the
 * key Debezium gives the CDC topic of pfa_modification. Same key bytes, same default (murmur2)
 * partitioner: with equal partition counts a PFA's raw records and its modifications land on the
 * same partition number, and a PFA's versions stay in order on one partition.
 *
 * Value: JSON `{"record": <PEMS's record exactly as received>, "fetchedAt": ISO-8601}`. JSON,
 * not Avro (schemas/avro/pfa-raw.avsc): the bronze layer keeps what PEMS sent, including
 * records that break the contract (a bad date, a missing field), which the normalized Avro
 * schema cannot hold. The mirror stream validates, and dead-letters what fails, with the
 * original bytes.
 */

export const RAW_CONTENT_TYPE = 'application/vnd.pems-sync.pfa-raw.v1+json';

export interface RawKey {
  organization_id: string;
  pfa_id: string | null;
}

export interface RawValue {
  record: unknown;
  fetchedAt: string;
}

/** The key of a raw record. A record without a usable pfaId gets pfa_id null (it will be dead-lettered). */
export function rawKey(organization: string, record: unknown): string {
  const pfaId =
    typeof record === 'object' && record !== null && typeof (record as { pfaId?: unknown }).pfaId === 'string'
      ? (record as { pfaId: string }).pfaId
      : null;
  const key: RawKey = { organization_id: organization, pfa_id: pfaId };
  return JSON.stringify(key);
}

export function rawValue(record: unknown, fetchedAt: Date): string {
  const value: RawValue = { record, fetchedAt: fetchedAt.toISOString() };
  return JSON.stringify(value);
}

export type DecodedRaw =
  { ok: true; key: RawKey; record: unknown; fetchedAt: string } | { ok: false; stage: 'DECODE'; reason: string };

/** Decodes a raw record's key and value bytes; never throws. */
export function decodeRaw(
  key: Buffer | string | null | undefined,
  value: Buffer | string | null | undefined,
): DecodedRaw {
  const fail = (reason: string): DecodedRaw => ({ ok: false, stage: 'DECODE', reason });
  if (value === null || value === undefined) return fail('raw record has no value (tombstone)');
  let k: unknown;
  try {
    k = key === null || key === undefined ? null : JSON.parse(key.toString());
  } catch {
    return fail('raw record key is not JSON');
  }
  if (
    typeof k !== 'object' ||
    k === null ||
    typeof (k as RawKey).organization_id !== 'string' ||
    (k as RawKey).organization_id === ''
  ) {
    return fail('raw record key has no organization_id');
  }
  let v: unknown;
  try {
    v = JSON.parse(value.toString());
  } catch {
    return fail('raw record value is not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v) || !('record' in v))
    return fail('raw record value has no record');
  const fetchedAt = (v as { fetchedAt?: unknown }).fetchedAt;
  if (typeof fetchedAt !== 'string' || Number.isNaN(Date.parse(fetchedAt)))
    return fail('raw record value has no valid fetchedAt');
  const rk = k as RawKey;
  return {
    ok: true,
    key: { organization_id: rk.organization_id, pfa_id: typeof rk.pfa_id === 'string' ? rk.pfa_id : null },
    record: (v as RawValue).record,
    fetchedAt,
  };
}
