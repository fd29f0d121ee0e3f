import {
  reconcile,
  sameValue,
  type HistoryInput,
  type ModificationInput,
  type ReconcileInput,
} from '../../../streams/reconcile';
import type { PfaRecord } from '../../../streams/pfa-record';

const NOW = Date.parse('2026-11-24T12:00:00Z');

function rec(pfaId: string, version: number, extra: Partial<PfaRecord> = {}): PfaRecord {
  return {
    pfaId,
    organization: 'RIO',
    version,
    updatedAt: '2026-11-24T10:00:00Z',
    updatedBy: 'jdoe',
    forecastStart: '2026-01-15',
    forecastEnd: '2026-06-30',
    forecastCategory: 'Baseline',
    category: 'Cranes',
    source: 'Rental',
    dor: 'PROJECT',
    equipment: 'CR-1',
    monthlyRate: 5500,
    purchasePrice: null,
    isDiscontinued: false,
    isFundsTransferable: true,
    actualEnd: null,
    description: 'd',
    notes: 'n',
    originalStart: null,
    originalEnd: null,
    class: null,
    areaSilo: null,
    manufacturer: null,
    model: null,
    ...extra,
  };
}

let seq = 0;
function mod(
  pfaId: string,
  delta: Record<string, unknown>,
  status: string,
  after: number | null,
  extra: Partial<ModificationInput> = {},
): ModificationInput {
  seq++;
  const at = new Date(Date.parse('2026-11-24T11:00:00Z') + seq * 1000).toISOString();
  return {
    id: `m${seq}`,
    pfaId,
    userId: 'alice',
    operation: 'update',
    delta,
    syncStatus: status,
    pemsVersionAfter: after,
    committedAt: at,
    createdAt: at,
    ...extra,
  };
}

function hist(r: PfaRecord, origin = 'pems'): HistoryInput {
  return { pfaId: r.pfaId, version: r.version, data: r, changedBy: r.updatedBy, origin };
}

function run(over: Partial<ReconcileInput>) {
  return reconcile({
    organization: 'RIO',
    pems: [],
    mirror: [],
    history: [],
    modifications: [],
    vanguardUsers: ['alice', 'bob'],
    now: NOW,
    graceMs: 60_000,
    ...over,
  });
}

describe('reconcile (pure)', () => {
  it('when PEMS, mirror and outcomes agree, then there is no drift', () => {
    const v2 = rec('P1', 2, { notes: 'x', updatedBy: 'alice' });
    const r = run({
      pems: [v2],
      mirror: [{ pfaId: 'P1', version: 2, data: v2 }],
      history: [hist(rec('P1', 1)), hist(v2, 'sync')],
      modifications: [mod('P1', { notes: 'x' }, 'synced', 2)],
    });
    expect(r.findings).toEqual([]);
    expect(r.summary.drift).toBe(false);
    expect(r.summary.outcomeChecks.checked).toBe(1);
  });

  it('when the mirror is behind or differs in a value, then mirror_stale names the fields; one-sided records are reported', () => {
    const r = run({
      pems: [rec('P1', 3, { notes: 'new' }), rec('P2', 1, { monthlyRate: 10 }), rec('P3', 1)],
      mirror: [
        { pfaId: 'P1', version: 2, data: rec('P1', 2) },
        { pfaId: 'P2', version: 1, data: rec('P2', 1, { monthlyRate: 10.0 }) },
        { pfaId: 'P4', version: 1, data: rec('P4', 1) },
      ],
    });
    expect(r.findings).toEqual(
      expect.arrayContaining([
        {
          kind: 'mirror_stale',
          pfaId: 'P1',
          pemsVersion: 3,
          mirrorVersion: 2,
          fields: [{ field: 'notes', pems: 'new', mirror: 'n' }],
        },
        { kind: 'missing_in_mirror', pfaId: 'P3', pemsVersion: 1 },
        { kind: 'missing_in_pems', pfaId: 'P4', mirrorVersion: 1 },
      ]),
    );
    expect(r.findings).toHaveLength(3); // P2: 10 and 10.0 are the same value
  });

  it('when a committed modification is older than the grace period, then it is unfinished; a younger one is not', () => {
    const old = mod('P1', { notes: 'a' }, 'syncing', null, { committedAt: new Date(NOW - 120_000).toISOString() });
    const young = mod('P1', { notes: 'b' }, 'committed', null, { committedAt: new Date(NOW - 1_000).toISOString() });
    const done = mod('P1', { notes: 'c' }, 'rejected', null, { committedAt: new Date(NOW - 999_000).toISOString() });
    const r = run({ modifications: [old, young, done] });
    expect(r.findings).toEqual([
      {
        kind: 'unfinished',
        pfaId: 'P1',
        modificationId: old.id,
        status: 'syncing',
        committedAt: old.committedAt,
        ageMs: 120_000,
      },
    ]);
    expect(r.summary.byStatus).toEqual({ syncing: 1, committed: 1, rejected: 1 });
  });

  it('when a synced value is missing in PEMS and nothing changed it later, then outcome_mismatch', () => {
    const v2 = rec('P1', 2, { updatedBy: 'alice' }); // the write claims notes='x' but PEMS says 'n'
    const m = mod('P1', { notes: 'x' }, 'synced', 2);
    const r = run({
      pems: [v2],
      mirror: [{ pfaId: 'P1', version: 2, data: v2 }],
      history: [hist(v2, 'pems')],
      modifications: [m],
    });
    expect(r.findings).toEqual([
      {
        kind: 'outcome_mismatch',
        pfaId: 'P1',
        modificationId: m.id,
        field: 'notes',
        expected: 'x',
        actual: 'n',
        at: 'history',
        version: 2,
      },
    ]);
  });

  it('when PEMS lost a synced value after the recorded write, then outcome_mismatch at pems', () => {
    const v2 = rec('P1', 2, { notes: 'x', updatedBy: 'alice' });
    const m = mod('P1', { notes: 'x' }, 'synced', 2);
    const pemsNow = rec('P1', 2, { notes: 'n', updatedBy: 'alice' });
    const r = run({
      pems: [pemsNow],
      mirror: [{ pfaId: 'P1', version: 2, data: v2 }],
      history: [hist(v2, 'sync')],
      modifications: [m],
    });
    expect(r.findings.filter((f) => f.kind === 'outcome_mismatch')).toEqual([
      {
        kind: 'outcome_mismatch',
        pfaId: 'P1',
        modificationId: m.id,
        field: 'notes',
        expected: 'x',
        actual: 'n',
        at: 'pems',
        version: 2,
      },
    ]);
  });

  it('when a later synced modification or a later PEMS edit overwrote the field, then there is no mismatch', () => {
    const v2 = rec('P1', 2, { notes: 'a', updatedBy: 'alice' });
    const v3 = rec('P1', 3, { notes: 'b', updatedBy: 'bob' });
    const v4 = rec('P1', 4, { notes: 'b', monthlyRate: 99, updatedBy: 'jdoe' }); // PEMS user, another field
    const v5 = rec('P1', 5, { notes: 'pems', monthlyRate: 99, updatedBy: 'jdoe' }); // PEMS user overwrites notes
    const mods = [mod('P1', { notes: 'a' }, 'synced', 2), mod('P1', { notes: 'b' }, 'synced', 3, { userId: 'bob' })];
    const r = run({
      pems: [v5],
      mirror: [{ pfaId: 'P1', version: 5, data: v5 }],
      history: [v2, v3, v4, v5].map((h, i) => hist(h, i < 2 ? 'sync' : 'pems')),
      modifications: mods,
    });
    expect(r.findings).toEqual([]);
    expect(r.summary.outcomeChecks).toEqual({ checked: 0, overwrittenLater: 1, unverifiable: 0 });
  });

  it('when modifications were coalesced into one write, then the one committed last is the value expected', () => {
    const v2 = rec('P1', 2, { notes: 'second', updatedBy: 'bob' });
    const mods = [
      mod('P1', { notes: 'first' }, 'synced', 2),
      mod('P1', { notes: 'second' }, 'synced', 2, { userId: 'bob' }),
    ];
    const r = run({
      pems: [v2],
      mirror: [{ pfaId: 'P1', version: 2, data: v2 }],
      history: [hist(v2, 'sync')],
      modifications: mods,
    });
    expect(r.findings).toEqual([]);
  });

  it('when PEMS is past what the history knows, then the value is not judged (mirror_stale reports the record)', () => {
    const v2 = rec('P1', 2, { notes: 'x', updatedBy: 'alice' });
    const v3 = rec('P1', 3, { notes: 'edited in PEMS' });
    const r = run({
      pems: [v3],
      mirror: [{ pfaId: 'P1', version: 2, data: v2 }],
      history: [hist(v2, 'sync')],
      modifications: [mod('P1', { notes: 'x' }, 'synced', 2)],
    });
    expect(r.findings.map((f) => f.kind)).toEqual(['mirror_stale']);
    expect(r.summary.outcomeChecks.unverifiable).toBe(1);
  });

  it('when a delete was synced, then the version it wrote must show the record discontinued', () => {
    const v2 = rec('P1', 2, { isDiscontinued: false, updatedBy: 'alice' });
    const m = mod('P1', {}, 'synced', 2, { operation: 'delete' });
    const r = run({ pems: [v2], mirror: [{ pfaId: 'P1', version: 2, data: v2 }], history: [], modifications: [m] });
    expect(r.findings).toEqual([
      {
        kind: 'outcome_mismatch',
        pfaId: 'P1',
        modificationId: m.id,
        field: 'isDiscontinued',
        expected: true,
        actual: false,
        at: 'history',
        version: 2,
      },
    ]);
  });

  it('when a Vanguard user wrote a PEMS version with no synced modification behind it, then orphan_write (PEMS and history)', () => {
    const v2 = rec('P1', 2, { notes: 'x', updatedBy: 'alice' });
    const v3 = rec('P1', 3, { notes: 'x', updatedBy: 'alice' }); // the same change applied twice
    const r = run({
      pems: [v3],
      mirror: [{ pfaId: 'P1', version: 3, data: v3 }],
      history: [hist(v2, 'sync'), hist(v3, 'pems')],
      modifications: [mod('P1', { notes: 'x' }, 'synced', 2)],
    });
    expect(r.findings).toEqual([{ kind: 'orphan_write', pfaId: 'P1', version: 3, updatedBy: 'alice', seenIn: 'pems' }]);
  });

  it('when PEMS users or child activity wrote, or a modification is still in flight, then no orphan is reported', () => {
    const pemsUser = rec('P1', 2, { updatedBy: 'jdoe' });
    const child = rec('P2', 5, { updatedBy: 'EAM-BATCH' });
    const inFlight = rec('P3', 2, { updatedBy: 'alice' });
    const r = run({
      pems: [pemsUser, child, inFlight],
      mirror: [pemsUser, child, inFlight].map((p) => ({ pfaId: p.pfaId, version: p.version, data: p })),
      modifications: [mod('P3', { notes: 'n' }, 'syncing', null, { committedAt: new Date(NOW - 500).toISOString() })],
    });
    expect(r.findings).toEqual([]);
  });

  it('sameValue: null and undefined agree; numbers and numeric strings compare as numbers; nothing else is loose', () => {
    expect(sameValue(undefined, null)).toBe(true);
    expect(sameValue(5500, '5500.00')).toBe(true);
    expect(sameValue(0, null)).toBe(false);
    expect(sameValue('', 0)).toBe(false);
    expect(sameValue(true, 'true')).toBe(false);
  });

  it('when PEMS applied a second write of the same edits (a kill between the write and its outcome), then the write log shows it as unrecorded even though the mirror never saw that version', () => {
    // PEMS: v2 = {notes x} (first application, outcome lost), v3 = {notes x, rate 9} (the restart's write).
    const v3 = rec('P1', 3, { notes: 'x', monthlyRate: 9, updatedBy: 'alice' });
    const m1 = mod('P1', { notes: 'x' }, 'synced', 3);
    const m2 = mod('P1', { monthlyRate: 9 }, 'synced', 3);
    const base = {
      pems: [v3],
      mirror: [{ pfaId: 'P1', version: 3, data: v3 }],
      history: [hist(v3, 'sync')],
      modifications: [m1, m2],
    };
    expect(run(base).findings).toEqual([]); // without the log: nothing to see (the read side skipped v2)
    const r = run({
      ...base,
      writeLog: {
        writes: [
          { pfaId: 'P1', version: 2, idempotencyKey: 'k-m1', operation: 'update', changes: { notes: 'x' } },
          {
            pfaId: 'P1',
            version: 3,
            idempotencyKey: 'k-m1m2',
            operation: 'update',
            changes: { notes: 'x', monthlyRate: 9 },
          },
        ],
        replays: [{ pfaId: 'P1', idempotencyKey: 'k-m1', version: 2 }],
      },
    });
    expect(r.findings).toEqual([
      { kind: 'unrecorded_write', pfaId: 'P1', version: 2, idempotencyKey: 'k-m1', replays: 1, recordedVersions: [3] },
    ]);
    expect(r.summary.findings.unrecorded_write).toBe(1);
    expect(r.summary.drift).toBe(true);
  });

  it('when an older edit was folded after a newer one, then the write log shows the write carried a value its recorded modifications did not ask for', () => {
    const v2 = rec('P1', 2, { equipment: 'EQ-381', updatedBy: 'alice' });
    const newer = mod('P1', { equipment: 'EQ-401' }, 'synced', 2);
    const older = mod('P1', { equipment: 'EQ-381' }, 'synced', 2, { committedAt: '2026-11-24T10:59:00.000Z' });
    const r = run({
      pems: [v2],
      mirror: [{ pfaId: 'P1', version: 2, data: v2 }],
      history: [],
      modifications: [newer, older],
      writeLog: {
        writes: [
          { pfaId: 'P1', version: 2, idempotencyKey: 'k', operation: 'update', changes: { equipment: 'EQ-381' } },
        ],
        replays: [],
      },
    });
    expect(r.findings).toEqual(
      expect.arrayContaining([
        {
          kind: 'write_mismatch',
          pfaId: 'P1',
          version: 2,
          modificationId: newer.id,
          field: 'equipment',
          expected: 'EQ-401',
          written: 'EQ-381',
        },
      ]),
    );
  });

  it('when every applied write is a recorded outcome (an already-applied edit recorded at a later version included), then the write log adds nothing', () => {
    const v3 = rec('P1', 3, { notes: 'x', updatedBy: 'jdoe' });
    const m1 = mod('P1', { notes: 'x' }, 'synced', 2);
    const same = mod('P1', { notes: 'x' }, 'synced', 3); // already applied: recorded at PEMS's version then
    const r = run({
      pems: [v3],
      mirror: [{ pfaId: 'P1', version: 3, data: v3 }],
      history: [hist(rec('P1', 2, { notes: 'x', updatedBy: 'alice' }), 'sync')],
      modifications: [m1, same],
      writeLog: {
        writes: [{ pfaId: 'P1', version: 2, idempotencyKey: 'k', operation: 'update', changes: { notes: 'x' } }],
        replays: [{ pfaId: 'P1', idempotencyKey: 'k', version: 2 }],
      },
    });
    expect(r.findings).toEqual([]);
  });

  it('when there are 100,000 records with history and modifications, then the comparison takes well under a second', () => {
    const pems: PfaRecord[] = [];
    const history: HistoryInput[] = [];
    const mods: ModificationInput[] = [];
    for (let i = 0; i < 100_000; i++) {
      const r = rec(`P${i}`, 2, { notes: `v${i}`, updatedBy: i % 2 ? 'alice' : 'jdoe' });
      pems.push(r);
      history.push(hist(r, i % 2 ? 'sync' : 'pems'));
      if (i % 2) mods.push(mod(r.pfaId, { notes: `v${i}` }, 'synced', 2));
    }
    const t = Date.now();
    const r = run({
      pems,
      mirror: pems.map((p) => ({ pfaId: p.pfaId, version: p.version, data: p })),
      history,
      modifications: mods,
    });
    const ms = Date.now() - t;
    expect(r.summary.drift).toBe(false);
    expect(r.summary.outcomeChecks.checked).toBe(50_000);
    // Not a timing assertion (those belong in benchmarks): a generous bound that only an O(n²) slip would break.
    expect(ms).toBeLessThan(20_000);
  });
});
