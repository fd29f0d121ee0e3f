import type { Knex } from 'knex';
import { auditMac, headMac, parseAuditKeys, AUDIT_GENESIS_MAC, type AuditKeyRing } from '../../streams/audit-mac';
import type { AuditEntry } from '../../streams/audit-entry';

/**
 * The audit log is append-only and hash-chained per organization by the database itself
 * (schemas/migrations/002_outcomes.ts): writers only insert. With audit.keys configured
 * (PEMS_SYNC_AUDIT_KEYS) every entry is also signed into a keyed chain (streams/audit-mac.ts,
 * migration 010) that someone who can write the database but lacks the key cannot forge.
 */
export type { AuditEntry };

let cached: { raw: string; ring: AuditKeyRing | undefined } | undefined;

/** The audit key ring from PEMS_SYNC_AUDIT_KEYS (schemas/config.ts audit.keys; validated at start), or undefined. */
export function auditKeyRing(env: NodeJS.ProcessEnv = process.env): AuditKeyRing | undefined {
  const raw = env.PEMS_SYNC_AUDIT_KEYS ?? '';
  if (cached?.raw !== raw) cached = { raw, ring: parseAuditKeys(raw) };
  return cached.ring;
}

export async function appendAudit(
  db: Knex | Knex.Transaction,
  entries: AuditEntry | readonly AuditEntry[],
  ring = auditKeyRing(),
): Promise<void> {
  const list = Array.isArray(entries) ? entries : [entries as AuditEntry];
  if (list.length === 0) return;
  if (!ring) {
    // One statement: the chain trigger runs per row, in the entries' order, inside it.
    await db.raw(
      `INSERT INTO audit_log (organization_id, pfa_id, modification_id, actor, event_type, details, pems_response, prev_hash, hash)
       SELECT ${ENTRY_COLUMNS}, '', '' FROM jsonb_to_recordset(?::jsonb) AS x(${ENTRY_TYPES}) ORDER BY x.o`,
      [JSON.stringify(list.map(entryRow))],
    );
    return;
  }
  const write = async (tx: Knex.Transaction): Promise<void> => {
    const byOrg = new Map<string, AuditEntry[]>();
    for (const e of list) {
      const same = byOrg.get(e.organizationId);
      if (same) same.push(e);
      else byOrg.set(e.organizationId, [e]);
    }
    // Organizations in a fixed order: two writers locking the same heads never deadlock.
    for (const org of [...byOrg.keys()].sort()) await appendSigned(tx, org, byOrg.get(org)!, ring);
  };
  if ((db as Knex.Transaction).isTransaction) await write(db as Knex.Transaction);
  else await (db as Knex).transaction(write);
}

/**
 * The entries go to Postgres as one JSON array read by jsonb_to_recordset (one parameter, rows
 * in order by `o`), not as a multi-row VALUES list of a dozen parameters per entry: issue 16
 * measured 11-15 against 16-19 µs of Postgres CPU and 4-6 against 9-17 µs of the sink's per row.
 */
const ENTRY_COLUMNS =
  'x.organization_id, x.pfa_id, x.modification_id, x.actor, x.event_type, x.details, x.pems_response';
const ENTRY_TYPES =
  'o int, organization_id text, pfa_id text, modification_id uuid, actor text, event_type text, details jsonb, pems_response jsonb';

function entryRow(e: AuditEntry, o: number): Record<string, unknown> {
  return {
    o,
    organization_id: e.organizationId,
    pfa_id: e.pfaId ?? null,
    modification_id: e.modificationId ?? null,
    actor: e.actor,
    event_type: e.eventType,
    details: e.details ?? {},
    // A JSON null here is stored as SQL NULL; both read back as null, which is what is signed.
    pems_response: e.pemsResponse === undefined ? null : e.pemsResponse,
  };
}

/**
 * Under the head row's lock (the same upsert the chain trigger does), takes ids and the clock
 * from the database, signs each entry onto the previous mac, inserts them and signs the head.
 */
async function appendSigned(
  tx: Knex.Transaction,
  org: string,
  entries: AuditEntry[],
  ring: AuditKeyRing,
): Promise<void> {
  const key = ring.keys.get(ring.primary)!;
  const head = await tx.raw(
    `INSERT INTO audit_chain_head (organization_id, last_id, last_hash) VALUES (?, 0, repeat('0', 64))
       ON CONFLICT (organization_id) DO UPDATE SET last_id = audit_chain_head.last_id
       RETURNING last_mac`,
    [org],
  );
  let prev: string = (head.rows[0] as { last_mac: string | null }).last_mac ?? AUDIT_GENESIS_MAC;
  const ids = await tx.raw(
    `SELECT nextval(pg_get_serial_sequence('audit_log', 'id'))::text AS id,
            to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at
       FROM generate_series(1, ?::int)`,
    [entries.length],
  );
  const rows = entries.map((e, i) => {
    const { id, at } = ids.rows[i] as { id: string; at: string };
    const mac = auditMac(
      key,
      ring.primary,
      {
        organizationId: org,
        id,
        createdAt: at,
        pfaId: e.pfaId ?? null,
        modificationId: e.modificationId ?? null,
        actor: e.actor,
        eventType: e.eventType,
        // Signed as stored (auditMac): the JSON values jsonb will hand back (a Date becomes its ISO text).
        details: e.details ?? {},
        pemsResponse: e.pemsResponse,
      },
      prev,
    );
    prev = mac;
    return { ...entryRow(e, i), id, created_at: at, mac, mac_key_id: ring.primary };
  });
  await tx.raw(
    `INSERT INTO audit_log (organization_id, pfa_id, modification_id, actor, event_type, details, pems_response,
                            prev_hash, hash, id, created_at, mac, mac_key_id)
     SELECT ${ENTRY_COLUMNS}, '', '', x.id, x.created_at, x.mac, x.mac_key_id
       FROM jsonb_to_recordset(?::jsonb) AS x(${ENTRY_TYPES}, id bigint, created_at timestamptz, mac text, mac_key_id text)
      ORDER BY x.o`,
    [JSON.stringify(rows)],
  );
  const last = rows[rows.length - 1]!;
  await tx('audit_chain_head')
    .where({ organization_id: org })
    .update({
      last_mac: last.mac,
      mac_key_id: ring.primary,
      head_mac: headMac(key, ring.primary, org, last.id, last.mac),
    });
}

export interface SignedChainHead {
  organizationId: string;
  /** audit_log id of the last entry, as text (a bigint). */
  lastId: string;
  lastMac: string;
  headMac: string;
  macKeyId: string;
}

/** The chain heads that carry a head mac, of `organizationIds` (all when undefined). */
export async function signedChainHeads(db: Knex, organizationIds?: readonly string[]): Promise<SignedChainHead[]> {
  const q = db('audit_chain_head')
    .whereNotNull('head_mac')
    .select('organization_id', db.raw('last_id::text AS last_id'), 'last_mac', 'head_mac', 'mac_key_id');
  if (organizationIds) q.whereIn('organization_id', [...organizationIds]);
  const heads = (await q) as Array<{
    organization_id: string;
    last_id: string;
    last_mac: string;
    head_mac: string;
    mac_key_id: string;
  }>;
  return heads.map((h) => ({
    organizationId: h.organization_id,
    lastId: h.last_id,
    lastMac: h.last_mac,
    headMac: h.head_mac,
    macKeyId: h.mac_key_id,
  }));
}
