/**
 * The status screen's last hour (connectors/console/last-hour.ts) against real Postgres: minutes
 * that are over are read once and kept, the newest two minutes are read on every call, minutes
 * older than an hour drop out, and each organization's counts come with the overall minutes.
 */
import { LastHourRollup } from '../../../connectors/console/last-hour';
import { createOrg, harness, type Harness, type TestOrg } from '../control-api/harness';

describe('console: the last hour, kept minute by minute', () => {
  let h: Harness;
  let a: TestOrg;
  let b: TestOrg;

  beforeAll(async () => {
    h = await harness();
    a = await createOrg(h.db, 'CLHA');
    b = await createOrg(h.db, 'CLHB');
  });
  afterAll(async () => {
    await h?.close();
  });

  const MIN = 60_000;
  const outcome = async (org: TestOrg, status: string, at: Date, latencyS = 2): Promise<void> => {
    await h.db('pfa_modification').insert({
      organization_id: org.id,
      pfa_id: 'PFA-LH',
      user_id: org.syncer,
      base_version: 1,
      delta: JSON.stringify({ notes: 'n' }),
      sync_status: status,
      committed_at: new Date(at.getTime() - latencyS * 1000),
      synced_at: status === 'synced' ? at : null,
      created_at: at,
      updated_at: at,
    });
  };

  it('keeps minutes that are over, reads the newest ones each time, and counts per organization', async () => {
    const now = new Date(Math.floor(Date.now() / MIN) * MIN + 30_000);
    const minute = (ago: number): Date => new Date(Math.floor(now.getTime() / MIN) * MIN - ago * MIN);
    await outcome(a, 'synced', new Date(minute(10).getTime() + 5000), 2);
    await outcome(a, 'synced', new Date(minute(10).getTime() + 6000), 4);
    await outcome(b, 'rejected', new Date(minute(10).getTime() + 7000));
    await outcome(a, 'synced', new Date(minute(70).getTime() + 1000)); // older than the hour
    await outcome(a, 'failed', new Date(now.getTime() - 10_000)); // the current minute

    const rollup = new LastHourRollup(h.db);
    const first = await rollup.read([a.id, b.id], now);
    const m10 = first.overall.find((m) => m.minute.getTime() === minute(10).getTime());
    expect(m10).toMatchObject({ synced: 2, rejected: 1, failed: 0, p50: 3 });
    expect(first.overall.some((m) => m.minute.getTime() === minute(70).getTime())).toBe(false);
    expect(first.overall.find((m) => m.minute.getTime() === minute(0).getTime())).toMatchObject({ failed: 1 });
    expect(first.byOrg.filter((m) => m.organizationId === a.id).reduce((n, m) => n + m.synced, 0)).toBe(2);
    expect(first.byOrg.filter((m) => m.organizationId === b.id).reduce((n, m) => n + m.rejected, 0)).toBe(1);

    // A late row in a kept minute is not read again; one in the current minute is.
    await outcome(a, 'synced', new Date(minute(10).getTime() + 8000));
    await outcome(b, 'conflict', new Date(now.getTime() - 5_000));
    const second = await rollup.read([b.id, a.id], now);
    expect(second.overall.find((m) => m.minute.getTime() === minute(10).getTime())).toMatchObject({ synced: 2 });
    expect(second.overall.find((m) => m.minute.getTime() === minute(0).getTime())).toMatchObject({
      failed: 1,
      conflict: 1,
    });
    // A fresh rollup (another process) reads the whole hour and sees it.
    const fresh = await new LastHourRollup(h.db).read([a.id, b.id], now);
    expect(fresh.overall.find((m) => m.minute.getTime() === minute(10).getTime())).toMatchObject({ synced: 3 });

    // Two minutes on, the minute that was live is kept, and the hour moved: minute 10 is still in it.
    const later = new Date(now.getTime() + 2 * MIN);
    const third = await rollup.read([a.id, b.id], later);
    expect(third.overall.find((m) => m.minute.getTime() === minute(0).getTime())).toMatchObject({
      failed: 1,
      conflict: 1,
    });
    expect(third.overall.find((m) => m.minute.getTime() === minute(10).getTime())).toMatchObject({ synced: 2 });
    // An hour later everything seeded has left the window.
    expect((await rollup.read([a.id, b.id], new Date(now.getTime() + 61 * MIN))).overall).toEqual([]);
  });
});
