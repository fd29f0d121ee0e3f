/**
 * The write loop (lanes.ts scheduling, pems-write.ts one coalesced write) against a fake batch
 * writer and a fake PEMS client: what is sent, how often, and what is handed to the recorder.
 * No Kafka, no Postgres: those rooms are not involved here.
 */
import {
  idempotencyKeyFor,
  PemsRateLimitedError,
  PemsRejectedError,
  PemsTransientError,
  type BatchItem,
  type BatchItemResult,
  type PemsClient,
} from '../../../../connectors/pems';
import { PemsHealth } from '../../../../connectors/sink/health';
import { PfaLanes } from '../../../../connectors/sink/lanes';
import { PemsWrite } from '../../../../connectors/sink/pems-write';
import type { OutcomeEntry, Recorder, RecordEntry } from '../../../../connectors/sink/record';
import type { LaneContext, LaneItem } from '../../../../connectors/sink/work';
import type { PfaRecord } from '../../../../streams/pfa-record';

const BASE: PfaRecord = {
  pfaId: 'P',
  organization: 'O',
  version: 3,
  updatedAt: '2026-11-01T00:00:00Z',
  updatedBy: 'pems',
  forecastStart: '2027-01-01',
  forecastEnd: '2027-06-30',
  forecastCategory: null,
  category: null,
  source: 'Rental',
  dor: 'PROJECT',
  equipment: 'EX-1',
  monthlyRate: 1000,
  purchasePrice: null,
  isDiscontinued: false,
  isFundsTransferable: false,
  actualEnd: null,
  description: null,
  notes: 'base',
  originalStart: null,
  originalEnd: null,
  class: null,
  areaSilo: null,
  manufacturer: null,
  model: null,
};

let offset = 0;
function edit(
  id: string,
  delta: Record<string, unknown>,
  over: { baseVersion?: number; operation?: 'update' | 'delete' } = {},
): LaneItem {
  offset += 1;
  const position = { topic: 't', partition: 0, offset: String(offset) };
  return {
    modification: {
      id,
      organizationId: 'O',
      pfaId: 'P',
      userId: `user-${id}`,
      operation: over.operation ?? 'update',
      delta,
      baseVersion: over.baseVersion ?? 3,
      changeReason: null,
      syncStatus: 'committed',
      syncError: null,
      pemsVersionAfter: null,
      attempts: 0,
      committedAt: null,
      syncedAt: null,
      createdAt: null,
      updatedAt: null,
      supersedesId: null,
    },
    position,
    traceId: null,
    source: { position, key: null, value: null, headers: {} },
  };
}

type Answer = BatchItemResult | Error | Promise<BatchItemResult>;

/** A batch writer that answers each update with the next scripted answer and remembers what it was sent. */
class FakeBatchWriter {
  readonly sent: Array<{ item: BatchItem; modificationIds: readonly string[] }> = [];
  constructor(private readonly answers: Array<Answer | ((item: BatchItem) => Answer)>) {}
  async update(
    _client: PemsClient,
    item: BatchItem,
    modificationIds: readonly string[] = [],
  ): Promise<BatchItemResult> {
    this.sent.push({ item, modificationIds });
    const next = this.answers.shift();
    if (next === undefined) throw new Error(`unexpected request ${this.sent.length}`);
    const a = typeof next === 'function' ? next(item) : next;
    if (a instanceof Error) throw a;
    return a;
  }
}

interface World {
  writer: FakeBatchWriter;
  lanes: PfaLanes;
  recorded: OutcomeEntry[];
  sleeps: number[];
  gets: number;
  healthCalls: number;
  /** What lanes reported through onFailed. */
  failures: unknown[];
}

function world(opts: {
  answers: Array<Answer | ((item: BatchItem) => Answer)>;
  getRecord?: () => PfaRecord;
  health?: Array<boolean>;
  retry?: { delaysMs?: number[]; maxRechecks?: number };
  client?: boolean;
  /** The recorder refuses every outcome with this error. */
  recorderFails?: Error;
}): World & { ctx: () => LaneContext } {
  const writer = new FakeBatchWriter(opts.answers);
  const sleeps: number[] = [];
  const sleep = async (ms: number): Promise<void> => {
    sleeps.push(ms);
  };
  const w = {
    writer,
    recorded: [] as OutcomeEntry[],
    sleeps,
    gets: 0,
    healthCalls: 0,
    failures: [] as unknown[],
  } as World & {
    ctx: () => LaneContext;
  };
  const healthAnswers = [...(opts.health ?? [])];
  const client = {
    organization: 'O',
    getRecord: async () => {
      w.gets += 1;
      if (!opts.getRecord) throw new Error('no GET expected');
      return opts.getRecord();
    },
    health: async () => {
      w.healthCalls += 1;
      if (healthAnswers.shift() === false) throw new PemsTransientError('health: connection refused', {});
      return { status: 'ok' };
    },
    softDelete: async () => {
      throw new Error('no DELETE expected');
    },
  } as unknown as PemsClient;
  const health = new PemsHealth({ threshold: 5, probeIntervalMs: 1, sleep });
  const recorder = {
    submit: async (e: RecordEntry) => {
      if (opts.recorderFails) throw opts.recorderFails;
      if (e.kind === 'outcome') w.recorded.push(e);
    },
  } as unknown as Recorder;
  w.lanes = new PfaLanes({
    write: new PemsWrite({
      writer,
      health,
      retry: {
        delaysMs: opts.retry?.delaysMs ?? [5000, 10000, 20000],
        jitter: 0,
        maxRechecks: opts.retry?.maxRechecks ?? 5,
      },
      sleep,
      now: () => new Date('2026-12-01T12:00:00Z'),
    }),
    recorder,
    onFailed: (err) => w.failures.push(err),
  });
  w.ctx = () => ({
    org: {
      id: 'O',
      syncEnabled: true,
      client: opts.client === false ? null : client,
      problem: opts.client === false ? 'no PEMS base URL' : null,
    },
    mirror: BASE,
    history: new Map([[3, BASE]]),
    ownWrites: [],
    intents: [],
  });
  return w;
}

async function run(w: World & { ctx: () => LaneContext }, items: LaneItem[]): Promise<void> {
  for (const i of items) w.lanes.enqueue(i, w.ctx());
  await w.lanes.drain();
  expect(w.lanes.inFlight()).toBe(0);
}

const ids = (e: OutcomeEntry): string[] => e.modifications.map((m) => m.modification.id);

/** An answer that arrives when the test says so. */
function deferred(): { promise: Promise<BatchItemResult>; resolve: (r: BatchItemResult) => void } {
  let resolve: (r: BatchItemResult) => void = () => undefined;
  const promise = new Promise<BatchItemResult>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * Edits fold when they queue up behind a write of their PFA that is in hand (a lane takes what
 * waits each time it comes round): `first` is sent and held until `release` is called.
 */
async function behindAWrite(
  w: World & { ctx: () => LaneContext },
  held: ReturnType<typeof deferred>,
  items: LaneItem[],
): Promise<void> {
  w.lanes.enqueue(edit('first', { description: 'first' }), w.ctx());
  await new Promise((r) => setImmediate(r));
  expect(w.writer.sent).toHaveLength(1);
  for (const i of items) w.lanes.enqueue(i, w.ctx());
  held.resolve({ pfaId: 'P', status: 'updated', newVersion: 4 });
  await w.lanes.drain();
  expect(w.lanes.inFlight()).toBe(0);
}

describe('the write loop (lanes + one coalesced write, fake batch writer)', () => {
  beforeEach(() => {
    offset = 0;
  });

  it("when one edit is written alone, then one item at the mirror's version is sent and its outcome carries the next mirror record", async () => {
    const w = world({ answers: [{ pfaId: 'P', status: 'updated', newVersion: 4 }] });
    await run(w, [edit('a', { notes: 'mine' })]);

    expect(w.writer.sent).toEqual([
      {
        item: {
          pfaId: 'P',
          changes: { notes: 'mine' },
          version: 3,
          modifiedBy: 'user-a',
          idempotencyKey: idempotencyKeyFor(['a']),
        },
        modificationIds: ['a'],
      },
    ]);
    expect(w.recorded[0]!.outcome).toEqual({
      kind: 'synced',
      rebased: false,
      pemsVersionBefore: 3,
      pemsVersionAfter: 4,
      fieldsWritten: ['notes'],
    });
    // Computed from the record written onto, not fetched.
    expect(w.recorded[0]!.mirrorRecord).toMatchObject({ version: 4, notes: 'mine', updatedBy: 'user-a' });
    expect(w.gets).toBe(0);
  });

  it('when two edits of one PFA queue behind a write in hand, then one item carries both (later wins per field), rebased onto our own write, and one outcome records both', async () => {
    const held = deferred();
    const w = world({ answers: [held.promise, { pfaId: 'P', status: 'updated', newVersion: 5 }] });
    await behindAWrite(w, held, [edit('a', { notes: 'first', equipment: 'EX-2' }), edit('b', { notes: 'second' })]);

    expect(w.writer.sent).toHaveLength(2);
    const { item, modificationIds } = w.writer.sent[1]!;
    expect(item).toEqual({
      pfaId: 'P',
      version: 4,
      changes: { equipment: 'EX-2', notes: 'second' },
      modifiedBy: 'user-b',
      idempotencyKey: idempotencyKeyFor(['a', 'b']),
    });
    expect(modificationIds).toEqual(['a', 'b']);
    expect(w.recorded.map(ids)).toEqual([['first'], ['a', 'b']]);
    // Made on version 3; version 4 is this sink's own write of another field: not a conflict.
    expect(w.recorded[1]!.outcome).toEqual({
      kind: 'synced',
      rebased: true,
      pemsVersionBefore: 4,
      pemsVersionAfter: 5,
      fieldsWritten: ['equipment', 'notes'],
    });
    expect(w.gets).toBe(0);
  });

  it('when PEMS fails transiently once, then the same item is re-sent after the first delay and both attempts are logged', async () => {
    const w = world({
      answers: [new PemsTransientError('503', { status: 503 }), { pfaId: 'P', status: 'updated', newVersion: 4 }],
    });
    await run(w, [edit('a', { notes: 'x' })]);

    expect(w.writer.sent.map((s) => s.item)).toEqual([w.writer.sent[0]!.item, w.writer.sent[0]!.item]);
    expect(w.sleeps).toEqual([5000]);
    expect(w.recorded[0]!.attempts.map((a) => a.result)).toEqual(['transient', 'updated']);
    expect(w.recorded[0]!.outcome.kind).toBe('synced');
  });

  it('when PEMS answers 429, then the write waits Retry-After and no attempt is spent or logged', async () => {
    const w = world({
      answers: [
        new PemsRateLimitedError('429', { status: 429, retryAfterMs: 1234 }),
        { pfaId: 'P', status: 'updated', newVersion: 4 },
      ],
      retry: { delaysMs: [10] },
    });
    await run(w, [edit('a', { notes: 'x' })]);

    expect(w.sleeps).toEqual([1234]);
    expect(w.recorded[0]!.attempts.map((a) => a.result)).toEqual(['updated']);
    expect(w.recorded[0]!.outcome.kind).toBe('synced');
  });

  it('when transient failures use up the retries and PEMS health answers, then the edit fails with PEMS_SYNC_RETRIES_EXHAUSTED', async () => {
    const t = (): Error => new PemsTransientError('503', { status: 503 });
    const w = world({ answers: [t(), t(), t()], retry: { delaysMs: [10, 20] }, health: [true] });
    await run(w, [edit('a', { notes: 'x' })]);

    expect(w.writer.sent).toHaveLength(3);
    expect(w.sleeps).toEqual([10, 20]);
    expect(w.healthCalls).toBe(1);
    expect(w.recorded[0]!.outcome).toMatchObject({ kind: 'failed', error: { code: 'PEMS_SYNC_RETRIES_EXHAUSTED' } });
    expect(w.recorded[0]!.attempts.map((a) => a.result)).toEqual(['transient', 'transient', 'transient']);
  });

  it('when the retries run out because PEMS is down (health fails too), then the write waits for a probe and goes on without failing', async () => {
    const t = (): Error => new PemsTransientError('connection refused', {});
    const w = world({
      answers: [t(), t(), { pfaId: 'P', status: 'updated', newVersion: 4 }],
      retry: { delaysMs: [10] },
      health: [false, true],
    });
    await run(w, [edit('a', { notes: 'x' })]);

    expect(w.healthCalls).toBe(2); // the confirmation, then the probe that brought PEMS back
    expect(w.writer.sent).toHaveLength(3);
    expect(w.recorded[0]!.outcome).toMatchObject({ kind: 'synced', pemsVersionAfter: 4 });
  });

  it('when PEMS rejects the change (422), then it is rejected at once, not retried', async () => {
    const w = world({
      answers: [
        new PemsRejectedError('422', {
          status: 422,
          error: 'VALIDATION_FAILED',
          fieldErrors: [{ field: 'notes', message: 'too long' }],
        }),
      ],
    });
    await run(w, [edit('a', { notes: 'x' })]);

    expect(w.writer.sent).toHaveLength(1);
    expect(w.sleeps).toEqual([]);
    expect(w.recorded[0]!.outcome).toMatchObject({
      kind: 'rejected',
      error: { code: 'PEMS_SYNC_PEMS_REJECTED' },
      pemsVersion: 3,
    });
  });

  it("when a folded write gets 409 and PEMS changed one edit's field, then that edit is the conflict and the other is written alone, rebased", async () => {
    const pems: PfaRecord = {
      ...BASE,
      version: 5,
      description: 'first',
      notes: 'changed in PEMS',
      updatedBy: 'planner',
    };
    const held = deferred();
    const w = world({
      answers: [
        held.promise,
        {
          pfaId: 'P',
          status: 'conflict',
          error: {
            error: 'VERSION_CONFLICT',
            message: 'stale',
            currentVersion: 5,
            expectedVersion: 4,
            conflictingFields: ['notes'],
          } as never,
        },
        { pfaId: 'P', status: 'updated', newVersion: 6 },
      ],
      getRecord: () => pems,
    });
    await behindAWrite(w, held, [edit('a', { notes: 'mine' }), edit('b', { equipment: 'EX-9' })]);

    expect(w.gets).toBe(1);
    expect(w.writer.sent.slice(1).map((s) => [s.item.version, s.item.changes, s.modificationIds])).toEqual([
      [4, { notes: 'mine', equipment: 'EX-9' }, ['a', 'b']],
      [5, { equipment: 'EX-9' }, ['b']],
    ]);
    expect(w.recorded.slice(1).map((e) => [e.outcome.kind, ids(e)])).toEqual([
      ['conflict', ['a']],
      ['synced', ['b']],
    ]);
    expect(w.recorded[1]!.outcome).toMatchObject({
      kind: 'conflict',
      fields: [expect.objectContaining({ field: 'notes' })],
    });
    expect(w.recorded[2]!.outcome).toMatchObject({ rebased: true, pemsVersionBefore: 5, pemsVersionAfter: 6 });
    // The conflict was found on a record read from PEMS: the mirror learns that version.
    expect(w.recorded[1]!.mirrorRecord).toEqual(pems);
  });

  it('when one folded edit breaks PEMS rules on the record it was made on, then it is rejected alone and the other edit is written', async () => {
    const held = deferred();
    const w = world({ answers: [held.promise, { pfaId: 'P', status: 'updated', newVersion: 5 }] });
    // Alone on version 3, forecastEnd before forecastStart breaks PEMS rules; the later edit fixes
    // forecastStart, so the folded write alone would hide it.
    await behindAWrite(w, held, [
      edit('bad', { forecastEnd: '2026-06-30' }),
      edit('good', { notes: 'fine', forecastStart: '2026-01-01' }),
    ]);

    expect(w.recorded.slice(1).map((e) => [e.outcome.kind, ids(e)])).toEqual([
      ['rejected', ['bad']],
      ['synced', ['good']],
    ]);
    expect(w.recorded[1]!.outcome).toMatchObject({
      error: { code: 'PEMS_SYNC_VALIDATION_FAILED', fieldErrors: [expect.objectContaining({ field: 'forecastEnd' })] },
    });
    expect(w.writer.sent.slice(1).map((s) => [s.item.changes, s.modificationIds])).toEqual([
      [{ notes: 'fine', forecastStart: '2026-01-01' }, ['good']],
    ]);
  });

  it('when the organization has no PEMS client, then the edit fails naming why, and nothing is sent', async () => {
    const w = world({ answers: [], client: false });
    await run(w, [edit('a', { notes: 'x' })]);

    expect(w.writer.sent).toHaveLength(0);
    expect(w.recorded[0]!.outcome).toMatchObject({
      kind: 'failed',
      error: { code: 'PEMS_SYNC_ORGANIZATION_NOT_CONFIGURED', message: 'no PEMS base URL' },
    });
  });

  it('when the sink stops while a request is in hand, then its outcome is left unrecorded (redelivered) and later edits are not sent', async () => {
    let fail: (e: Error) => void = () => undefined;
    const pending = new Promise<BatchItemResult>((_r, reject) => (fail = reject));
    const w = world({ answers: [pending] });
    w.lanes.enqueue(edit('a', { notes: 'x' }), w.ctx());
    await new Promise((r) => setImmediate(r));
    expect(w.writer.sent).toHaveLength(1);
    w.lanes.stop();
    fail(new PemsTransientError('socket closed', {}));
    w.lanes.enqueue(edit('b', { notes: 'y' }, { operation: 'update' }), w.ctx());
    await w.lanes.drain();

    expect(w.recorded).toEqual([]);
    expect(w.writer.sent).toHaveLength(1);
    expect(w.lanes.inFlight()).toBe(0);
  });

  it('when the recorder refuses an outcome, then the lane reports its failure (the sink stops itself) and other PFAs still go', async () => {
    const refused = new Error('record transaction failed: connection terminated');
    const w = world({
      answers: [(item) => ({ pfaId: item.pfaId, status: 'updated', newVersion: 4 })],
      recorderFails: refused,
    });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const other = edit('q', { notes: 'other' });
      other.modification.pfaId = 'Q';
      w.lanes.enqueue(edit('a', { notes: 'x' }), w.ctx());
      w.lanes.enqueue(other, w.ctx());
      await w.lanes.drain();
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(w.failures).toEqual([refused, refused]);
    expect(unhandled).toEqual([]);
    expect(w.writer.sent.map((s) => s.item.pfaId).sort()).toEqual(['P', 'Q']);
    expect(w.lanes.inFlight()).toBe(0);
  });

  it('when edits of two PFAs wait, then one PFA retrying does not hold the other back', async () => {
    const w = world({
      answers: [
        (item) =>
          item.pfaId === 'P'
            ? new PemsTransientError('503', { status: 503 })
            : { pfaId: item.pfaId, status: 'updated', newVersion: 4 },
        (item) => ({ pfaId: item.pfaId, status: 'updated', newVersion: 4 }),
        (item) => ({ pfaId: item.pfaId, status: 'updated', newVersion: 4 }),
      ],
    });
    const other = edit('q', { notes: 'other' });
    other.modification.pfaId = 'Q';
    await run(w, [edit('a', { notes: 'x' }), other]);

    // P's first try fails; Q is sent before P's retry.
    expect(w.writer.sent.map((s) => s.item.pfaId)).toEqual(['P', 'Q', 'P']);
    expect(w.recorded.map((e) => [ids(e), e.outcome.kind])).toEqual([
      [['q'], 'synced'],
      [['a'], 'synced'],
    ]);
  });
});
