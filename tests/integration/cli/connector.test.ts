/**
 * `pems-sync connector restart --free-slot` doing the README's remedy for real: the Debezium task
 * is not RUNNING (paused here) while its backend still holds the replication slot; the command
 * terminates exactly that backend and restarts the connector, which then streams again.
 */
import { createDatabase } from '../../../connectors/postgres/db';
import { cli } from '../../support/cli';
import { testEnv } from '../../support/env';

jest.setTimeout(180_000);

const NAME = process.env.DEBEZIUM_CONNECTOR_NAME ?? 'pems-sync-pfa-modification';
const SLOT = 'pems_sync_pfa_modification';

describe('pems-sync connector restart --free-slot', () => {
  const db = createDatabase({ url: testEnv.databaseUrl, poolMax: 2 });
  const holder = async (): Promise<number | null> => {
    const { rows } = await db.raw('SELECT active_pid FROM pg_replication_slots WHERE slot_name = ?', [SLOT]);
    return rows[0]?.active_pid ?? null;
  };
  const put = (path: string): Promise<Response> =>
    fetch(`${testEnv.connectUrl}/connectors/${NAME}/${path}`, { method: 'PUT' });

  afterAll(async () => {
    // Whatever happened above, leave the connector running for the suites after this one.
    await put('resume');
    for (const t0 = Date.now(); Date.now() - t0 < 60_000; await new Promise((r) => setTimeout(r, 500))) {
      if ((await cli(['connector', 'status'], {})).code === 0) break;
    }
    await db.destroy();
  });

  it('when the task is paused but still holds the slot, then --free-slot terminates that backend, restarts, and the connector streams again', async () => {
    const before = await holder();
    expect(before).not.toBeNull();
    expect((await put('pause')).status).toBe(202);
    for (const t0 = Date.now(); ; await new Promise((r) => setTimeout(r, 300))) {
      const s = (await (await fetch(`${testEnv.connectUrl}/connectors/${NAME}/status`)).json()) as {
        tasks: Array<{ state: string }>;
      };
      if (s.tasks.every((t) => t.state === 'PAUSED')) break;
      if (Date.now() - t0 > 30_000) throw new Error('the task did not pause');
    }
    const status = await cli(['connector', 'status'], {});
    expect(status.code).toBe(1);
    const pid = await holder();
    if (pid === null) throw new Error('the paused task released the slot: nothing to free in this set-up');
    const r = await cli(['connector', 'restart', '--free-slot', '--json'], {});
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ restarted: true, freedSlotHolder: { pid } });
    const { rows } = await db.raw('SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = ?', [pid]);
    expect(rows[0].n).toBe(0);
    expect((await put('resume')).status).toBe(202);
    let after: number | null;
    for (const t0 = Date.now(); ; await new Promise((r2) => setTimeout(r2, 500))) {
      after = await holder();
      if ((await cli(['connector', 'status'], {})).code === 0 && after !== null && after !== pid) break;
      if (Date.now() - t0 > 90_000) throw new Error(`the connector did not come back (slot holder ${after})`);
    }
    expect(after).not.toBe(pid);
  });
});
