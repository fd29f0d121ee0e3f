/**
 * The check room's and the recorder's lookups, on the real database (issue 16: they are written
 * as per-row index lookups so that their plans do not depend on statistics or history size):
 * a PFA's own earlier writes (loadOwnWrites) and the write-intent index without a pending list
 * (migration 014).
 */
import { loadOwnWrites } from '../../../connectors/postgres/sink-store';
import type { Modification } from '../../../streams/modification';
import { pfaKey } from '../../../streams/grouping';
import { createWorld, type World } from '../../support/world';

describe('sink lookups', () => {
  let world: World;

  beforeAll(async () => {
    world = await createWorld({ records: 3 });
  });

  afterAll(async () => {
    await world.close();
  });

  /** A modification row already past its claim (not captured: the publication takes committed only). */
  async function recorded(pfaId: string, status: string, versionAfter: number, notes: string): Promise<void> {
    await world.db('pfa_modification').insert({
      organization_id: world.org,
      pfa_id: pfaId,
      user_id: world.user,
      delta: JSON.stringify({ notes }),
      base_version: versionAfter - 1,
      sync_status: status,
      pems_version_after: versionAfter,
      committed_at: new Date(),
      synced_at: status === 'synced' ? new Date() : null,
    });
  }

  const edit = (pfaId: string, baseVersion: number): Modification =>
    ({ id: '00000000-0000-4000-8000-000000000000', organizationId: world.org, pfaId, baseVersion }) as Modification;

  it('when a PFA has synced writes past the oldest base version, then exactly those come back in version order, per PFA', async () => {
    const [a, b, c] = world.records.map((r) => r.pfaId) as [string, string, string];
    await recorded(a, 'synced', 105, 'a5');
    await recorded(a, 'synced', 103, 'a3');
    await recorded(a, 'failed', 106, 'a6 failed');
    await recorded(a, 'synced', 101, 'a1 before the base');
    await recorded(b, 'synced', 104, 'b4 at the base');

    const own = await loadOwnWrites(world.db, [edit(a, 104), edit(a, 102), edit(b, 104), edit(c, 1)]);

    // The oldest base of a's edits (102) counts; failed writes and those at or before it do not.
    expect(own.get(pfaKey(world.org, a))).toEqual([
      { version: 103, delta: { notes: 'a3' } },
      { version: 105, delta: { notes: 'a5' } },
    ]);
    expect(own.has(pfaKey(world.org, b))).toBe(false);
    expect(own.has(pfaKey(world.org, c))).toBe(false);
  });

  it('when the schema is migrated, then the write-intent index takes inserts directly (no pending list to scan on every lookup)', async () => {
    const { rows } = await world.db.raw(
      `SELECT reloptions FROM pg_class WHERE relname = 'pems_write_intent_modifications'`,
    );
    expect(rows[0].reloptions).toEqual(['fastupdate=off']);
  });
});
