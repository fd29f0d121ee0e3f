import { readFileSync } from 'fs';
import { join } from 'path';
import * as avro from 'avsc';
import {
  DLQ_HEADERS,
  Outcome,
  PoisonEventError,
  RecordedError,
  outcomeErrorFrom,
  stackTraceOf,
  syncStatusFor,
  toDeadLetterHeaders,
  toResultRecord,
} from '../../../streams/outcomes';
import { Modification } from '../../../streams/modification';
import { PemsSyncError } from '../../../streams/errors';

const schema = JSON.parse(
  readFileSync(join(__dirname, '../../../schemas/avro/sync-result.avsc'), 'utf8'),
) as avro.Schema;
const type = avro.Type.forSchema(schema);

const mod: Modification = {
  id: '6f1c3a52-8d0e-4b7a-9f5e-1a2b3c4d5e6f',
  organizationId: 'RIO',
  pfaId: 'PFA-000123',
  userId: 'jdoe',
  operation: 'update',
  delta: { forecastEnd: '2026-07-31' },
  baseVersion: 7,
  changeReason: null,
  syncStatus: 'committed',
  syncError: null,
  pemsVersionAfter: null,
  attempts: 0,
  committedAt: '2026-11-24T10:30:00.123456Z',
  syncedAt: null,
  createdAt: null,
  updatedAt: null,
  supersedesId: null,
};
const committedMs = Date.parse('2026-11-24T10:30:00.123Z');
const timings = {
  attempts: 2,
  syncedAtMs: committedMs + 1500,
  coalescedWith: [mod.id, 'a1b2c3d4-0000-4000-8000-000000000000'],
};

const outcomes: Outcome[] = [
  { kind: 'synced', rebased: true, pemsVersionBefore: 8, pemsVersionAfter: 9, fieldsWritten: ['forecastEnd'] },
  {
    kind: 'synced',
    rebased: false,
    pemsVersionBefore: 8,
    pemsVersionAfter: 8,
    fieldsWritten: [],
    alreadyApplied: true,
  },
  {
    kind: 'conflict',
    pemsVersion: 9,
    fields: [{ field: 'forecastEnd', base: '2026-06-30', baseKnown: true, local: '2026-07-31', pems: '2026-09-30' }],
  },
  {
    kind: 'rejected',
    error: {
      code: 'PEMS_SYNC_PEMS_REJECTED',
      message: 'bad',
      fieldErrors: [{ field: 'dor', message: 'BEO or PROJECT' }],
    },
  },
  { kind: 'failed', error: { code: 'PEMS_SYNC_PEMS_TRANSIENT', message: '503' }, pemsVersion: 8 },
  { kind: 'superseded', supersededBy: 'b1b2c3d4-0000-4000-8000-000000000000' },
  { kind: 'superseded', supersededBy: null },
  { kind: 'skipped', reason: 'modification no longer committed in the database' },
];

describe('sync-result.avsc', () => {
  it('when parsed with avsc, then it is the SyncResult record in com.pfavanguard.pemssync', () => {
    expect(type.name).toBe('com.pfavanguard.pemssync.SyncResult');
  });

  it.each(outcomes.map((o) => [o.kind, o] as const))(
    'when a %s outcome is built, then the record validates and round-trips',
    (_k, o) => {
      const rec = toResultRecord(o, mod, timings, '4bf92f3577b34da6a3ce929d0e0e4736');
      const errors: string[] = [];
      const ok = type.isValid(rec, { errorHook: (path) => errors.push(path.join('.')) });
      expect(errors).toEqual([]);
      expect(ok).toBe(true);
      expect(type.fromBuffer(type.toBuffer(rec))).toEqual(rec);
    },
  );
});

describe('toResultRecord', () => {
  it('when a rebased write synced, then versions, fields, timings and coalescedWith (without itself) are set', () => {
    const rec = toResultRecord(outcomes[0]!, mod, timings, null);
    expect(rec).toEqual({
      modificationId: mod.id,
      organizationId: 'RIO',
      pfaId: 'PFA-000123',
      userId: 'jdoe',
      outcome: 'SYNCED',
      baseVersion: 7,
      pemsVersionBefore: 8,
      pemsVersionAfter: 9,
      fieldsWritten: ['forecastEnd'],
      rebased: true,
      attempts: 2,
      error: null,
      committedAt: committedMs,
      syncedAt: committedMs + 1500,
      latencyMs: 1500,
      detail: null,
      traceId: null,
      coalescedWith: ['a1b2c3d4-0000-4000-8000-000000000000'],
    });
  });

  it('when a conflict is recorded, then each conflicting field appears as a field error with base/yours/PEMS', () => {
    const rec = toResultRecord(outcomes[2]!, mod, timings, null);
    expect(rec.outcome).toBe('CONFLICT');
    expect(rec.error?.code).toBe('PEMS_SYNC_VERSION_CONFLICT');
    expect(rec.error?.fieldErrors).toEqual([
      { field: 'forecastEnd', message: 'base "2026-06-30", yours "2026-07-31", PEMS "2026-09-30"' },
    ]);
    expect(rec.pemsVersionAfter).toBeNull();
  });

  it('when an error has no field errors, then fieldErrors is null (not an empty array)', () => {
    expect(toResultRecord(outcomes[4]!, mod, timings, null).error).toEqual({
      code: 'PEMS_SYNC_PEMS_TRANSIENT',
      message: '503',
      fieldErrors: null,
    });
  });

  it('when committedAt is missing or the clocks disagree, then latency is null or clamped to 0', () => {
    expect(toResultRecord(outcomes[0]!, { ...mod, committedAt: null }, timings, null).latencyMs).toBeNull();
    expect(toResultRecord(outcomes[0]!, mod, { attempts: 1, syncedAtMs: committedMs - 50 }, null).latencyMs).toBe(0);
    expect(toResultRecord(outcomes[0]!, mod, { attempts: 1, syncedAtMs: null }, null).latencyMs).toBeNull();
  });

  it('when skipped or superseded, then the reason lands in detail', () => {
    expect(toResultRecord(outcomes[7]!, mod, timings, null).detail).toMatch(/no longer committed/);
    expect(toResultRecord(outcomes[5]!, mod, timings, null).detail).toBe(
      'superseded by b1b2c3d4-0000-4000-8000-000000000000',
    );
  });

  it('when a version exceeds Avro int, then the record does not validate (caught before producing)', () => {
    const rec = toResultRecord(
      { ...(outcomes[0] as Extract<Outcome, { kind: 'synced' }>), pemsVersionAfter: 2 ** 31 },
      mod,
      timings,
      null,
    );
    expect(type.isValid(rec)).toBe(false);
  });
});

describe('syncStatusFor', () => {
  it('when the outcome is skipped, then no status is written; otherwise the matching status', () => {
    expect(outcomes.map(syncStatusFor)).toEqual([
      'synced',
      'synced',
      'conflict',
      'rejected',
      'failed',
      'superseded',
      'superseded',
      null,
    ]);
  });
});

describe('outcomeErrorFrom', () => {
  it('when a PEMS 400 carries fieldErrors in details, then they are kept and malformed entries dropped', () => {
    const e = new PemsSyncError('PEMS_SYNC_PEMS_REJECTED', 'validation failed', {
      details: { fieldErrors: [{ field: 'dor', message: 'bad' }, { field: 3 }, 'x'] },
    });
    expect(outcomeErrorFrom(e)).toEqual({
      code: 'PEMS_SYNC_PEMS_REJECTED',
      message: 'validation failed',
      fieldErrors: [{ field: 'dor', message: 'bad' }],
    });
  });

  it('when something without a code is thrown, then the code is PEMS_SYNC_UNEXPECTED', () => {
    expect(outcomeErrorFrom(new TypeError('boom'))).toEqual({ code: 'PEMS_SYNC_UNEXPECTED', message: 'boom' });
    expect(outcomeErrorFrom('text')).toEqual({ code: 'PEMS_SYNC_UNEXPECTED', message: 'text' });
  });
});

describe('toDeadLetterHeaders', () => {
  const position = { topic: 'pems.public.pfa_modification', partition: 3, offset: '42' };
  const str = (v: unknown) => (Buffer.isBuffer(v) ? v.toString('utf8') : v);

  it('when a write fails, then the original headers stay and Kafka Connect context headers are added as bytes', () => {
    const cause = new Error('socket hang up');
    const err = new PemsSyncError('PEMS_SYNC_PEMS_TRANSIENT', 'PEMS unavailable', { retriable: true, cause });
    const h = toDeadLetterHeaders({ traceparent: 'tp', multi: ['a', Buffer.from('b')] }, position, err, {
      connectorName: 'pems-sync',
      taskId: 0,
      stage: 'PEMS_WRITE',
    });
    expect(h.traceparent).toBe('tp');
    expect(h.multi).toEqual(['a', Buffer.from('b')]);
    expect(Buffer.isBuffer(h[DLQ_HEADERS.topic])).toBe(true);
    expect(str(h['__connect.errors.topic'])).toBe('pems.public.pfa_modification');
    expect(str(h['__connect.errors.partition'])).toBe('3');
    expect(str(h['__connect.errors.offset'])).toBe('42');
    expect(str(h['__connect.errors.connector.name'])).toBe('pems-sync');
    expect(str(h['__connect.errors.task.id'])).toBe('0');
    expect(str(h['__connect.errors.stage'])).toBe('PEMS_WRITE');
    expect(str(h['__connect.errors.exception.class.name'])).toBe('PemsSyncError');
    expect(str(h['__connect.errors.exception.message'])).toBe('PEMS unavailable');
    expect(str(h['__connect.errors.exception.stacktrace'])).toMatch(
      /PEMS unavailable[\s\S]*Caused by: Error: socket hang up/,
    );
    expect(str(h['__pems_sync.errors.code'])).toBe('PEMS_SYNC_PEMS_TRANSIENT');
  });

  it('when no context is given, then connector/task/stage headers are absent', () => {
    const h = toDeadLetterHeaders(undefined, position, new PoisonEventError('unknown op'));
    expect(h['__connect.errors.stage']).toBeUndefined();
    expect(str(h['__connect.errors.exception.class.name'])).toBe('PoisonEventError');
    expect(str(h['__pems_sync.errors.code'])).toBe('PEMS_SYNC_POISON_EVENT');
  });

  it('when the record was dead-lettered before, then the new context headers are appended after the old ones', () => {
    const first = toDeadLetterHeaders({}, position, new Error('first'));
    const second = toDeadLetterHeaders(first, { ...position, offset: '7' }, new Error('second'));
    const offsets = second['__connect.errors.offset'];
    expect(Array.isArray(offsets) && offsets.map(str)).toEqual(['42', '7']);
    // the input headers are not mutated
    expect(str(first['__connect.errors.offset'])).toBe('42');
  });

  it('when a non-Error is thrown, then class name and message still describe it', () => {
    const h = toDeadLetterHeaders({}, position, 'plain string');
    expect(str(h['__connect.errors.exception.class.name'])).toBe('string');
    expect(str(h['__connect.errors.exception.message'])).toBe('plain string');
  });

  it('when the stack trace is enormous, then it is truncated', () => {
    const e = new Error('x'.repeat(100_000));
    expect(stackTraceOf(e).length).toBeLessThan(33_000);
    expect(stackTraceOf(e)).toMatch(/truncated$/);
  });
});

describe('RecordedError', () => {
  it('when a recorded outcome error is dead-lettered, then the headers carry its code and message under the class name Error', () => {
    const h = toDeadLetterHeaders(
      {},
      { topic: 't', partition: 0, offset: '1' },
      new RecordedError({ code: 'PEMS_SYNC_PEMS_TRANSIENT', message: 'gone' }),
    );
    const str = (v: unknown) => (Buffer.isBuffer(v) ? v.toString('utf8') : v);
    expect(str(h['__connect.errors.exception.class.name'])).toBe('Error');
    expect(str(h['__connect.errors.exception.message'])).toBe('gone');
    expect(str(h[DLQ_HEADERS.code])).toBe('PEMS_SYNC_PEMS_TRANSIENT');
  });
});
