/**
 * The keyed audit chain (issue 13, item 2). Each entry carries
 *   mac = HMAC-SHA256(key, canonical JSON [1, keyId, organizationId, id, createdAt, pfaId,
 *                     modificationId, actor, eventType, details, pemsResponse, prevMac])
 * where prevMac is the organization's previous entry's mac (genesis: 64 zeros). The key is
 * configuration (audit.keys), never in the database: whoever can write the database but does
 * not hold the key cannot rewrite an entry and re-chain what follows. The fields are a JSON
 * array (no separator to smuggle), details and pemsResponse as canonical JSON of their values
 * (jsonb reorders keys; the value is what counts). The chain head carries
 *   headMac = HMAC-SHA256(key, canonical JSON ["head", 1, keyId, organizationId, lastId, lastMac])
 * so it cannot be pointed at an earlier entry (a truncated tail) without the key.
 *
 * Keys rotate like the credential keys: "id:base64,id:base64", the first signs new entries,
 * every listed key verifies the entries it signed. Pure.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { canonicalJson, canonicalStoredJson } from './canonical-json';

export const AUDIT_GENESIS_MAC = '0'.repeat(64);

export interface AuditMacFields {
  organizationId: string;
  id: string;
  /** UTC, microseconds: YYYY-MM-DDTHH:MM:SS.ffffffZ (as the database prints it). */
  createdAt: string;
  pfaId: string | null;
  modificationId: string | null;
  actor: string;
  eventType: string;
  details: unknown;
  pemsResponse: unknown;
}

export interface AuditKeyRing {
  primary: string;
  keys: ReadonlyMap<string, Buffer>;
}

export function parseAuditKeys(raw: string): AuditKeyRing | undefined {
  if (raw.trim() === '') return undefined;
  const keys = new Map<string, Buffer>();
  let primary = '';
  for (const [i, part] of raw.split(',').entries()) {
    const m = /^([A-Za-z0-9_.-]{1,32}):([A-Za-z0-9+/=]+)$/.exec(part.trim());
    if (!m) throw new Error(`audit key ${i} is not id:base64`);
    const key = Buffer.from(m[2]!, 'base64');
    if (key.length < 32) throw new Error(`audit key '${m[1]}' has ${key.length} bytes; at least 32 are needed`);
    if (keys.has(m[1]!)) throw new Error(`audit key id '${m[1]}' is listed twice`);
    keys.set(m[1]!, key);
    if (i === 0) primary = m[1]!;
  }
  return { primary, keys };
}

const hmac = (key: Buffer, text: string): string => createHmac('sha256', key).update(text, 'utf8').digest('hex');

/**
 * The entry's mac. details and pemsResponse are signed as they read back once stored (jsonb): an
 * entry being written and the same entry read from audit_log give the same text.
 */
export function auditMac(key: Buffer, keyId: string, f: AuditMacFields, prevMac: string): string {
  return hmac(
    key,
    canonicalStoredJson([
      1,
      keyId,
      f.organizationId,
      f.id,
      f.createdAt,
      f.pfaId,
      f.modificationId,
      f.actor,
      f.eventType,
      f.details ?? {},
      f.pemsResponse ?? null,
      prevMac,
    ]),
  );
}

export function headMac(key: Buffer, keyId: string, organizationId: string, lastId: string, lastMac: string): string {
  return hmac(key, canonicalJson(['head', 1, keyId, organizationId, lastId, lastMac]));
}

export function macEquals(a: string | null | undefined, b: string): boolean {
  if (typeof a !== 'string' || a.length !== b.length) return false;
  return timingSafeEqual(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * A checkpoint of an organization's chain head, published outside Postgres (a compacted Kafka
 * topic keyed by organization): whoever rewrites the database cannot reach it, so a chain that
 * no longer contains the checkpointed entry with the checkpointed mac was cut or replaced.
 */
export interface AuditCheckpoint {
  v: 1;
  organizationId: string;
  lastId: string;
  lastMac: string;
  at: string;
  keyId: string;
  sig: string;
}

const checkpointText = (c: Omit<AuditCheckpoint, 'sig'>): string =>
  canonicalJson(['checkpoint', 1, c.keyId, c.organizationId, c.lastId, c.lastMac, c.at]);

export function signCheckpoint(
  ring: AuditKeyRing,
  c: { organizationId: string; lastId: string; lastMac: string; at: string },
): AuditCheckpoint {
  const body = { v: 1 as const, ...c, keyId: ring.primary };
  return { ...body, sig: hmac(ring.keys.get(ring.primary)!, checkpointText(body)) };
}

/** The checkpoint if its signature holds under one of the ring's keys, else undefined. */
export function checkedCheckpoint(ring: AuditKeyRing, raw: unknown): AuditCheckpoint | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const c = raw as Partial<AuditCheckpoint>;
  if (
    c.v !== 1 ||
    typeof c.organizationId !== 'string' ||
    typeof c.lastId !== 'string' ||
    typeof c.lastMac !== 'string' ||
    typeof c.at !== 'string' ||
    typeof c.keyId !== 'string'
  )
    return undefined;
  const key = ring.keys.get(c.keyId);
  if (!key) return undefined;
  const expected = hmac(key, checkpointText(c as AuditCheckpoint));
  return macEquals(c.sig, expected) ? (c as AuditCheckpoint) : undefined;
}
