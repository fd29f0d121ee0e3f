/**
 * Reading the audit log: filtered, keyset-paged queries; the chain check; and a streamed read
 * through a server-side cursor (DECLARE ... FETCH in batches) so an export of a million rows
 * holds one batch in memory at a time.
 *
 * The chain (schemas/migrations/002_outcomes.ts, trigger audit_log_chain) is kept per
 * organization in the order the trigger ran, which is created_at order (created_at is
 * clock_timestamp() taken while holding the organization's head row lock). Ids come from a
 * sequence before the trigger, so under concurrency id order can differ from chain order:
 * the check walks (created_at, id), not id.
 */
import type { Knex } from 'knex';
import { auditMac, AUDIT_GENESIS_MAC, headMac, macEquals, type AuditKeyRing } from '../../streams/audit-mac';
import { auditKeyRing } from './audit';

export interface AuditFilter {
  organizationIds: readonly string[];
  pfaId?: string;
  actor?: string;
  eventType?: string;
  /** Inclusive lower and exclusive upper bound on created_at, ISO-8601. */
  from?: string;
  to?: string;
}

export interface AuditRow {
  id: string;
  organizationId: string;
  pfaId: string | null;
  modificationId: string | null;
  actor: string;
  eventType: string;
  details: unknown;
  pemsResponse: unknown;
  /** Exactly as hashed: UTC with microseconds. */
  createdAt: string;
  prevHash: string;
  hash: string;
}

/** created_at formatted as the chain trigger formats it. */
const CREATED_AT_SQL = `to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

export const AUDIT_COLUMNS = [
  'id',
  'createdAt',
  'organizationId',
  'pfaId',
  'modificationId',
  'actor',
  'eventType',
  'details',
  'pemsResponse',
  'prevHash',
  'hash',
] as const;

function selectAudit(db: Knex, f: AuditFilter): Knex.QueryBuilder {
  const q = db('audit_log')
    .select(
      db.raw('id::text AS id'),
      'organization_id',
      'pfa_id',
      'modification_id',
      'actor',
      'event_type',
      // jsonb text as the trigger hashed it: an exported row can be re-hashed by anyone.
      db.raw('details::text AS details'),
      db.raw('pems_response::text AS pems_response'),
      db.raw(`${CREATED_AT_SQL} AS created_at`),
      'prev_hash',
      'hash',
    )
    .whereIn('organization_id', [...f.organizationIds]);
  if (f.pfaId) q.where('pfa_id', f.pfaId);
  if (f.actor) q.where('actor', f.actor);
  if (f.eventType) q.where('event_type', f.eventType);
  if (f.from) q.where('created_at', '>=', f.from);
  if (f.to) q.where('created_at', '<', f.to);
  return q;
}

/** Raw row (details and pemsResponse as jsonb text) to the API shape. */
export function toAuditRow(
  r: Record<string, any>,
  parseJson = true,
): AuditRow & { detailsText: string; pemsResponseText: string | null } {
  return {
    id: r.id,
    organizationId: r.organization_id,
    pfaId: r.pfa_id,
    modificationId: r.modification_id,
    actor: r.actor,
    eventType: r.event_type,
    details: parseJson ? JSON.parse(r.details) : r.details,
    pemsResponse: r.pems_response === null ? null : parseJson ? JSON.parse(r.pems_response) : r.pems_response,
    createdAt: r.created_at,
    prevHash: r.prev_hash,
    hash: r.hash,
    detailsText: r.details,
    pemsResponseText: r.pems_response,
  };
}

export async function queryAudit(
  db: Knex,
  f: AuditFilter,
  page: { limit: number; order: 'asc' | 'desc'; afterId?: string },
): Promise<AuditRow[]> {
  const q = selectAudit(db, f);
  if (page.afterId) q.where('id', page.order === 'desc' ? '<' : '>', page.afterId);
  const rows = await q.orderBy('audit_log.id', page.order).limit(page.limit);
  return rows.map((r: Record<string, any>) => {
    const { detailsText: _d, pemsResponseText: _p, ...row } = toAuditRow(r);
    return row;
  });
}

/**
 * Reads every row matching `f`, oldest first, through a server-side cursor in its own
 * read-only transaction on one pooled connection, `batchSize` rows per FETCH. The generator's
 * finally (run on completion, error, or when the consumer stops early) closes the cursor and
 * gives the connection back.
 */
export async function* streamAudit(db: Knex, f: AuditFilter, batchSize = 1000): AsyncGenerator<Record<string, any>> {
  const { sql, bindings } = selectAudit(db, f).orderBy('audit_log.id', 'asc').toSQL().toNative();
  const conn = (await db.client.acquireConnection()) as import('pg').Client;
  let open = false;
  try {
    await conn.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    open = true;
    await conn.query(`DECLARE audit_export NO SCROLL CURSOR FOR ${sql}`, bindings as unknown[]);
    for (;;) {
      const res = await conn.query(`FETCH ${Math.max(1, Math.floor(batchSize))} FROM audit_export`);
      for (const row of res.rows) yield row;
      if (res.rows.length < batchSize) break;
    }
    await conn.query('COMMIT');
    open = false;
  } finally {
    if (open) await conn.query('ROLLBACK').catch(() => undefined);
    await db.client.releaseConnection(conn);
  }
}

export interface ChainCheck {
  organizationId: string;
  entries: number;
  ok: boolean;
  /** The first entry (in chain order) whose hash or link does not hold. */
  firstBroken: null | {
    id: string;
    createdAt: string;
    /** hash/prev_hash: the sha256 chain; mac_mismatch/unsigned_entry/unknown_key: the keyed chain. */
    problem: 'hash_mismatch' | 'prev_hash_mismatch' | 'mac_mismatch' | 'unsigned_entry' | 'unknown_key';
    storedHash: string;
    expectedHash: string;
    storedPrevHash: string;
    expectedPrevHash: string;
  };
  /** The chain head (audit_chain_head) names the last entry's hash: a truncated tail shows here. */
  headMatches: boolean;
  /** Keyed chain (audit.keys): entries signed, and the first entry whose mac does not hold. */
  keyed?: {
    signedEntries: number;
    firstBroken: null | {
      id: string;
      createdAt: string;
      problem: 'mac_mismatch' | 'unsigned_entry' | 'unknown_key';
      keyId: string | null;
    };
    /** The head's own mac holds and names the last entry: a tail cut off and the head moved back shows here. */
    headValid: boolean;
  };
  /** No entry and no head: nothing to verify is not a verified chain. */
  empty?: boolean;
}

const GENESIS = '0'.repeat(64);

/**
 * Recomputes every entry's hash in SQL with the trigger's exact expression (same jsonb text,
 * same timestamp format) and checks each prev_hash against the entry before it. Postgres
 * streams the window internally; only the first broken entry comes back.
 */
export async function verifyAuditChain(
  db: Knex,
  organizationId: string,
  ring: AuditKeyRing | undefined = auditKeyRing(),
): Promise<ChainCheck> {
  const result = await db.raw(
    `WITH chain AS (
       SELECT id, created_at, prev_hash, hash,
         encode(sha256(convert_to(
           prev_hash || '|' || id::text || '|' || organization_id || '|' || coalesce(pfa_id, '') || '|' ||
           coalesce(modification_id::text, '') || '|' || actor || '|' || event_type || '|' ||
           details::text || '|' || coalesce(pems_response::text, '') || '|' ||
           ${CREATED_AT_SQL}, 'UTF8')), 'hex') AS expected_hash,
         coalesce(lag(hash) OVER w, ?) AS expected_prev_hash,
         count(*) OVER () AS entries,
         last_value(hash) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS last_hash
       FROM audit_log WHERE organization_id = ?
       WINDOW w AS (ORDER BY created_at, id)
     )
     SELECT id::text AS id, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_iso,
       prev_hash, hash, expected_hash, expected_prev_hash, entries, last_hash,
       (hash <> expected_hash OR prev_hash <> expected_prev_hash) AS broken
     FROM chain
     ORDER BY (hash <> expected_hash OR prev_hash <> expected_prev_hash) DESC, chain.created_at, chain.id
     LIMIT 1`,
    [GENESIS, organizationId],
  );
  const head = await db('audit_chain_head')
    .where({ organization_id: organizationId })
    .first('last_hash', 'last_id', 'last_mac', 'head_mac', 'mac_key_id');
  const r = (result.rows as Array<Record<string, any>>)[0];
  if (!r) {
    return {
      organizationId,
      entries: 0,
      ok: false,
      firstBroken: null,
      headMatches: head === undefined,
      empty: head === undefined,
      ...(ring ? { keyed: { signedEntries: 0, firstBroken: null, headValid: false } } : {}),
    };
  }
  const headMatches = head?.last_hash === r.last_hash;
  const firstBroken = r.broken
    ? {
        id: r.id as string,
        createdAt: r.created_at_iso as string,
        problem: (r.hash !== r.expected_hash ? 'hash_mismatch' : 'prev_hash_mismatch') as
          'hash_mismatch' | 'prev_hash_mismatch',
        storedHash: r.hash as string,
        expectedHash: r.expected_hash as string,
        storedPrevHash: r.prev_hash as string,
        expectedPrevHash: r.expected_prev_hash as string,
      }
    : null;
  if (!ring)
    return {
      organizationId,
      entries: Number(r.entries),
      ok: firstBroken === null && headMatches,
      firstBroken,
      headMatches,
    };
  const keyed = await verifyKeyedChain(db, organizationId, ring, head);
  // The earliest entry either check finds is the first altered one.
  const keyedBroken = keyed.firstBroken;
  const first =
    keyedBroken && (!firstBroken || BigInt(keyedBroken.id) < BigInt(firstBroken.id))
      ? {
          id: keyedBroken.id,
          createdAt: keyedBroken.createdAt,
          problem: keyedBroken.problem,
          storedHash: '',
          expectedHash: '',
          storedPrevHash: '',
          expectedPrevHash: '',
        }
      : firstBroken;
  return {
    organizationId,
    entries: Number(r.entries),
    ok: first === null && headMatches && keyed.headValid,
    firstBroken: first,
    headMatches,
    keyed,
  };
}

const KEYED_PAGE = 5000;

/**
 * Walks the organization's entries by id (the order the head lock gave them), recomputing each
 * mac from the previous one with the key that signed it. Entries written before audit.keys was
 * set (mac null, at the start) are skipped; an unsigned entry after a signed one is broken.
 */
async function verifyKeyedChain(
  db: Knex,
  organizationId: string,
  ring: AuditKeyRing,
  head:
    | { last_id?: string | number; last_mac?: string | null; head_mac?: string | null; mac_key_id?: string | null }
    | undefined,
): Promise<NonNullable<ChainCheck['keyed']>> {
  let prev = AUDIT_GENESIS_MAC;
  let signed = 0;
  let lastId = '0';
  let after = '0';
  for (;;) {
    const page = await db.raw(
      `SELECT id::text AS id, ${CREATED_AT_SQL} AS created_at, pfa_id, modification_id::text AS modification_id, actor, event_type,
              details, pems_response, mac, mac_key_id
         FROM audit_log WHERE organization_id = ? AND audit_log.id > ?::bigint ORDER BY audit_log.id LIMIT ?`,
      [organizationId, after, KEYED_PAGE],
    );
    const rows = page.rows as Array<Record<string, any>>;
    for (const e of rows) {
      after = e.id;
      lastId = e.id;
      if (e.mac === null) {
        if (signed === 0) continue; // written before the chain was keyed
        return {
          signedEntries: signed,
          firstBroken: { id: e.id, createdAt: e.created_at, problem: 'unsigned_entry', keyId: null },
          headValid: false,
        };
      }
      const key = ring.keys.get(e.mac_key_id);
      if (!key)
        return {
          signedEntries: signed,
          firstBroken: { id: e.id, createdAt: e.created_at, problem: 'unknown_key', keyId: e.mac_key_id },
          headValid: false,
        };
      const expected = auditMac(
        key,
        e.mac_key_id,
        {
          organizationId,
          id: e.id,
          createdAt: e.created_at,
          pfaId: e.pfa_id,
          modificationId: e.modification_id,
          actor: e.actor,
          eventType: e.event_type,
          details: e.details,
          pemsResponse: e.pems_response,
        },
        prev,
      );
      if (!macEquals(e.mac, expected))
        return {
          signedEntries: signed,
          firstBroken: { id: e.id, createdAt: e.created_at, problem: 'mac_mismatch', keyId: e.mac_key_id },
          headValid: false,
        };
      prev = expected;
      signed += 1;
    }
    if (rows.length < KEYED_PAGE) break;
  }
  const headKey = head?.mac_key_id ? ring.keys.get(head.mac_key_id) : undefined;
  const headValid =
    signed === 0
      ? true
      : head !== undefined &&
        headKey !== undefined &&
        String(head.last_id) === lastId &&
        head.last_mac === prev &&
        macEquals(head.head_mac, headMac(headKey, head.mac_key_id!, organizationId, lastId, prev));
  return { signedEntries: signed, firstBroken: null, headValid };
}

/** True when the organization's entry `lastId` is still there with mac `lastMac` (a checkpoint holds). */
export async function checkpointHolds(
  db: Knex,
  organizationId: string,
  lastId: string,
  lastMac: string,
): Promise<boolean> {
  const row = await db('audit_log').where({ organization_id: organizationId }).andWhere('id', lastId).first('mac');
  return row !== undefined && macEquals(row.mac, lastMac);
}
