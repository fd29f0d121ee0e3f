/**
 * Issue 16: the sink's claim of a batch of modifications (connectors/sink/claims.ts) read every
 * waiting modification when many were waiting. Written as `id = ANY(ids) AND sync_status IN
 * ('committed', 'queued')`, with statistics taken while few edits waited, the planner scanned the
 * partial index pfa_modification_waiting (every committed, queued and syncing modification) and
 * compared each row with every id: 150-260 ms per claim of 400 during a 10,000 backlog, growing
 * with the backlog. The claim must look each id up by its key whatever the statistics say.
 *
 * Here 8,000 modifications are analyzed while settled, then made waiting ('queued': claimable,
 * and not captured, so no change event reaches other tests), and 400 of them are claimed inside
 * one transaction; the backend's counts not yet reported (pg_stat_get_xact_tuples_returned of the
 * index) tell how many entries of the waiting index the claim read.
 */
import type { Knex } from 'knex';
import { Claims } from '../../connectors/sink/claims';
import { createLogger } from '../../connectors/observability';
import { settleBacklog, waitingBacklog, waitingIndexEntriesRead } from '../support/waiting-backlog';
import { createWorld, type World } from '../support/world';

const WAITING = 8_000;
const CLAIMED = 400;

describe('regression: a claim during a large backlog looks its ids up by key', () => {
  let world: World;

  beforeAll(async () => {
    world = await createWorld({ records: 1 });
  });

  afterAll(async () => {
    await settleBacklog(world);
    await world.close();
  });

  it('when 8,000 modifications wait and the statistics say few do, then claiming 400 reads none of the others', async () => {
    const { ids } = await waitingBacklog(world, { waiting: WAITING, pick: CLAIMED });

    const trx = await world.db.transaction();
    try {
      const before = await waitingIndexEntriesRead(trx);
      const claims = new Claims({ db: trx as unknown as Knex, leaseMs: 10_000, logger: createLogger('silent') });
      const result = await claims.claim(ids);
      const read = (await waitingIndexEntriesRead(trx)) - before;
      expect(result.claimed).toHaveLength(CLAIMED);
      expect(new Set(result.claimed.map((c) => c.prev))).toEqual(new Set(['queued']));
      // The key lookups read no entry of the waiting index; the scan read every one (8,000 and more).
      expect(read).toBeLessThan(CLAIMED);
    } finally {
      await trx.rollback();
    }
  }, 120_000);
});
