/**
 * The original plan of the decision record, as the benchmarks compare pems-sync with it.
 */
import {
  InProcessRateLimiter,
  PemsClient,
  decryptCredential,
  idempotencyKeyFor,
  parseCredentialKeys,
} from '../../connectors/pems';
import type { BenchOrg } from './setup';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The original plan (the decision record's first design): a worker polling the database queue every
 * 60 s, one PUT per record at 10/s. Resolves with the seconds it took to sync `count` modifications.
 */
export async function drainAsOriginalPlan(b: BenchOrg, count: number): Promise<number> {
  const keys = parseCredentialKeys(b.keys);
  const row = await b.db('organization').where({ id: b.org }).first();
  const client = new PemsClient({
    baseUrl: row.pems_base_url,
    apiKey: decryptCredential(row.pems_credential_encrypted, keys, b.org),
    tenant: 'B',
    organization: b.org,
    ca: b.sim.cert,
    retry: { retries: 0 },
    rateLimiter: new InProcessRateLimiter({ credentialId: b.org, limit: 10 }),
  });
  const started = Date.now();
  let done = 0;
  while (done < count) {
    await sleep(60_000); // the poll interval
    const queue = await b
      .db('pfa_modification')
      .where({ organization_id: b.org, sync_status: 'committed' })
      .orderBy('committed_at')
      .select('*');
    for (const m of queue) {
      const r = await client.updateRecord(
        m.pfa_id,
        { changes: m.delta, version: m.base_version, modifiedBy: m.user_id },
        { idempotencyKey: idempotencyKeyFor([m.id]) },
      );
      await b
        .db('pfa_modification')
        .where({ id: m.id })
        .update({ sync_status: 'synced', pems_version_after: r.newVersion, synced_at: new Date() });
      done += 1;
    }
  }
  await client.close();
  return (Date.now() - started) / 1000;
}
