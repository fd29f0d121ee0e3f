/**
 * `pems-sync token mint USER` as a process against real Postgres: it reads whether the user
 * exists and is active (connectors/postgres/organizations.userIsActive) before it signs.
 */
import { jwtVerify } from 'jose';
import { createDatabase } from '../../../connectors/postgres/db';
import { ensureUser } from '../../../connectors/postgres/organizations';
import { cli } from '../../support/cli';
import { testEnv, uniqueId } from '../../support/env';

jest.setTimeout(120_000);

describe('pems-sync token mint (process, real Postgres)', () => {
  const db = createDatabase({ url: testEnv.databaseUrl, poolMax: 2 });
  const secret = `mint-${'s'.repeat(40)}`;
  const env = { PEMS_SYNC_JWT_SECRET: secret, PEMS_SYNC_JWKS_URL: '' };
  const active = uniqueId('mint-active').toLowerCase();
  const inactive = uniqueId('mint-inactive').toLowerCase();

  beforeAll(async () => {
    await ensureUser(db, active);
    await ensureUser(db, inactive);
    await db('app_user').where({ id: inactive }).update({ is_active: false });
  });
  afterAll(async () => {
    await db('app_user').whereIn('id', [active, inactive]).delete();
    await db.destroy();
  });

  it('when the user is active, then it prints a token for that user; inactive is refused (6), unknown is not found (4)', async () => {
    const ok = await cli(['token', 'mint', active, '--ttl', '15m'], env);
    expect(ok.code).toBe(0);
    const { payload } = await jwtVerify(ok.stdout.trim(), new TextEncoder().encode(secret), { algorithms: ['HS256'] });
    expect(payload.sub).toBe(active);

    const off = await cli(['token', 'mint', inactive], env);
    expect(off.code).toBe(6);
    expect(off.stderr).toContain(`user ${inactive} is inactive`);
    expect(off.stdout).toBe('');

    const missing = `${active}-nobody`;
    const none = await cli(['token', 'mint', missing], env);
    expect(none.code).toBe(4);
    expect(none.stderr).toContain(`user ${missing} does not exist`);
    expect(none.stdout).toBe('');
  });
});
