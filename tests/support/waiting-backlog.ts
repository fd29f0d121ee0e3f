/**
 * A large backlog the planner does not expect (issue 16's plan regressions): modifications
 * inserted settled, analyzed, then made waiting ('queued': claimable, and not captured, so no
 * change event reaches other tests). What a statement then reads of the partial index
 * pfa_modification_waiting tells whether it looked each modification up by its key or scanned
 * every waiting one.
 */
import type { Knex } from 'knex';
import type { World } from './world';

/**
 * Inserts `waiting` modifications of one PFA, analyzes them settled, then queues them; returns
 * `pick` of their ids, chosen at random.
 */
export async function waitingBacklog(
  world: World,
  opts: { waiting: number; pick: number },
): Promise<{ pfaId: string; ids: string[] }> {
  const pfaId = world.records[0]!.pfaId;
  await world.db.raw(
    `INSERT INTO pfa_modification (id, organization_id, pfa_id, user_id, operation, delta, base_version, sync_status, committed_at)
     SELECT gen_random_uuid(), ?, ?, ?, 'update', '{"notes": "backlog"}'::jsonb, 1, 'synced', now()
       FROM generate_series(1, ?)`,
    [world.org, pfaId, world.user, opts.waiting],
  );
  await world.db.raw('ANALYZE pfa_modification');
  await world
    .db('pfa_modification')
    .where({ organization_id: world.org, user_id: world.user, sync_status: 'synced' })
    .update({ sync_status: 'queued' });
  const ids = (
    (await world
      .db('pfa_modification')
      .where({ organization_id: world.org, sync_status: 'queued' })
      .orderByRaw('random()')
      .limit(opts.pick)
      .select('id')) as Array<{ id: string }>
  ).map((r) => r.id);
  return { pfaId, ids };
}

/**
 * Entries of pfa_modification_waiting this transaction's backend has read so far (counts not yet
 * reported, so inside a transaction a statement's share is the difference).
 */
export async function waitingIndexEntriesRead(trx: Knex.Transaction): Promise<number> {
  const r = await trx.raw(`SELECT pg_stat_get_xact_tuples_returned('pfa_modification_waiting'::regclass)::int AS n`);
  return (r.rows[0] as { n: number }).n;
}

/** Takes the backlog out of the waiting set (a delete would check each row's referencing modifications one by one). */
export async function settleBacklog(world: World): Promise<void> {
  await world
    .db('pfa_modification')
    .where({ organization_id: world.org, sync_status: 'queued' })
    .update({ sync_status: 'superseded' });
}
