/**
 * Regression (found by the fault suite, tests/faults/sigkill.test.ts): a sink killed after PEMS
 * applied its write but before the outcome was recorded; a PEMS user then changed the same field;
 * the restarted sink compared the edit with PEMS, saw the field moved and recorded a conflict
 * with no attempt. The change had been applied once, but was recorded as not applied, and
 * reconcile reported the PEMS version as a write with no modification behind it.
 *
 * Fix: write-ahead intents (schemas/migrations/007_write_intent.ts, connectors/sink/write.ts).
 * A modification claimed from 'syncing' first re-sends the exact item a stopped instance stored;
 * PEMS replays the first outcome through its idempotency key.
 */
import { InProcessRateLimiter, PemsClient, idempotencyKeyFor } from '../../connectors/pems';
import { createWorld, writesApplied, type World } from '../support/world';

describe('regression: a write applied by a killed sink is recorded as applied', () => {
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

  /** What the killed instance left: the claim, the intent and (if sent) the write in PEMS. */
  async function leftBehind(
    pfaId: string,
    version: number,
    sent: boolean,
  ): Promise<{ id: string; newVersion: number | null }> {
    const id = await world.commit({ pfaId, delta: { notes: 'ours' }, baseVersion: version });
    await world.db('pfa_modification').where({ id }).update({ sync_status: 'syncing' });
    const item = {
      pfaId,
      changes: { notes: 'ours' },
      version,
      modifiedBy: world.user,
      changeReason: 'test edit',
      idempotencyKey: idempotencyKeyFor([id]),
    };
    await world.db('pems_write_intent').insert({
      idempotency_key: item.idempotencyKey,
      organization_id: world.org,
      pfa_id: pfaId,
      modification_ids: [id],
      item: JSON.stringify(item),
    });
    if (!sent) return { id, newVersion: null };
    const [r] = await client.batchUpdate([item]);
    expect(r!.status).toBe('updated');
    return { id, newVersion: r!.newVersion! };
  }

  it('when PEMS applied the write and a PEMS user changed the field after it, then the restarted sink records it synced at the version it produced, not a conflict', async () => {
    const rec = world.records[0]!;
    const { id, newVersion } = await leftBehind(rec.pfaId, rec.version, true);
    world.sim.control.editAsPemsUser(rec.pfaId, { notes: 'PEMS later' });

    await world.startSink();
    const [row] = await world.waitForOutcome([id]);
    expect(row!.sync_status).toBe('synced');
    expect(row!.pems_version_after).toBe(newVersion);
    expect(await world.db('sync_conflict').where({ modification_id: id })).toHaveLength(0);
    expect(writesApplied(world, rec.pfaId)).toBe(1); // our write, once; the PEMS user's edit is not counted as ours
    expect(world.sim.control.getRecord(rec.pfaId)!.notes).toBe('PEMS later');
    expect(world.sim.control.stats().idempotentReplays).toBeGreaterThanOrEqual(1);
    expect(await world.db('pems_write_intent').whereRaw('? = ANY(modification_ids)', [id])).toHaveLength(0);
  });

  it('when the stopped instance never sent its write, then the restarted sink sends it once', async () => {
    const rec = world.records[1]!;
    const { id } = await leftBehind(rec.pfaId, rec.version, false);
    const [row] = await world.waitForOutcome([id]);
    expect(row!.sync_status).toBe('synced');
    expect(writesApplied(world, rec.pfaId)).toBe(1);
    expect(world.sim.control.getRecord(rec.pfaId)!.notes).toBe('ours');
  });
});
