import { Caller } from '../../../../connectors/control-api/auth';
import { csvField, csvRow } from '../../../../connectors/control-api/csv';
import { ApiError, toApiError } from '../../../../connectors/control-api/errors';
import { buildOpenApi } from '../../../../connectors/control-api/openapi';
import { decodeCursor, encodeCursor, isIdKey, isTimeIdKey } from '../../../../connectors/control-api/pagination';
import { webhookMessage } from '../../../../connectors/control-api/webhooks';
import { ActionRefusedError } from '../../../../connectors/postgres/conflicts';
import { headersFromStored } from '../../../../connectors/postgres/dead-letters';

describe('csv', () => {
  it('when a value holds a comma, quote, CR or LF, then it is quoted with quotes doubled; others are left as they are', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('l1\nl2')).toBe('"l1\nl2"');
    expect(csvField('cr\r')).toBe('"cr\r"');
    expect(csvField(null)).toBe('');
    expect(csvField(undefined)).toBe('');
    expect(csvField(12)).toBe('12');
    expect(csvField({ a: 'x,y' })).toBe('"{""a"":""x,y""}"');
    expect(csvRow(['a', 'b,c', null])).toBe('a,"b,c",\r\n');
  });

  it('when a text cell starts with = + - @, a tab or a CR, then it is prefixed with a quote mark and quoted, so no spreadsheet runs it', () => {
    expect(csvField('=HYPERLINK("http://evil","x")')).toBe('"\'=HYPERLINK(""http://evil"",""x"")"');
    expect(csvField('+1+cmd|/C calc')).toBe('"\'+1+cmd|/C calc"');
    expect(csvField('-2+3')).toBe('"\'-2+3"');
    expect(csvField('@SUM(A1)')).toBe('"\'@SUM(A1)"');
    expect(csvField('\t=1')).toBe('"\'\t=1"');
    expect(csvField('\r=1')).toBe('"\'\r=1"');
    expect(csvField("'already")).toBe('"\'\'already"'); // a leading quote mark gets one too, so the rule reverses
    // Only text a user chose: numbers and JSON objects are left alone; a formula char later in the cell is harmless.
    expect(csvField(-5)).toBe('-5');
    expect(csvField({ a: '=1' })).toBe('"{""a"":""=1""}"');
    expect(csvField('PFA-=1')).toBe('PFA-=1');
  });
});

describe('pagination cursors', () => {
  it('when a cursor round-trips, then the key comes back; a forged one is a 400', () => {
    const key = { t: '2026-01-01T00:00:00.000000Z', id: '0b9f8a3e-3c1d-4a57-9a55-1f3f3f3f3f3f' };
    expect(decodeCursor(encodeCursor(key), isTimeIdKey)).toEqual(key);
    expect(decodeCursor(undefined, isIdKey)).toBeUndefined();
    expect(() => decodeCursor(encodeCursor({ id: '1; DROP TABLE x' }), isIdKey)).toThrow(ApiError);
    expect(() => decodeCursor('not-base64-json', isIdKey)).toThrow(/cursor/);
  });
});

describe('Caller', () => {
  const caller = new Caller(
    'u1',
    new Map([
      ['A', { read: true, sync: true, admin: false }],
      ['B', { read: true, sync: false, admin: true }],
    ]),
  );

  it('when scoping, then a non-member organization is a 404 and rights are checked per organization', () => {
    expect(caller.scope()).toEqual(['A', 'B']);
    expect(caller.scope('A')).toEqual(['A']);
    expect(() => caller.scope('C')).toThrow(expect.objectContaining({ statusCode: 404 }));
    expect(() => caller.requireSync('A')).not.toThrow();
    expect(() => caller.requireSync('B')).toThrow(expect.objectContaining({ statusCode: 403 }));
    expect(() => caller.requireAdmin('A')).toThrow(expect.objectContaining({ statusCode: 403 }));
    expect(() => caller.requireAdmin('B')).not.toThrow();
  });
});

describe('errors', () => {
  it('when a repository refuses an action, then the API answers with the status of its kind and its stable code', () => {
    const four = toApiError(new ActionRefusedError('forbidden', 'FOUR_EYES_REQUIRED', 'no'))!;
    expect(four.statusCode).toBe(403);
    expect(four.body()).toMatchObject({
      error: 'FOUR_EYES_REQUIRED',
      code: 'PEMS_SYNC_API_FOUR_EYES_REQUIRED',
      message: 'no',
    });
    expect(toApiError(new ActionRefusedError('state', 'CONFLICT_NOT_OPEN', 'x'))!.statusCode).toBe(409);
    expect(toApiError(new ActionRefusedError('invalid', 'VALIDATION_FAILED', 'x'))!.statusCode).toBe(400);
    expect(toApiError(new ActionRefusedError('not_found', 'NOT_FOUND', 'x'))!.statusCode).toBe(404);
    expect(toApiError(new TypeError('bug'))).toBeUndefined();
  });
});

describe('webhookMessage', () => {
  it('when a dead letter or an outage is announced, then Slack-compatible text and blocks without record values', () => {
    const m = webhookMessage({
      id: '1',
      organizationId: 'RIO',
      kind: 'dead_letter',
      payload: { pfaId: 'PFA-1', errorCode: 'E', reason: 'bad', delta: { notes: 'secret' } },
      createdAt: '2026-01-01T00:00:00.000Z',
    });
    expect(m.text).toBe('pems-sync: new dead letter in RIO: PFA PFA-1 (E) — bad');
    expect(JSON.stringify(m)).not.toContain('secret');
    expect(m.blocks![0]).toEqual({ type: 'section', text: { type: 'mrkdwn', text: m.text } });
    expect(
      webhookMessage({ id: '2', organizationId: 'RIO', kind: 'pems_unreachable', payload: {}, createdAt: 'x' }).text,
    ).toBe('pems-sync: PEMS is unreachable for RIO');
  });
});

describe('headersFromStored', () => {
  it('when headers were stored as text, base64 or lists, then the bytes come back', () => {
    const h = headersFromStored({ a: 'text', b: { base64: Buffer.from([0, 1]).toString('base64') }, c: ['x', 'y'] });
    expect(h.a!.toString()).toBe('text');
    expect([...h.b!]).toEqual([0, 1]);
    expect(h.c!.toString()).toBe('y');
    expect(headersFromStored(null)).toEqual({});
  });
});

describe('buildOpenApi', () => {
  it('when routes are recorded, then paths use {param}, parameters come from the schemas, and public routes need no token', () => {
    const doc = buildOpenApi([
      {
        method: 'POST',
        url: '/things/:id/do',
        public: false,
        schema: {
          params: { properties: { id: { type: 'string' } } },
          querystring: { properties: { q: { type: 'string', description: 'd' } }, required: ['q'] },
          body: { type: 'object' },
        },
      },
      { method: 'GET', url: '/openapi.json', public: true },
    ]) as { paths: Record<string, Record<string, any>> };
    const op = doc.paths['/things/{id}/do']!.post;
    expect(op.parameters).toEqual([
      { name: 'id', in: 'path', required: true, schema: { type: 'string' } },
      { name: 'q', in: 'query', required: true, description: 'd', schema: { type: 'string' } },
    ]);
    expect(op.requestBody.content['application/json'].schema).toEqual({ type: 'object' });
    expect(op.responses['404']).toBeDefined();
    expect(doc.paths['/openapi.json']!.get.security).toEqual([]);
  });
});
