import { DLQ_HEADERS, type Outcome } from '../../../streams/outcomes';
import type { Modification } from '../../../streams/modification';
import type { PfaRecord } from '../../../streams/pfa-record';
import type { AttemptLog, OutcomeEntry, PoisonEntry, SourceRecord } from '../../../streams/record-entries';
import { organizationOf } from '../../../streams/record-entries';
import { loadHeaders, storeHeaders } from '../../../streams/stored-headers';
import {
  MAX_REASON_CHARS,
  outcomeRows,
  poisonDeadLetter,
  poisonRejection,
  statusUpdates,
  type PoisonFacts,
  type RecordingContext,
} from '../../../streams/outcome-rows';

const NOW = new Date('2026-11-24T10:30:02.000Z');
const ctx: RecordingContext = {
  now: NOW,
  topics: { results: 'pems.results', deadLetters: '__connect.errors.pems' },
  connectorName: 'pems-sync-sink',
};

function mod(id: string, over: Partial<Modification> = {}): Modification {
  return {
    id,
    organizationId: 'RIO',
    pfaId: 'PFA-000123',
    userId: 'jdoe',
    operation: 'update',
    delta: { forecastEnd: '2026-07-31', notes: 'moved' },
    baseVersion: 7,
    changeReason: null,
    syncStatus: 'syncing',
    syncError: null,
    pemsVersionAfter: null,
    attempts: 0,
    committedAt: '2026-11-24T10:30:00.000Z',
    syncedAt: null,
    createdAt: null,
    updatedAt: null,
    supersedesId: null,
    ...over,
  };
}

function source(offset: string, key: object | null = { organization_id: 'RIO', pfa_id: 'PFA-000123' }): SourceRecord {
  return {
    position: { topic: 'pems.cdc', partition: 2, offset },
    key: key === null ? null : Buffer.from(JSON.stringify(key)),
    value: Buffer.from(`{"offset":${offset}}`),
    headers: { traceparent: '00-abc-def-01' },
  };
}

const A = mod('11111111-1111-4111-8111-111111111111');
const B = mod('22222222-2222-4222-8222-222222222222', { userId: 'asmith', delta: { notes: 'other' } });
const record = { organization: 'RIO', pfaId: 'PFA-000123', version: 9 } as unknown as PfaRecord;

function entry(outcome: Outcome, over: Partial<OutcomeEntry> = {}): OutcomeEntry {
  return {
    kind: 'outcome',
    outcome,
    modifications: [{ modification: A, source: source('40') }],
    attempts: [],
    mirrorRecord: null,
    traceId: null,
    ...over,
  };
}

const attempt = (result: AttemptLog['result'], version: number): AttemptLog => ({
  at: '2026-11-24T10:30:01.000Z',
  version,
  result,
  pemsResponse: { status: result },
});
const recordedAll = (e: OutcomeEntry): Set<string> => new Set(e.modifications.map((m) => m.modification.id));
const rowsOf = (e: OutcomeEntry) => outcomeRows([e], recordedAll(e), new Map(), ctx);

describe('statusUpdates', () => {
  it('when outcomes of every kind are recorded, then each modification gets its status, error, version, attempts and synced time; skipped gets none', () => {
    const synced = entry(
      { kind: 'synced', rebased: false, pemsVersionBefore: 7, pemsVersionAfter: 8, fieldsWritten: ['forecastEnd'] },
      { attempts: [attempt('transient', 7), attempt('updated', 7)] },
    );
    const rejected = entry(
      { kind: 'rejected', error: { code: 'PEMS_SYNC_VALIDATION', message: 'bad date' } },
      { modifications: [{ modification: B, source: source('41') }] },
    );
    const skipped = entry({ kind: 'skipped', reason: 'nothing to do' });
    expect(statusUpdates([synced, rejected, skipped], NOW)).toEqual([
      {
        modificationId: A.id,
        status: 'synced',
        error: null,
        pemsVersionAfter: 8,
        attempts: 2,
        syncedAt: NOW.toISOString(),
      },
      {
        modificationId: B.id,
        status: 'rejected',
        error: { code: 'PEMS_SYNC_VALIDATION', message: 'bad date' },
        pemsVersionAfter: null,
        attempts: 0,
        syncedAt: null,
      },
    ]);
  });

  it('when a failed, conflict or superseded outcome is recorded, then its status carries the error only for failed', () => {
    const failed = entry(
      { kind: 'failed', error: { code: 'PEMS_SYNC_PEMS_UNAVAILABLE', message: '503' } },
      { attempts: [attempt('transient', 7)] },
    );
    const conflict = entry({ kind: 'conflict', pemsVersion: 8, fields: [] });
    const superseded = entry({ kind: 'superseded', supersededBy: B.id });
    expect(
      statusUpdates([failed, conflict, superseded], NOW).map((u) => [u.status, u.error?.code ?? null, u.attempts]),
    ).toEqual([
      ['failed', 'PEMS_SYNC_PEMS_UNAVAILABLE', 1],
      ['conflict', null, 0],
      ['superseded', null, 0],
    ]);
  });

  it('when only poison events wait, then there is no status update', () => {
    expect(statusUpdates([{ kind: 'poison', reason: 'not JSON', source: source('5') }], NOW)).toEqual([]);
  });
});

describe('outcomeRows', () => {
  it('when a write of two edits (one PFA) synced after a retry, then both get an audit entry per attempt, a result record each, the mirror moves with both ids, and nothing else is written', () => {
    const e = entry(
      {
        kind: 'synced',
        rebased: true,
        pemsVersionBefore: 8,
        pemsVersionAfter: 9,
        fieldsWritten: ['forecastEnd', 'notes'],
      },
      {
        modifications: [
          { modification: A, source: source('40') },
          { modification: B, source: source('41') },
        ],
        attempts: [attempt('transient', 8), attempt('updated', 8)],
        mirrorRecord: record,
        traceId: 'trace-1',
      },
    );
    const rows = rowsOf(e);
    expect(rows.mirror).toEqual([{ record, origin: 'sync', modificationIds: [A.id, B.id] }]);
    expect(
      rows.audit.map((a) => [
        a.modificationId,
        a.actor,
        a.eventType,
        a.details?.attempt,
        a.details?.result,
        a.details?.outcome,
      ]),
    ).toEqual([
      [A.id, 'jdoe', 'sync.write', 1, 'transient', null],
      [A.id, 'jdoe', 'sync.write', 2, 'updated', 'synced'],
      [B.id, 'asmith', 'sync.write', 1, 'transient', null],
      [B.id, 'asmith', 'sync.write', 2, 'updated', 'synced'],
    ]);
    expect(rows.audit[1]).toEqual({
      organizationId: 'RIO',
      pfaId: 'PFA-000123',
      modificationId: A.id,
      actor: 'jdoe',
      eventType: 'sync.write',
      details: {
        attempt: 2,
        at: '2026-11-24T10:30:01.000Z',
        version: 8,
        result: 'updated',
        changes: A.delta,
        outcome: 'synced',
        coalescedWith: [A.id, B.id],
      },
      pemsResponse: { status: 'updated' },
    });
    expect(rows.audit[3]!.details?.changes).toEqual(B.delta);
    expect(rows.outbox).toHaveLength(2);
    const [first, second] = rows.outbox;
    expect(first).toMatchObject({
      kind: 'result',
      topic: 'pems.results',
      headers: storeHeaders({ trace_id: 'trace-1' }),
    });
    if (first!.kind !== 'result' || second!.kind !== 'result') throw new Error('expected result records');
    expect(JSON.parse(first!.key.toString())).toEqual({ organization_id: 'RIO', pfa_id: 'PFA-000123' });
    expect(first!.value).toMatchObject({
      modificationId: A.id,
      outcome: 'SYNCED',
      pemsVersionAfter: 9,
      rebased: true,
      attempts: 2,
      syncedAt: NOW.getTime(),
      coalescedWith: [B.id],
      traceId: 'trace-1',
    });
    expect(second!.value).toMatchObject({ modificationId: B.id, userId: 'asmith', coalescedWith: [A.id] });
    expect(rows.conflicts).toEqual([]);
    expect(rows.notifications).toEqual([]);
    expect(rows.deadLetters).toEqual([]);
  });

  it("when PEMS already held the values, then the mirror takes PEMS's record as read (origin pems) and the result says already_applied", () => {
    const rows = rowsOf(
      entry(
        {
          kind: 'synced',
          rebased: false,
          pemsVersionBefore: 9,
          pemsVersionAfter: 9,
          fieldsWritten: [],
          alreadyApplied: true,
        },
        { mirrorRecord: record },
      ),
    );
    expect(rows.mirror).toEqual([{ record, origin: 'pems' }]);
    expect(rows.audit).toEqual([
      {
        organizationId: 'RIO',
        pfaId: 'PFA-000123',
        modificationId: A.id,
        actor: 'jdoe',
        eventType: 'sync.synced',
        details: { outcome: expect.objectContaining({ alreadyApplied: true }), coalescedWith: [A.id] },
      },
    ]);
    expect(rows.outbox[0]).toMatchObject({ kind: 'result', headers: {}, value: { detail: 'already_applied' } });
  });

  it("when an edit conflicts, then a conflict row (other fields auto-merge, PEMS version) and the author's notification are written, with one outcome audit entry", () => {
    const fields = [{ field: 'notes', base: 'a', baseKnown: true, local: 'moved', pems: 'b' }];
    const rows = rowsOf(entry({ kind: 'conflict', pemsVersion: 8, fields }, { mirrorRecord: record }));
    expect(rows.conflicts).toEqual([
      {
        organizationId: 'RIO',
        pfaId: 'PFA-000123',
        modificationId: A.id,
        baseVersion: 7,
        pemsVersion: 8,
        fields,
        autoMergeFields: ['forecastEnd'],
      },
    ]);
    expect(rows.notifications).toEqual([
      {
        organizationId: 'RIO',
        userId: 'jdoe',
        kind: 'conflict',
        payload: { modificationId: A.id, pfaId: 'PFA-000123', fields: ['notes'] },
      },
    ]);
    expect(rows.mirror).toEqual([{ record, origin: 'pems' }]);
    expect(rows.audit.map((a) => a.eventType)).toEqual(['sync.conflict']);
    expect(rows.outbox.map((o) => o.kind)).toEqual(['result']);
    expect(rows.outbox[0]).toMatchObject({
      value: { outcome: 'CONFLICT', error: { code: 'PEMS_SYNC_VERSION_CONFLICT' } },
    });
    expect(rows.deadLetters).toEqual([]);
  });

  it("when PEMS's version is unknown for a conflict, then the conflict row carries the base version", () => {
    const rows = rowsOf(
      entry({
        kind: 'conflict',
        pemsVersion: null,
        fields: [{ field: 'notes', base: null, baseKnown: false, local: 'x', pems: 'y' }],
      }),
    );
    expect(rows.conflicts[0]!.pemsVersion).toBe(7);
  });

  it('when an edit is rejected, then only the author is notified (with the error) beside the audit entry and the result record', () => {
    const error = {
      code: 'PEMS_SYNC_VALIDATION',
      message: 'forecastEnd before forecastStart',
      fieldErrors: [{ field: 'forecastEnd', message: 'too early' }],
    };
    const rows = rowsOf(entry({ kind: 'rejected', error }, { attempts: [attempt('rejected', 7)] }));
    expect(rows.notifications).toEqual([
      {
        organizationId: 'RIO',
        userId: 'jdoe',
        kind: 'rejected',
        payload: { modificationId: A.id, pfaId: 'PFA-000123', error },
      },
    ]);
    expect(rows.audit.map((a) => [a.eventType, a.details?.outcome])).toEqual([['sync.write', 'rejected']]);
    expect(rows.outbox.map((o) => o.kind)).toEqual(['result']);
    expect(rows.conflicts).toEqual([]);
    expect(rows.deadLetters).toEqual([]);
    expect(rows.mirror).toEqual([]);
  });

  it('when a write failed, then its dead letter is written (row and record with the original key, value and headers, stage PEMS_WRITE), the author and the operators are notified', () => {
    const error = { code: 'PEMS_SYNC_PEMS_UNAVAILABLE', message: 'PEMS answered 503 three times' };
    const thrown = Object.assign(new Error('503 Service Unavailable'), {
      name: 'PemsUnavailableError',
      code: 'PEMS_SYNC_PEMS_UNAVAILABLE',
    });
    const src = source('40');
    const rows = rowsOf(
      entry(
        { kind: 'failed', error },
        {
          attempts: [attempt('transient', 7), attempt('transient', 7), attempt('transient', 7)],
          error: thrown,
          modifications: [{ modification: A, source: src }],
        },
      ),
    );
    expect(rows.outbox.map((o) => o.kind)).toEqual(['result', 'dead_letter']);
    const dl = rows.outbox[1]!;
    if (dl.kind !== 'dead_letter') throw new Error('expected a dead letter');
    expect(dl.topic).toBe('__connect.errors.pems');
    expect(dl.key).toBe(src.key);
    expect(dl.rawValue).toBe(src.value);
    const headers = loadHeaders(dl.headers);
    expect(String(headers.traceparent)).toBe('00-abc-def-01');
    expect(String(headers[DLQ_HEADERS.offset])).toBe('40');
    expect(String(headers[DLQ_HEADERS.stage])).toBe('PEMS_WRITE');
    expect(String(headers[DLQ_HEADERS.connectorName])).toBe('pems-sync-sink');
    expect(String(headers[DLQ_HEADERS.exceptionClass])).toBe('PemsUnavailableError');
    expect(String(headers[DLQ_HEADERS.exceptionMessage])).toBe('503 Service Unavailable');
    expect(rows.deadLetters).toEqual([
      {
        organizationId: 'RIO',
        pfaId: 'PFA-000123',
        modificationId: A.id,
        source: src.position,
        key: src.key,
        value: src.value,
        headers: storeHeaders(src.headers),
        reason: error.message,
        errorCode: error.code,
        error,
      },
    ]);
    expect(rows.notifications).toEqual([
      {
        organizationId: 'RIO',
        userId: 'jdoe',
        kind: 'failed',
        payload: { modificationId: A.id, pfaId: 'PFA-000123', error },
      },
      {
        organizationId: 'RIO',
        userId: null,
        kind: 'dead_letter',
        payload: { modificationId: A.id, pfaId: 'PFA-000123', reason: error.message },
      },
    ]);
    expect(rows.audit).toHaveLength(3);
  });

  it("when a failed outcome carries no thrown error, then the dead letter names an Error with the outcome's message and code", () => {
    const rows = rowsOf(entry({ kind: 'failed', error: { code: 'PEMS_SYNC_UNEXPECTED', message: 'boom' } }));
    const dl = rows.outbox[1]!;
    if (dl.kind !== 'dead_letter') throw new Error('expected a dead letter');
    const headers = loadHeaders(dl.headers);
    expect(String(headers[DLQ_HEADERS.exceptionClass])).toBe('Error');
    expect(String(headers[DLQ_HEADERS.exceptionMessage])).toBe('boom');
    expect(String(headers[DLQ_HEADERS.code])).toBe('PEMS_SYNC_UNEXPECTED');
  });

  it('when an edit was superseded, then it gets its outcome audit entry and result record only', () => {
    const rows = rowsOf(entry({ kind: 'superseded', supersededBy: B.id }));
    expect(rows.audit.map((a) => a.eventType)).toEqual(['sync.superseded']);
    expect(rows.outbox[0]).toMatchObject({
      kind: 'result',
      value: { outcome: 'SUPERSEDED', detail: `superseded by ${B.id}` },
    });
    expect([rows.conflicts, rows.notifications, rows.deadLetters, rows.mirror]).toEqual([[], [], [], []]);
  });

  it('when another instance recorded the outcome first (the status update did not take), then nothing is written for it', () => {
    const e = entry(
      { kind: 'failed', error: { code: 'PEMS_SYNC_UNEXPECTED', message: 'boom' } },
      { mirrorRecord: record },
    );
    expect(outcomeRows([e], new Set(), new Map(), ctx)).toEqual({
      mirror: [],
      audit: [],
      outbox: [],
      conflicts: [],
      notifications: [],
      deadLetters: [],
    });
  });

  it("when only one of a write's edits was recorded here, then only that one gets rows, and the mirror and coalescedWith still name both", () => {
    const e = entry(
      { kind: 'synced', rebased: false, pemsVersionBefore: 7, pemsVersionAfter: 8, fieldsWritten: ['notes'] },
      {
        modifications: [
          { modification: A, source: source('40') },
          { modification: B, source: source('41') },
        ],
        attempts: [attempt('updated', 7)],
        mirrorRecord: record,
      },
    );
    const rows = outcomeRows([e], new Set([B.id]), new Map(), ctx);
    expect(rows.audit.map((a) => a.modificationId)).toEqual([B.id]);
    expect(rows.audit[0]!.details?.coalescedWith).toEqual([A.id, B.id]);
    expect(rows.outbox).toHaveLength(1);
    expect(rows.mirror).toEqual([{ record, origin: 'sync', modificationIds: [A.id, B.id] }]);
  });
});

describe('poison events', () => {
  const reason = 'delta is 70000 bytes, over the limit of 65536';
  const poison: PoisonEntry = { kind: 'poison', reason, source: source('77'), modificationId: A.id };

  it('when a poison event is recorded, then its dead letter row keeps the record and the poison error, and its reason is cut at the limit', () => {
    const long: PoisonEntry = { ...poison, reason: 'x'.repeat(MAX_REASON_CHARS + 10) };
    const row = poisonDeadLetter(long, 'RIO');
    expect(row).toMatchObject({
      organizationId: 'RIO',
      pfaId: null,
      modificationId: null,
      source: poison.source.position,
      key: poison.source.key,
      value: poison.source.value,
      errorCode: 'PEMS_SYNC_POISON_EVENT',
    });
    expect(row.reason).toHaveLength(MAX_REASON_CHARS);
    expect(row.error).toMatchObject({
      name: 'PoisonEventError',
      code: 'PEMS_SYNC_POISON_EVENT',
      details: { reason: long.reason },
    });
    expect(poisonDeadLetter(poison, null).organizationId).toBeNull();
    expect(poisonRejection(poison)).toEqual({ code: 'PEMS_SYNC_POISON_EVENT', message: reason });
  });

  it('when this instance wrote the poison dead letter first, then it emits the record (stage DECODE), notifies the operators and rejects the readable modification for its author', () => {
    const facts: PoisonFacts = {
      organizationId: 'RIO',
      inserted: true,
      rejected: [{ id: A.id, organizationId: 'RIO', pfaId: 'PFA-000123', userId: 'jdoe' }],
    };
    const rows = outcomeRows([poison], new Set(), new Map([[poison, facts]]), ctx);
    expect(rows.outbox).toHaveLength(1);
    const dl = rows.outbox[0]!;
    if (dl.kind !== 'dead_letter') throw new Error('expected a dead letter');
    expect(dl).toMatchObject({ topic: '__connect.errors.pems', key: poison.source.key, rawValue: poison.source.value });
    const headers = loadHeaders(dl.headers);
    expect(String(headers[DLQ_HEADERS.stage])).toBe('DECODE');
    expect(String(headers[DLQ_HEADERS.exceptionClass])).toBe('PoisonEventError');
    expect(String(headers[DLQ_HEADERS.code])).toBe('PEMS_SYNC_POISON_EVENT');
    const error = { code: 'PEMS_SYNC_POISON_EVENT', message: reason };
    expect(rows.notifications).toEqual([
      { organizationId: 'RIO', userId: null, kind: 'dead_letter', payload: { reason } },
      {
        organizationId: 'RIO',
        userId: 'jdoe',
        kind: 'rejected',
        payload: { modificationId: A.id, pfaId: 'PFA-000123', error },
      },
    ]);
    expect(rows.audit).toEqual([
      {
        organizationId: 'RIO',
        pfaId: 'PFA-000123',
        modificationId: A.id,
        actor: 'jdoe',
        eventType: 'sync.rejected',
        details: { outcome: { kind: 'rejected', error } },
      },
    ]);
    expect(rows.deadLetters).toEqual([]); // written before, by poisonDeadLetter
  });

  it('when the poison event names no known organization, then the record is emitted and nobody is notified', () => {
    const rows = outcomeRows(
      [poison],
      new Set(),
      new Map([[poison, { organizationId: null, inserted: true, rejected: [] }]]),
      ctx,
    );
    expect(rows.outbox.map((o) => o.kind)).toEqual(['dead_letter']);
    expect(rows.notifications).toEqual([]);
    expect(rows.audit).toEqual([]);
  });

  it('when a dead letter for the event was written before (redelivery, another instance), then nothing more is written', () => {
    const rows = outcomeRows(
      [poison],
      new Set(),
      new Map([[poison, { organizationId: 'RIO', inserted: false, rejected: [] }]]),
      ctx,
    );
    expect(rows).toEqual({ mirror: [], audit: [], outbox: [], conflicts: [], notifications: [], deadLetters: [] });
  });

  it("when outcomes and poison events share a flush, then the outcomes' rows come first, in entry order (the audit chain and outbox ids follow it)", () => {
    const rejected = entry(
      { kind: 'rejected', error: { code: 'PEMS_SYNC_VALIDATION', message: 'bad' } },
      { modifications: [{ modification: B, source: source('41') }] },
    );
    const facts: PoisonFacts = { organizationId: 'RIO', inserted: true, rejected: [] };
    const synced = entry({
      kind: 'synced',
      rebased: false,
      pemsVersionBefore: 7,
      pemsVersionAfter: 8,
      fieldsWritten: ['notes'],
    });
    const rows = outcomeRows([poison, rejected, synced], new Set([A.id, B.id]), new Map([[poison, facts]]), ctx);
    expect(rows.outbox.map((o) => (o.kind === 'result' ? o.value.modificationId : o.kind))).toEqual([
      B.id,
      A.id,
      'dead_letter',
    ]);
    expect(rows.notifications.map((n) => n.kind)).toEqual(['rejected', 'dead_letter']);
  });
});

describe('organizationOf and stored headers', () => {
  it('when a CDC key is JSON with an organization, then it is read; otherwise null', () => {
    expect(organizationOf(Buffer.from('{"organization_id":"RIO","pfa_id":"P1"}'))).toBe('RIO');
    expect(organizationOf(Buffer.from('{"organization_id":7}'))).toBeNull();
    expect(organizationOf(Buffer.from('not json'))).toBeNull();
    expect(organizationOf(null)).toBeNull();
  });

  it('when headers with binary and repeated values are stored and loaded, then they come back byte for byte', () => {
    const bin = Buffer.from([0, 255, 10]);
    const back = loadHeaders(storeHeaders({ a: 'x', b: bin, c: ['1', Buffer.from('2')], d: undefined }));
    expect(back.a).toEqual(Buffer.from('x'));
    expect(back.b).toEqual(bin);
    expect(back.c).toEqual([Buffer.from('1'), Buffer.from('2')]);
    expect('d' in back).toBe(false);
  });
});
