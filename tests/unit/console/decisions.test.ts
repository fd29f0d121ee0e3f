/**
 * The console's pure decisions: freshness, the sinks' metric rates, the merge plan, custom values
 * and the replay preview.
 */
import { previewReplay } from '../../../streams/replay-preview';
import { freshnessOf, worstFreshness } from '../../../streams/freshness';
import { mergeRows, planResolution } from '../../../streams/merge-plan';
import { parseCustomValue } from '../../../streams/custom-value';
import { ratePerSecond, sumSamples } from '../../../streams/prometheus-text';

const now = new Date('2026-12-01T12:00:00Z');
const ago = (s: number): Date => new Date(now.getTime() - s * 1000);

describe('freshness', () => {
  const f = (oldest: Date | null, total = 1) =>
    freshnessOf({ oldestUnsyncedAt: oldest, totalEdits: total, now, targetSeconds: 60, stalledAfterSeconds: 600 });
  it('is "no edits yet" before any edit, never "on time"', () =>
    expect(f(null, 0)).toEqual({ state: 'no_edits', oldestAgeSeconds: null }));
  it('is on time with nothing waiting or the oldest within the target', () => {
    expect(f(null).state).toBe('on_time');
    expect(f(ago(60)).state).toBe('on_time');
  });
  it('is late past the target and stalled past the stall limit', () => {
    expect(f(ago(61))).toEqual({ state: 'late', oldestAgeSeconds: 61 });
    expect(f(ago(601)).state).toBe('stalled');
  });
  it('overall is the worst organization', () => {
    expect(worstFreshness(['on_time', 'late', 'no_edits'])).toBe('late');
    expect(worstFreshness(['no_edits'])).toBe('no_edits');
    expect(worstFreshness(['on_time', 'stalled'])).toBe('stalled');
  });
});

describe('prometheus text', () => {
  const a = sumSamples(
    '# HELP x\npems_sync_pems_requests_total{endpoint="a",status="200"} 10\npems_sync_pems_requests_total{endpoint="b",status="429"} 5\nbad line\n',
  );
  const b = sumSamples(
    'pems_sync_pems_requests_total{endpoint="a",status="200"} 40\npems_sync_pems_requests_total{endpoint="b",status="429"} 5\n',
  );
  it('sums a metric over its label sets', () => expect(a.get('pems_sync_pems_requests_total')).toBe(15));
  it('counts a declared counter or histogram without samples as 0', () => {
    const d = sumSamples(
      '# HELP pems_sync_failures_total x\n# TYPE pems_sync_failures_total counter\n# TYPE pems_sync_pems_rate_limit_wait_seconds histogram\n',
    );
    expect(d.get('pems_sync_failures_total')).toBe(0);
    expect(d.get('pems_sync_pems_rate_limit_wait_seconds_count')).toBe(0);
    expect(d.get('pems_sync_other')).toBeUndefined();
  });
  it('gives a per-second rate between two scrapes, null on a reset or a missing scrape', () => {
    expect(ratePerSecond(a, b, 'pems_sync_pems_requests_total', 10)).toBe(3);
    expect(ratePerSecond(b, a, 'pems_sync_pems_requests_total', 10)).toBeNull();
    expect(ratePerSecond(undefined, a, 'pems_sync_pems_requests_total', 10)).toBeNull();
  });
});

describe('custom values', () => {
  it('reads each field with its wire type and names what is wrong', () => {
    expect(parseCustomValue('monthlyRate', '1250.50')).toEqual({ ok: true, value: 1250.5 });
    expect(parseCustomValue('monthlyRate', '12e3')).toEqual({
      ok: false,
      message: 'monthlyRate must be a number like 1250.50 (or empty for none)',
    });
    expect(parseCustomValue('forecastEnd', '2026-02-30')).toMatchObject({ ok: false });
    expect(parseCustomValue('forecastEnd', '')).toEqual({ ok: true, value: null });
    expect(parseCustomValue('isDiscontinued', 'true')).toEqual({ ok: true, value: true });
    expect(parseCustomValue('class', 'x')).toEqual({ ok: false, message: 'class is not a field a person may edit' });
  });
});

describe('merge plan', () => {
  const rows = mergeRows({
    fields: [{ field: 'notes', base: 'b', local: 'mine', pems: 'theirs' }],
    delta: { notes: 'mine', monthlyRate: 10 },
    baseRecord: { notes: 'b', monthlyRate: 5, description: 'old' },
    pemsRecord: { notes: 'theirs', monthlyRate: 5, description: 'new' },
  });
  it('labels the real conflict, what only you changed and what only PEMS changed', () => {
    expect(rows.map((r) => [r.field, r.kind])).toEqual([
      ['notes', 'conflict'],
      ['monthlyRate', 'only_you'],
      ['description', 'only_pems'],
    ]);
  });
  const pems = { notes: 'theirs', monthlyRate: 5, description: 'new', dor: 'BEO' };
  it('all Mine is use_local, all PEMS is use_pems, a custom value is a merge', () => {
    expect(
      planResolution(rows, { choices: { notes: 'mine' }, custom: {} }, pems, { notes: 'mine', monthlyRate: 10 })
        .resolution,
    ).toBe('use_local');
    expect(
      planResolution(rows, { choices: { notes: 'pems' }, custom: {} }, pems, { notes: 'mine', monthlyRate: 10 })
        .resolution,
    ).toBe('use_pems');
    const m = planResolution(rows, { choices: { notes: 'custom' }, custom: { notes: 'both' } }, pems, {
      notes: 'mine',
      monthlyRate: 10,
    });
    expect(m).toMatchObject({
      resolution: 'merge',
      values: { notes: 'both' },
      result: { notes: 'both', monthlyRate: 10, description: 'new' },
    });
  });
  it('refuses an undecided field and a value PEMS would refuse', () => {
    expect(planResolution(rows, { choices: {}, custom: {} }, pems, {}).errors).toEqual({
      notes: 'choose Mine, PEMS or Custom for notes',
    });
    const dorRows = mergeRows({
      fields: [{ field: 'dor', base: 'PROJECT', local: 'PROJECT', pems: 'BEO' }],
      delta: { dor: 'PROJECT' },
      baseRecord: null,
      pemsRecord: null,
    });
    expect(
      planResolution(dorRows, { choices: { dor: 'custom' }, custom: { dor: 'MOON' } }, pems, { dor: 'PROJECT' }).errors
        .dor,
    ).toMatch(/dor must be one of/);
  });
});

describe('replay preview', () => {
  it('says where a replay would conflict, from the base version and PEMS now', () => {
    expect(
      previewReplay({
        delta: { notes: 'm' },
        baseVersion: 3,
        baseRecord: { notes: 'b' },
        now: { version: 4, data: { notes: 'p' } },
      }),
    ).toEqual({ pemsVersion: 4, conflictsOn: ['notes'], unknown: [] });
    expect(
      previewReplay({
        delta: { notes: 'm' },
        baseVersion: 3,
        baseRecord: { notes: 'b' },
        now: { version: 4, data: { notes: 'b' } },
      }).conflictsOn,
    ).toEqual([]);
    expect(
      previewReplay({ delta: { notes: 'm' }, baseVersion: 3, baseRecord: null, now: { version: 3, data: {} } }),
    ).toEqual({ pemsVersion: 3, conflictsOn: [], unknown: [] });
    expect(
      previewReplay({ delta: { notes: 'm' }, baseVersion: 3, baseRecord: null, now: null }).pemsVersion,
    ).toBeNull();
  });
});
