/**
 * Reconciliation: does PEMS agree with the mirror and with the outcomes we recorded? A pure
 * comparison over plain data (everything in maps, O(records + history + modifications)), so
 * 100,000 records compare in well under a second; the time of a run is PEMS paging.
 *
 * Findings (each one is drift):
 *  - missing_in_mirror / missing_in_pems: a record on one side only;
 *  - mirror_stale: the mirror's version or editable values differ from PEMS;
 *  - unfinished: a committed modification (committed | queued | syncing) older than the grace
 *    period: it has no terminal outcome (synced, conflict, rejected, failed, superseded);
 *  - outcome_mismatch: a synced modification whose value PEMS does not hold (rule below);
 *  - orphan_write: a PEMS version written by a Vanguard user with no synced modification behind it;
 *  - unrecorded_write / write_mismatch (only with a PEMS write log, e.g. the simulator's): a write
 *    PEMS really applied whose version no synced modification records (a second application of
 *    edits after a kill, or an outcome recorded against another version), and a write whose
 *    changes are not the values the modifications recorded at its version asked for.
 *
 * The outcome rule, per (PFA, field). Take the latest synced modification that wrote the field:
 * the highest pems_version_after; modifications coalesced into one write share a version, and
 * the one committed last wrote its value. Call its value x and its version v. Then:
 *   1. if the history has version v, it must hold x (the write we recorded is the write PEMS made);
 *   2. if any history version after v holds another value, someone changed the field later
 *      (a PEMS user, a rollback): legitimate, nothing more to check;
 *   3. if PEMS is past the newest version the history knows, we cannot tell a later PEMS edit
 *      from a lost value: not judged here (mirror_stale already reports that record);
 *   4. otherwise PEMS must hold x now.
 * "The history" is pfa_mirror_history plus the mirror row. Every history row is a snapshot PEMS
 * really had (the read side stores what PEMS returned, the sink what its write produced), so a
 * version the history skipped cannot hide a change that a later snapshot would not show.
 *
 * The orphan rule: the versions written by a Vanguard user are PEMS's current version when its
 * updatedBy is a Vanguard user id (the sink sends modifiedBy = the user id) and every history row
 * with origin 'sync' or changed_by a Vanguard user. Each needs a synced modification of that PFA
 * with that pems_version_after. A PFA with a modification still in flight within the grace period
 * is skipped: its write may have landed in PEMS a moment before its outcome is recorded.
 */
import { IN_FLIGHT_STATUSES } from './modification';
import { EDITABLE_FIELDS, type EditableField, type FieldValue, type PfaRecord } from './pfa-record';

export { IN_FLIGHT_STATUSES };
export const TERMINAL_STATUSES = ['synced', 'conflict', 'rejected', 'failed', 'superseded'] as const;

import type {
  Finding,
  FindingKind,
  HistoryInput,
  MirrorInput,
  ModificationInput,
  ReconcileInput,
  ReconcileResult,
} from './reconcile-report';

// Every type of the contract module, re-exported once (the import above is what this file uses).
export type * from './reconcile-report';

/** Values as PEMS and JSON may spell them: undefined is null, '5500.00' is 5500. */
export function sameValue(a: unknown, b: unknown): boolean {
  const x = a === undefined ? null : a;
  const y = b === undefined ? null : b;
  if (x === y) return true;
  if ((typeof x === 'number' || typeof y === 'number') && x !== null && y !== null && x !== '' && y !== '') {
    const nx = Number(x);
    const ny = Number(y);
    return Number.isFinite(nx) && nx === ny;
  }
  return false;
}

/** The field values a modification asks PEMS to hold: a delete is a soft delete (isDiscontinued). */
export function intendedValues(m: Pick<ModificationInput, 'operation' | 'delta'>): Map<EditableField, FieldValue> {
  const out = new Map<EditableField, FieldValue>();
  if (m.operation === 'delete') {
    out.set('isDiscontinued', true);
    return out;
  }
  for (const f of EDITABLE_FIELDS) {
    if (Object.prototype.hasOwnProperty.call(m.delta, f)) out.set(f, (m.delta[f] ?? null) as FieldValue);
  }
  return out;
}

function valueOf(r: Partial<PfaRecord>, f: EditableField): FieldValue {
  return ((r as Record<string, unknown>)[f] ?? null) as FieldValue;
}

const pushTo = <K, V>(m: Map<K, V[]>, k: K, v: V): void => {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
};

export function reconcile(input: ReconcileInput): ReconcileResult {
  const findings: Finding[] = [];
  const users = new Set(input.vanguardUsers);
  const pems = new Map<string, PfaRecord>();
  for (const r of input.pems) pems.set(r.pfaId, r);
  const mirror = new Map<string, MirrorInput>();
  for (const r of input.mirror) mirror.set(r.pfaId, r);

  // 1. Mirror against PEMS.
  for (const [pfaId, p] of pems) {
    const m = mirror.get(pfaId);
    if (!m) {
      findings.push({ kind: 'missing_in_mirror', pfaId, pemsVersion: p.version });
      continue;
    }
    const fields = EDITABLE_FIELDS.filter((f) => !sameValue(valueOf(p, f), valueOf(m.data, f))).map((f) => ({
      field: f,
      pems: valueOf(p, f),
      mirror: valueOf(m.data, f),
    }));
    if (m.version !== p.version || fields.length > 0) {
      findings.push({ kind: 'mirror_stale', pfaId, pemsVersion: p.version, mirrorVersion: m.version, fields });
    }
  }
  for (const [pfaId, m] of mirror) {
    if (!pems.has(pfaId)) findings.push({ kind: 'missing_in_pems', pfaId, mirrorVersion: m.version });
  }

  // 2. Modifications without a terminal outcome.
  const byStatus: Record<string, number> = {};
  const inFlight: ReadonlySet<string> = new Set(IN_FLIGHT_STATUSES);
  const youngInFlight = new Set<string>();
  const syncedByPfa = new Map<string, ModificationInput[]>();
  let modifications = 0;
  for (const m of input.modifications) {
    modifications++;
    byStatus[m.syncStatus] = (byStatus[m.syncStatus] ?? 0) + 1;
    if (inFlight.has(m.syncStatus)) {
      const since = Date.parse(m.committedAt ?? m.createdAt);
      const ageMs = input.now - since;
      if (ageMs >= input.graceMs) {
        findings.push({
          kind: 'unfinished',
          pfaId: m.pfaId,
          modificationId: m.id,
          status: m.syncStatus,
          committedAt: m.committedAt,
          ageMs,
        });
      } else {
        youngInFlight.add(m.pfaId);
      }
    }
    if (m.syncStatus === 'synced' && m.pemsVersionAfter !== null) pushTo(syncedByPfa, m.pfaId, m);
  }

  const historyByPfa = new Map<string, Map<number, HistoryInput>>();
  for (const h of input.history) {
    let versions = historyByPfa.get(h.pfaId);
    if (!versions) historyByPfa.set(h.pfaId, (versions = new Map()));
    versions.set(h.version, h);
  }
  // The mirror row is a snapshot PEMS had too (its newest one we know of).
  for (const m of mirror.values()) {
    let versions = historyByPfa.get(m.pfaId);
    if (!versions) historyByPfa.set(m.pfaId, (versions = new Map()));
    if (!versions.has(m.version))
      versions.set(m.version, { pfaId: m.pfaId, version: m.version, data: m.data, changedBy: null, origin: 'mirror' });
  }

  // 3. Synced outcomes against PEMS (rule in the file comment).
  const outcomeChecks = { checked: 0, overwrittenLater: 0, unverifiable: 0 };
  const order = (m: ModificationInput): string => m.committedAt ?? m.createdAt;
  for (const [pfaId, mods] of syncedByPfa) {
    const p = pems.get(pfaId);
    if (!p) continue; // reported as missing_in_mirror / missing_in_pems, or not ours to judge
    const latest = new Map<EditableField, { mod: ModificationInput; value: FieldValue; version: number }>();
    for (const mod of mods) {
      const version = mod.pemsVersionAfter as number;
      for (const [f, value] of intendedValues(mod)) {
        const cur = latest.get(f);
        if (!cur || version > cur.version || (version === cur.version && order(mod) >= order(cur.mod)))
          latest.set(f, { mod, value, version });
      }
    }
    const history = historyByPfa.get(pfaId) ?? new Map<number, HistoryInput>();
    const versions = [...history.keys()].sort((a, b) => a - b);
    const newestKnown = versions.length > 0 ? (versions[versions.length - 1] as number) : -Infinity;
    for (const [field, { mod, value, version }] of latest) {
      const atWrite = history.get(version);
      if (atWrite && !sameValue(valueOf(atWrite.data, field), value)) {
        findings.push({
          kind: 'outcome_mismatch',
          pfaId,
          modificationId: mod.id,
          field,
          expected: value,
          actual: valueOf(atWrite.data, field),
          at: 'history',
          version,
        });
        continue;
      }
      if (
        versions.some((v) => v > version && !sameValue(valueOf((history.get(v) as HistoryInput).data, field), value))
      ) {
        outcomeChecks.overwrittenLater++;
        continue;
      }
      if (p.version > newestKnown) {
        outcomeChecks.unverifiable++;
        continue;
      }
      outcomeChecks.checked++;
      if (!sameValue(valueOf(p, field), value)) {
        findings.push({
          kind: 'outcome_mismatch',
          pfaId,
          modificationId: mod.id,
          field,
          expected: value,
          actual: valueOf(p, field),
          at: 'pems',
          version: p.version,
        });
      }
    }
  }

  // 4. Vanguard-written PEMS versions with no synced modification behind them.
  const syncedVersions = new Set<string>();
  for (const [pfaId, mods] of syncedByPfa)
    for (const m of mods) syncedVersions.add(`${pfaId}\u0000${m.pemsVersionAfter}`);
  const reported = new Set<string>();
  const checkWrite = (pfaId: string, version: number, updatedBy: string, seenIn: 'pems' | 'history'): void => {
    const key = `${pfaId}\u0000${version}`;
    if (syncedVersions.has(key) || reported.has(key) || youngInFlight.has(pfaId)) return;
    reported.add(key);
    findings.push({ kind: 'orphan_write', pfaId, version, updatedBy, seenIn });
  };
  for (const p of pems.values()) if (users.has(p.updatedBy)) checkWrite(p.pfaId, p.version, p.updatedBy, 'pems');
  for (const [pfaId, versions] of historyByPfa) {
    for (const h of versions.values()) {
      if (h.origin === 'sync' || (h.changedBy !== null && users.has(h.changedBy)))
        checkWrite(pfaId, h.version, h.changedBy ?? '', 'history');
    }
  }

  if (input.writeLog) findings.push(...reconcileWriteLog(input.writeLog, syncedByPfa, pems, youngInFlight));

  const counts: Record<FindingKind, number> = {
    missing_in_mirror: 0,
    missing_in_pems: 0,
    mirror_stale: 0,
    unfinished: 0,
    outcome_mismatch: 0,
    orphan_write: 0,
    unrecorded_write: 0,
    write_mismatch: 0,
  };
  for (const f of findings) counts[f.kind]++;
  return {
    summary: {
      organization: input.organization,
      pemsRecords: pems.size,
      mirrorRecords: mirror.size,
      modifications,
      byStatus,
      outcomeChecks,
      findings: counts,
      drift: findings.length > 0,
    },
    findings,
  };
}

/**
 * The write log against the recorded outcomes, per write PEMS applied (records of this
 * organization only; a PFA with a modification still in flight is skipped, as for orphans):
 *  - some synced modification of the PFA must record the version the write produced, else the
 *    write is unrecorded (replays of its key are counted: a replay means the sink was told);
 *  - for each field the write changed, the modification recorded at that version that was
 *    committed last among those touching the field must ask for the value the write carried.
 */
export function reconcileWriteLog(
  log: NonNullable<ReconcileInput['writeLog']>,
  syncedByPfa: ReadonlyMap<string, readonly ModificationInput[]>,
  pems: ReadonlyMap<string, PfaRecord>,
  skip: ReadonlySet<string> = new Set(),
): Finding[] {
  const out: Finding[] = [];
  const replays = new Map<string, number>();
  for (const r of log.replays)
    replays.set(`${r.pfaId}\u0000${r.version}`, (replays.get(`${r.pfaId}\u0000${r.version}`) ?? 0) + 1);
  const order = (m: ModificationInput): string => m.committedAt ?? m.createdAt;
  for (const w of log.writes) {
    if (!pems.has(w.pfaId) || skip.has(w.pfaId)) continue;
    const mods = syncedByPfa.get(w.pfaId) ?? [];
    const atVersion = mods.filter((m) => m.pemsVersionAfter === w.version);
    if (atVersion.length === 0) {
      const recordedVersions = [...new Set(mods.map((m) => m.pemsVersionAfter as number))].sort((a, b) => a - b);
      out.push({
        kind: 'unrecorded_write',
        pfaId: w.pfaId,
        version: w.version,
        idempotencyKey: w.idempotencyKey,
        replays: replays.get(`${w.pfaId}\u0000${w.version}`) ?? 0,
        recordedVersions,
      });
      continue;
    }
    const written =
      w.operation === 'delete'
        ? new Map<EditableField, FieldValue>([['isDiscontinued', true]])
        : intendedValues({ operation: 'update', delta: w.changes });
    for (const [field, value] of written) {
      let last: { mod: ModificationInput; value: FieldValue } | null = null;
      for (const m of atVersion) {
        const v = intendedValues(m);
        if (v.has(field) && (!last || order(m) >= order(last.mod)))
          last = { mod: m, value: v.get(field) as FieldValue };
      }
      if (last && !sameValue(last.value, value)) {
        out.push({
          kind: 'write_mismatch',
          pfaId: w.pfaId,
          version: w.version,
          modificationId: last.mod.id,
          field,
          expected: last.value,
          written: value,
        });
      }
    }
  }
  return out;
}

/** A few lines for people: counts, then the first findings of each kind. */
export function formatSummary(
  result: ReconcileResult,
  opts: { examples?: number; durationMs?: number; pemsRequests?: number } = {},
): string {
  const s = result.summary;
  const lines = [
    `reconcile ${s.organization}: ${s.drift ? 'DRIFT' : 'in agreement'}` +
      (opts.durationMs !== undefined
        ? ` (${(opts.durationMs / 1000).toFixed(1)} s${opts.pemsRequests !== undefined ? `, ${opts.pemsRequests} PEMS requests` : ''})`
        : ''),
    `  records: PEMS ${s.pemsRecords}, mirror ${s.mirrorRecords}`,
    `  modifications: ${s.modifications} (${
      Object.entries(s.byStatus)
        .sort()
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || 'none'
    })`,
    `  synced values: ${s.outcomeChecks.checked} checked against PEMS, ${s.outcomeChecks.overwrittenLater} changed later, ${s.outcomeChecks.unverifiable} not verifiable (mirror behind PEMS)`,
    `  findings: ${Object.entries(s.findings)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  ];
  const n = opts.examples ?? 5;
  for (const kind of Object.keys(s.findings) as FindingKind[]) {
    const some = result.findings.filter((f) => f.kind === kind).slice(0, n);
    for (const f of some) lines.push(`    ${JSON.stringify(f)}`);
  }
  return lines.join('\n');
}
