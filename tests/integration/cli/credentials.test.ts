/**
 * `pems-sync credentials rotate` against the real database: every credential ends under the newest
 * key, bound to its organization.
 */
import { randomBytes } from 'node:crypto';
import { createDatabase } from '../../../connectors/postgres/db';
import {
  decryptCredential,
  describeCredential,
  encryptCredential,
  encryptLegacyCredential,
  parseCredentialKeys,
} from '../../../connectors/pems/credentials';
import { cli } from '../../support/cli';
import { testEnv, uniqueId } from '../../support/env';

jest.setTimeout(60_000);

describe('pems-sync credentials rotate', () => {
  const db = createDatabase({ url: testEnv.databaseUrl, poolMax: 2 });
  const old = `r1:${randomBytes(32).toString('base64')}`;
  const newest = `r2:${randomBytes(32).toString('base64')}`;
  const id = (p: string): string => uniqueId(p).replace(/-/g, '').slice(0, 18);
  const orgs = { legacy: id('RL'), oldKey: id('RO'), current: id('RC'), broken: id('RB') };

  beforeAll(async () => {
    const oldRing = parseCredentialKeys(old);
    const newRing = parseCredentialKeys(newest);
    const other = parseCredentialKeys(`r1:${randomBytes(32).toString('base64')}`);
    await db('organization').insert([
      { id: orgs.legacy, name: 'legacy', pems_credential_encrypted: encryptLegacyCredential('key-legacy', oldRing) },
      {
        id: orgs.oldKey,
        name: 'old key',
        pems_credential_encrypted: encryptCredential('key-old', oldRing, orgs.oldKey),
      },
      {
        id: orgs.current,
        name: 'current',
        pems_credential_encrypted: encryptCredential('key-current', newRing, orgs.current),
      },
      // Same key id, different key: cannot be decrypted with what the ring holds.
      {
        id: orgs.broken,
        name: 'broken',
        pems_credential_encrypted: encryptCredential('key-broken', other, orgs.broken),
      },
    ]);
  });
  afterAll(async () => {
    await db('organization').whereIn('id', Object.values(orgs)).delete();
    await db.destroy();
  });

  it('when run with a dry run, then nothing changes', async () => {
    const before = await db('organization')
      .whereIn('id', Object.values(orgs))
      .orderBy('id')
      .select('pems_credential_encrypted');
    const r = await cli(['credentials', 'rotate', '--dry-run', '--json', '--organization', ...Object.values(orgs)], {
      PEMS_SYNC_CREDENTIAL_KEYS: `${newest},${old}`,
    });
    expect(JSON.parse(r.stdout).reencrypted).toEqual(expect.arrayContaining([orgs.legacy, orgs.oldKey]));
    expect(
      await db('organization').whereIn('id', Object.values(orgs)).orderBy('id').select('pems_credential_encrypted'),
    ).toEqual(before);
  });

  it('when rotated, then v1 and old-key credentials are v2 under the newest key, the broken one is named (exit 1), and the old key can go', async () => {
    const r = await cli(['credentials', 'rotate', '--json', '--organization', ...Object.values(orgs)], {
      PEMS_SYNC_CREDENTIAL_KEYS: `${newest},${old}`,
    });
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out.reencrypted).toEqual(expect.arrayContaining([orgs.legacy, orgs.oldKey]));
    expect(out.reencrypted).not.toContain(orgs.current);
    expect(out.alreadyCurrent).toContain(orgs.current);
    expect(out.failed).toEqual([expect.objectContaining({ organization: orgs.broken })]);
    const ring = parseCredentialKeys(newest); // the old key retired
    for (const [org, key] of [
      [orgs.legacy, 'key-legacy'],
      [orgs.oldKey, 'key-old'],
      [orgs.current, 'key-current'],
    ] as const) {
      const row = await db('organization').where({ id: org }).first();
      expect(describeCredential(row.pems_credential_encrypted)).toEqual({ version: 'v2', keyId: 'r2' });
      expect(decryptCredential(row.pems_credential_encrypted, ring, org).reveal()).toBe(key);
    }
    expect(r.stdout).not.toContain('key-legacy');
  });
});
