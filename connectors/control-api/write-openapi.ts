/**
 * Writes the control API's OpenAPI document (what GET /openapi.json answers) to
 * schemas/openapi/control-api.json (`--write`) or stdout:
 *
 *   npm run openapi:control-api          # print
 *   npm run openapi:control-api -- --write
 *
 * Building the app needs a config but opens no connection (knex connects lazily).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../schemas/config';
import { createDatabase } from '../postgres/db';
import { buildControlApi } from './server';

async function main(): Promise<void> {
  const config = loadConfig(
    {},
    {
      database: { url: 'postgres://openapi@localhost/none' },
      controlApi: { jwtSecret: 'x'.repeat(32), jwtIssuer: 'openapi', jwtAudience: 'openapi' },
      audit: { keys: `openapi:${'A'.repeat(43)}=` },
    },
  );
  const db = createDatabase({ url: config.database.url });
  const app = buildControlApi({ db, config, logger: false });
  await app.ready();
  const res = await app.inject({ method: 'GET', url: '/openapi.json' });
  const out = `${JSON.stringify(res.json(), null, 2)}\n`;
  const file = join(__dirname, '..', '..', 'schemas', 'openapi', 'control-api.json');
  if (process.argv.includes('--write')) writeFileSync(file, out);
  else process.stdout.write(out);
  await app.close();
  await db.destroy();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
