/**
 * Issue 16: recording a flush of outcomes (connectors/postgres/sink-record.ts) read every waiting
 * modification when many were waiting, as the claim did (sink-claim-backlog-lookup.test.ts). Two
 * statements, each planned with statistics taken while few edits waited:
 *  - the status update, `FROM jsonb_to_recordset(...) x WHERE m.id = x.id AND m.sync_status =
 *    ANY(claimable)`, hashed every row of the partial index pfa_modification_waiting;
 *  - the release of answered write intents, `NOT EXISTS (... JOIN pfa_modification m ON m.id =
 *    carried.id WHERE m.sync_status = ANY(claimable))`, hashed them again.
 * A 10,000 backlog on a fresh database measured 19 and 39 ms per flush of about 70 outcomes
 * (pg_stat_statements), growing with the backlog. Both must look each modification up by its key.
 *
 * Here 8,000 modifications are analyzed while settled, then made waiting ('queued', not captured),
 * and 400 of them, each with its write intent, get an outcome in one flush inside a transaction
 * (rolled back); the backend's counts not yet reported tell how many entries of the waiting index
 * the flush read.
 */
import { recordOutcomes } from '../../connectors/postgres/sink-record';
import { CLAIMABLE } from '../../connectors/sink/claims';
import type { Modification } from '../../streams/modification';
import type { RecordEntry } from '../../streams/record-entries';
import { settleBacklog, waitingBacklog, waitingIndexEntriesRead } from '../support/waiting-backlog';
import { createWorld, type World } from '../support/world';

const WAITING = 8_000;
const RECORDED = 400;

describe('regression: recording outcomes during a large backlog looks modifications up by key', () => {
  let world: World;

  beforeAll(async () => {
    world = await createWorld({ records: 1 });
  });

  afterAll(async () => {
    await settleBacklog(world);
    await world.close();
  });

  it('when 8,000 modifications wait and the statistics say few do, then recording 400 outcomes reads none of the others', async () => {
    const { pfaId, ids } = await waitingBacklog(world, { waiting: WAITING, pick: RECORDED });

    const trx = await world.db.transaction();
    try {
      await trx.raw(
        `INSERT INTO pems_write_intent (idempotency_key, organization_id, pfa_id, modification_ids, item)
         SELECT 'regression-' || k.id, ?, ?, ARRAY[k.id], '{}'::jsonb FROM unnest(?::uuid[]) AS k(id)`,
        [world.org, pfaId, ids],
      );
      const entries: RecordEntry[] = ids.map((id, i) => ({
        kind: 'outcome',
        outcome: { kind: 'superseded', supersededBy: null },
        modifications: [
          {
            modification: modification(id, world, pfaId),
            source: {
              position: { topic: 'regression', partition: 0, offset: String(i) },
              key: null,
              value: null,
              headers: {},
            },
          },
        ],
        attempts: [],
        mirrorRecord: null,
        traceId: null,
      }));
      const before = await waitingIndexEntriesRead(trx);
      const outbox = await recordOutcomes(trx, entries, {
        now: new Date(),
        topics: { results: 'regression-results', deadLetters: 'regression-dlq' },
        connectorName: 'regression',
        claimable: CLAIMABLE,
      });
      const read = (await waitingIndexEntriesRead(trx)) - before;
      expect(outbox).toHaveLength(RECORDED);
      const left = await trx('pems_write_intent').where('idempotency_key', 'like', 'regression-%').count('* as n');
      expect(Number(left[0]!.n)).toBe(0); // every answered intent released
      const statuses = await trx('pfa_modification').whereIn('id', ids).distinct('sync_status');
      expect(statuses).toEqual([{ sync_status: 'superseded' }]);
      // Key lookups read no entry of the waiting index; the hash joins read every one, twice.
      expect(read).toBeLessThan(RECORDED);
    } finally {
      await trx.rollback();
    }
  }, 120_000);
});

function modification(id: string, world: World, pfaId: string): Modification {
  return {
    id,
    organizationId: world.org,
    pfaId,
    userId: world.user,
    operation: 'update',
    delta: { notes: 'backlog' },
    baseVersion: 1,
    changeReason: null,
    syncStatus: 'queued',
    syncError: null,
    pemsVersionAfter: null,
    attempts: 0,
    committedAt: null,
    syncedAt: null,
    createdAt: null,
    updatedAt: null,
    supersedesId: null,
  };
}
