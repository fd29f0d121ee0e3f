import { attemptErrorBody, attemptResultOf, conflictingFieldsOf } from '../../../streams/write-attempt';

describe('streams/write-attempt: what one PEMS write attempt leaves in the audit trail', () => {
  it('names the attempt result from the retry classification', () => {
    expect(attemptResultOf('conflict')).toBe('conflict');
    expect(attemptResultOf('rate_limited')).toBe('rate_limited');
    expect(attemptResultOf('transient')).toBe('transient');
    expect(attemptResultOf('unrecoverable')).toBe('rejected');
    expect(attemptResultOf('bug')).toBe('error');
  });

  it('keeps code, message and details of the error, and nothing else', () => {
    const err = Object.assign(new Error('PEMS said no'), { code: 'X', details: { a: 1 }, secret: 'k' });
    expect(attemptErrorBody(err)).toEqual({ code: 'X', message: 'PEMS said no', details: { a: 1 } });
    expect(attemptErrorBody('boom')).toEqual({ message: 'boom' });
  });

  it("finds a 409's conflicting fields anywhere in the cause chain, and survives a cycle", () => {
    const conflict = { code: 'PEMS_SYNC_PEMS_CONFLICT', details: { conflictingFields: ['notes', 'dor'] } };
    expect(conflictingFieldsOf(new Error('wrapped', { cause: new Error('again', { cause: conflict }) }))).toEqual([
      'notes',
      'dor',
    ]);
    expect(conflictingFieldsOf({ code: 'PEMS_SYNC_PEMS_CONFLICT', details: {} })).toBeNull();
    const a: { code: string; cause?: unknown } = { code: 'OTHER' };
    a.cause = { code: 'OTHER', cause: a };
    expect(conflictingFieldsOf(a)).toBeNull();
  });
});
