/**
 * Regression (issue 11, the full sigkill scenario: 5 orphan_write findings): a sink killed after
 * PEMS applied its write and before the outcome was recorded; meanwhile users made more edits of
 * the same PFA. The restarted sink fetched the old edits and the new one together, but cut them
 * into writes differently: the killed instance's write-ahead intent (edits 1+2) matched none of
 * the new writes exactly ([1], then [2, 3]), so it was not resumed; each write was checked against
 * PEMS afresh. Edit 1's value had been overwritten by edit 2 inside that write, so edit 1 came
 * out a conflict (though PEMS had applied it), and edits 2+3 were written again: the version
 * the first write produced was recorded by nobody (and the same happened when an intent covered
 * only the first part of a folded write: it was replayed, then the whole write sent again).
 *
 * Fix (connectors/sink/resume.ts): the edits an intent carried are recorded at the version PEMS
 * answers for it; the rest of the write goes on as a write of its own.
 *
 * The window is placed exactly: what the killed instance left (its claim, its intent, its write
 * applied in PEMS) is made by the test, then the new edit is committed and the sink started.
 */
import { InProcessRateLimiter, PemsClient, idempotencyKeyFor, parseCredentialKeys } from '../../connectors/pems';
import { reconcileOrganization } from '../../connectors/reconcile';
import { createWorld, TEST_CREDENTIAL_KEYS, writesApplied, type World } from '../support/world';
import { testEnv } from '../support/env';
import { cdcEnd, waitForCdcEvents } from '../support/cdc';

describe('regression: a resumed write-ahead intent meets new edits of the same PFA', () => {
  let world: World;
  let client: PemsClient;

  beforeAll(async () => {
    world = await createWorld({ records: 2 });
    client = new PemsClient({
      baseUrl: world.sim.url,
      apiKey: world.apiKey,
      tenant: 'TEST',
      organization: world.org,
      ca: world.sim.cert,
      retry: { retries: 0 },
      rateLimiter: new InProcessRateLimiter({ credentialId: world.org, limit: 100 }),
    });
  });

  afterAll(async () => {
    await client.close();
    await world.close();
  });

  it('when a killed instance applied edits 1+2 in one write and edit 3 came after, then 1 and 2 are recorded at the version that write produced and 3 at the next, each applied once', async () => {
    const rec = world.records[0]!;
    const cdcFrom = await cdcEnd();
    // The killed instance: edits 1 and 2 (the second overwrites the first's field) claimed by an
    // instance that is gone, folded into one write, its intent stored, the write applied by PEMS.
    const e1 = await world.commit({ pfaId: rec.pfaId, delta: { notes: 'edit one' }, baseVersion: rec.version });
    const e2 = await world.commit({
      pfaId: rec.pfaId,
      delta: { notes: 'edit two', description: 'two' },
      baseVersion: rec.version,
    });
    await world
      .db('pfa_modification')
      .whereIn('id', [e1, e2])
      .update({ sync_status: 'syncing', claimed_by: 'killed-instance' });
    const item = {
      pfaId: rec.pfaId,
      changes: { notes: 'edit two', description: 'two' },
      version: rec.version,
      modifiedBy: world.user,
      changeReason: 'test edit',
      idempotencyKey: idempotencyKeyFor([e1, e2]),
    };
    await world.db('pems_write_intent').insert({
      idempotency_key: item.idempotencyKey,
      organization_id: world.org,
      pfa_id: rec.pfaId,
      modification_ids: [e1, e2],
      item: JSON.stringify(item),
    });
    const [applied] = await client.batchUpdate([item]);
    expect(applied!.status).toBe('updated');
    const written = applied!.newVersion!;
    // A user edits the same PFA meanwhile (on the mirror's version: the read side has not seen the write yet).
    const e3 = await world.commit({ pfaId: rec.pfaId, delta: { monthlyRate: 4321 } });
    // Three change events (the three commits; claims are not captured, Debezium skips their
    // deletes): the restarted sink fetches them together, as a restart with a backlog does.
    await waitForCdcEvents(cdcFrom, 3);

    await world.startSink();
    const rows = await world.waitForOutcome([e1, e2, e3]);
    expect(rows.map((r) => [r.sync_status, r.pems_version_after])).toEqual([
      ['synced', written],
      ['synced', written],
      ['synced', written + 1],
    ]);
    expect(writesApplied(world, rec.pfaId)).toBe(2); // edits 1+2 once, edit 3 once

    const log = world.sim.control.writeLog();
    const writes = log.writes.filter((w) => w.pfaId === rec.pfaId);
    expect(writes.map((w) => w.version)).toEqual([written, written + 1]);
    expect(writes[1]!.changes).toEqual({ monthlyRate: 4321 }); // edits 1 and 2 are not sent a second time
    const pems = world.sim.control.getRecord(rec.pfaId)!;
    expect([pems.notes, pems.description, pems.monthlyRate]).toEqual(['edit two', 'two', 4321]);
    expect(await world.db('pems_write_intent').where({ pfa_id: rec.pfaId, organization_id: world.org })).toHaveLength(
      0,
    );
    expect(await world.db('sync_conflict').whereIn('modification_id', [e1, e2, e3])).toHaveLength(0);

    // Reconcile with the simulator's write log: every applied write is a recorded outcome.
    const run = await reconcileOrganization({
      db: world.db,
      organization: world.org,
      keyRing: parseCredentialKeys(TEST_CREDENTIAL_KEYS),
      graceMs: 0,
      ca: world.sim.cert,
      redis: testEnv.redisUrl,
      writeLog: log,
    });
    expect(run.findings.filter((f) => f.pfaId === rec.pfaId)).toEqual([]);
  });
});
