import { decodeChangeEvent, ChangeEventInput } from '../../../streams/envelope';

const row = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  id: '6f1c3a52-8d0e-4b7a-9f5e-1a2b3c4d5e6f',
  organization_id: 'RIO',
  pfa_id: 'PFA-000123',
  user_id: 'jdoe',
  operation: 'update',
  delta: JSON.stringify({ forecastEnd: '2026-07-31', monthlyRate: 6000 }),
  base_version: 7,
  change_reason: 'extension',
  sync_status: 'committed',
  sync_error: null,
  pems_version_after: null,
  attempts: 0,
  committed_at: '2026-11-24T10:30:00.123456Z',
  synced_at: null,
  created_at: '2026-11-24T10:29:00Z',
  updated_at: '2026-11-24T10:30:00.123456Z',
  supersedes_id: null,
  ...over,
});

const event = (op: string, after: unknown, before: unknown = null): Record<string, unknown> => ({
  before,
  after,
  source: { version: '3.3.0.Final', connector: 'postgresql', lsn: 24023128, txId: 555, ts_ms: 1764000000000 },
  op,
  ts_ms: 1764000000123,
  transaction: null,
});

const msg = (value: unknown, over: Partial<ChangeEventInput> = {}): ChangeEventInput => ({
  key: JSON.stringify({ organization_id: 'RIO', pfa_id: 'PFA-000123' }),
  value: value === null ? null : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
  topic: 'pems.public.pfa_modification',
  partition: 3,
  offset: '42',
  ...over,
});

const decode = (value: unknown, over: Partial<ChangeEventInput> = {}, maxDeltaBytes?: number) =>
  decodeChangeEvent(msg(value, over), maxDeltaBytes === undefined ? {} : { maxDeltaBytes });

describe('decodeChangeEvent', () => {
  describe('work', () => {
    it('when an insert arrives already committed, then it is work with a camelCase modification and its position', () => {
      const r = decode(event('c', row()));
      expect(r.kind).toBe('work');
      if (r.kind !== 'work') return;
      expect(r.position).toEqual({ topic: 'pems.public.pfa_modification', partition: 3, offset: '42' });
      expect(r.modification).toEqual({
        id: '6f1c3a52-8d0e-4b7a-9f5e-1a2b3c4d5e6f',
        organizationId: 'RIO',
        pfaId: 'PFA-000123',
        userId: 'jdoe',
        operation: 'update',
        delta: { forecastEnd: '2026-07-31', monthlyRate: 6000 },
        baseVersion: 7,
        changeReason: 'extension',
        syncStatus: 'committed',
        syncError: null,
        pemsVersionAfter: null,
        attempts: 0,
        committedAt: '2026-11-24T10:30:00.123456Z',
        syncedAt: null,
        createdAt: '2026-11-24T10:29:00Z',
        updatedAt: '2026-11-24T10:30:00.123456Z',
        supersedesId: null,
      });
      expect(r.source).toEqual({ lsn: 24023128, txId: 555, tsMs: 1764000000000 });
      expect(r.traceId).toBeNull();
    });

    it('when a snapshot read (op r) of a committed row arrives, then it is work', () => {
      expect(decode(event('r', row())).kind).toBe('work');
    });

    it('when an update moves draft to committed, then it is work', () => {
      expect(decode(event('u', row(), row({ sync_status: 'draft' }))).kind).toBe('work');
    });

    it('when an update to committed has no before (identity not full), then it is work', () => {
      expect(decode(event('u', row(), null)).kind).toBe('work');
      const noBefore = event('u', row());
      delete noBefore.before;
      expect(decode(noBefore).kind).toBe('work');
    });

    it('when the value and key are strings rather than Buffers, then they decode the same', () => {
      const r = decodeChangeEvent({ ...msg(null), value: JSON.stringify(event('c', row())) });
      expect(r.kind).toBe('work');
    });

    it('when the converter wrapped key and value as {schema, payload}, then the payload is used', () => {
      const r = decode(
        { schema: { type: 'struct' }, payload: event('c', row()) },
        { key: JSON.stringify({ schema: {}, payload: { organization_id: 'RIO', pfa_id: 'PFA-000123' } }) },
      );
      expect(r.kind).toBe('work');
    });

    it('when delta was already expanded to an object, then it is accepted', () => {
      const r = decode(event('c', row({ delta: { notes: 'x' } })));
      expect(r.kind === 'work' && r.modification.delta).toEqual({ notes: 'x' });
    });

    it('when sync_error is a JSON string, then it is parsed', () => {
      const r = decode(event('c', row({ sync_error: '{"code":"X"}' })));
      expect(r.kind === 'work' && r.modification.syncError).toEqual({ code: 'X' });
    });

    it('when a traceparent header is present, then its trace id is returned', () => {
      const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
      const r = decode(event('c', row()), { headers: { traceparent: Buffer.from(tp) } });
      expect(r.kind === 'work' && r.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
      const bad = decode(event('c', row()), { headers: { traceparent: '00-0000-00' } });
      expect(bad.kind === 'work' && bad.traceId).toBeNull();
    });

    it('when attempts is null, then it defaults to 0', () => {
      const r = decode(event('c', row({ attempts: null })));
      expect(r.kind === 'work' && r.modification.attempts).toBe(0);
    });
  });

  describe('skip', () => {
    it('when the value is a tombstone (null), then it is skipped as tombstone even without a key', () => {
      const r = decode(null, { key: null });
      expect(r).toMatchObject({ kind: 'skip', reason: 'tombstone', position: { offset: '42' } });
    });

    it('when a delete event arrives, then it is skipped', () => {
      expect(decode(event('d', null, row()))).toMatchObject({ kind: 'skip', reason: 'delete' });
    });

    it('when a truncate event arrives, then it is skipped', () => {
      expect(decode({ op: 't', before: null, after: null, source: {} })).toMatchObject({
        kind: 'skip',
        reason: 'truncate',
      });
    });

    it('when a draft is inserted, then it is skipped as not committed', () => {
      expect(decode(event('c', row({ sync_status: 'draft' })))).toMatchObject({
        kind: 'skip',
        reason: 'not_committed',
      });
    });

    it.each(['queued', 'syncing', 'synced', 'conflict', 'failed', 'rejected', 'superseded'])(
      'when the connector moves the row to %s, then it is skipped',
      (s) => {
        const r = decode(event('u', row({ sync_status: s }), row()));
        expect(r).toMatchObject({ kind: 'skip', reason: 'not_committed' });
      },
    );

    it('when a committed row is updated and stays committed, then it is skipped (not a transition)', () => {
      const r = decode(event('u', row({ attempts: 1 }), row()));
      expect(r).toMatchObject({ kind: 'skip', reason: 'already_committed' });
    });

    it('when a non-work row has a malformed delta, then it is still a skip, not poison', () => {
      expect(decode(event('u', row({ sync_status: 'synced', delta: 'nope' }), row())).kind).toBe('skip');
    });
  });

  describe('poison', () => {
    const poison = (value: unknown, over: Partial<ChangeEventInput> = {}, max?: number) => {
      const r = decode(value, over, max);
      expect(r.kind).toBe('poison');
      return r.kind === 'poison' ? r.reason : '';
    };

    it('when an event is poison, then it carries the organization and modification ids that could still be read', () => {
      const big = decode(event('c', row({ delta: JSON.stringify({ notes: 'x'.repeat(2000) }) })), {}, 1024);
      expect(big).toMatchObject({
        kind: 'poison',
        organizationId: 'RIO',
        modificationId: '6f1c3a52-8d0e-4b7a-9f5e-1a2b3c4d5e6f',
      });
      // An id that is not a uuid is not trusted; a key without organization_id names none.
      expect(decode(event('c', row({ id: 'not-a-uuid', base_version: -1 })), { key: '{"pfa_id":"P"}' })).toMatchObject({
        kind: 'poison',
        organizationId: null,
        modificationId: null,
      });
      // Nothing readable at all.
      expect(decode('{not json', { key: Buffer.from('also not json') })).toMatchObject({
        kind: 'poison',
        organizationId: null,
        modificationId: null,
      });
      expect(decode('{not json', { key: null })).toMatchObject({
        kind: 'poison',
        organizationId: null,
        modificationId: null,
      });
    });

    it('when the value is not JSON, then it is poison', () => {
      expect(poison('{not json')).toMatch(/not valid JSON/);
    });

    it('when the value is an empty buffer, then it is poison (a Kafka tombstone is null, not empty)', () => {
      expect(poison('')).toMatch(/not valid JSON/);
    });

    it('when the value is JSON but not an object, then it is poison', () => {
      expect(poison('[1,2]')).toMatch(/not a JSON object/);
      expect(poison('"x"')).toMatch(/not a JSON object/);
    });

    it('when op is unknown or missing, then it is poison naming it', () => {
      expect(poison(event('m', row()))).toBe("unknown op 'm'");
      expect(poison({ after: row() })).toBe('value has no op');
    });

    it('when op c has no after, then it is poison', () => {
      expect(poison(event('c', null))).toMatch(/without an after row/);
    });

    it('when sync_status is unknown, then it is poison', () => {
      expect(poison(event('c', row({ sync_status: 'done' })))).toMatch(/after.sync_status 'done'/);
    });

    it('when before.sync_status is ill-typed on an update, then it is poison', () => {
      expect(poison(event('u', row(), row({ sync_status: 3 })))).toMatch(/before.sync_status/);
    });

    it.each([
      ['id', undefined],
      ['organization_id', 42],
      ['pfa_id', ''],
      ['user_id', null],
      ['base_version', '7'],
      ['base_version', 1.5],
      ['base_version', -1],
      ['attempts', 'x'],
      ['committed_at', 'yesterday'],
      ['change_reason', 5],
    ])('when after.%s is %p, then it is poison naming the column', (col, v) => {
      expect(poison(event('c', row({ [col]: v })))).toContain(`after.${col}`);
    });

    it('when operation is neither update nor delete, then it is poison', () => {
      expect(poison(event('c', row({ operation: 'insert' })))).toMatch(/after.operation 'insert'/);
    });

    it('when delta is not valid JSON text, then it is poison', () => {
      expect(poison(event('c', row({ delta: '{oops' })))).toBe('after.delta is not valid JSON');
    });

    it('when delta is a JSON array, null literal or number, then it is poison', () => {
      expect(poison(event('c', row({ delta: '[1]' })))).toBe('after.delta is not a JSON object');
      expect(poison(event('c', row({ delta: 'null' })))).toBe('after.delta is not a JSON object');
      expect(poison(event('c', row({ delta: 12 })))).toMatch(/after.delta missing/);
      expect(poison(event('c', row({ delta: null })))).toMatch(/after.delta missing/);
    });

    it('when delta exceeds the byte limit, then it is poison stating size and limit', () => {
      const big = JSON.stringify({ notes: 'é'.repeat(600) }); // 2 bytes per char in UTF-8
      expect(Buffer.byteLength(big)).toBeGreaterThan(1000);
      expect(big.length).toBeLessThan(1000);
      expect(poison(event('c', row({ delta: big })), {}, 1000)).toMatch(/bytes, over the 1000 byte limit/);
      expect(decode(event('c', row({ delta: big })), {}, 2000).kind).toBe('work');
    });

    it('when delta is larger than the 1 MiB default, then it is poison', () => {
      const big = JSON.stringify({ notes: 'x'.repeat(1_048_576) });
      expect(poison(event('c', row({ delta: big })))).toMatch(/1048576 byte limit/);
    });

    it('when the key does not match the row, then it is poison', () => {
      const key = JSON.stringify({ organization_id: 'RIO', pfa_id: 'PFA-999' });
      expect(poison(event('c', row()), { key })).toMatch(/does not match/);
    });

    it('when the key is missing or not JSON, then it is poison', () => {
      expect(poison(event('c', row()), { key: null })).toBe('key missing');
      expect(poison(event('c', row()), { key: 'RIO:PFA-000123' })).toBe('key is not valid JSON');
    });
  });
});
