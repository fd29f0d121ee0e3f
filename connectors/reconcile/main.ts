/**
 * `npm run reconcile -- --organization RIO [--report drift.json] [--grace-ms 300000] [--ca-file sim.pem]`
 *
 * Compares PEMS, the mirror and the modifications of one organization (see streams/reconcile.ts
 * for the rules) and prints a summary. Exit codes: 0 in agreement, 1 drift, 2 could not run.
 *
 * Settings come from the environment as for every other process (schemas/config.ts):
 * DATABASE_URL, PEMS_SYNC_CREDENTIAL_KEYS, REDIS_URL (the shared rate limit; without it this run
 * gets its own 10 req/s budget, so do not run it next to a busy sink without Redis),
 * PEMS_SYNC_PEMS_TIMEOUT_MS, PEMS_SYNC_PEMS_RATE_LIMIT, PEMS_SYNC_PEMS_CA_FILE,
 * PEMS_SYNC_PEMS_ALLOW_INSECURE_HTTP.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../schemas/config';
import { createDatabase } from '../postgres/db';
import { parseCredentialKeys, PemsClientPool } from '../pems';
import { formatSummary } from '../../streams/reconcile';
import { reconcileOrganization } from './index';

const USAGE = `usage: reconcile --organization ORG [--report FILE.json] [--grace-ms MS] [--ca-file PEM] [--page-size N] [--examples N] [--write-log FILE.json]
  --organization, -o  PEMS organization code (required)
  --report            write every finding and the summary as JSON to this file
  --grace-ms          committed modifications younger than this are in flight, not lost (default 300000)
  --ca-file           extra CA certificate (PEM) to trust for PEMS, e.g. the simulator's (default PEMS_SYNC_PEMS_CA_FILE)
  --page-size         records per GET /pfa page, 1..500 (default 500)
  --examples          findings of each kind printed (default 5)
  --write-log         PEMS's applied writes and replays as JSON {writes, replays} (the simulator's
                      GET /__control/writes): each applied write must be a recorded outcome
exit code: 0 in agreement, 1 drift, 2 error`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      organization: { type: 'string', short: 'o' },
      report: { type: 'string' },
      'grace-ms': { type: 'string' },
      'ca-file': { type: 'string' },
      'page-size': { type: 'string' },
      examples: { type: 'string' },
      'write-log': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (!values.organization) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const int = (name: string, raw: string | undefined, fallback: number): number => {
    if (raw === undefined) return fallback;
    if (!/^\d+$/.test(raw)) throw new Error(`--${name} must be a non-negative integer, got '${raw}'`);
    return Number(raw);
  };
  const graceMs = int('grace-ms', values['grace-ms'], 300_000);
  const pageSize = int('page-size', values['page-size'], 500);
  if (pageSize < 1 || pageSize > 500) throw new Error('--page-size must be 1..500');

  const config = loadConfig();
  const caFile = values['ca-file'] ?? config.pems.caFile;
  const clients = PemsClientPool.fromConfig(config, {
    keyRing: parseCredentialKeys(config.pems.credentialKeys),
    ca: caFile ? readFileSync(caFile) : undefined,
  });
  const db = createDatabase({ url: config.database.url, poolMax: 4, applicationName: 'pems-sync-reconcile' });
  try {
    const run = await reconcileOrganization({
      db,
      organization: values.organization,
      graceMs,
      pageSize,
      clients,
      writeLog: values['write-log'] ? readWriteLog(values['write-log']) : undefined,
    });
    process.stdout.write(
      `${formatSummary(run, { examples: int('examples', values.examples, 5), durationMs: run.durationMs, pemsRequests: run.pemsRequests })}\n`,
    );
    if (values.report) {
      writeFileSync(
        values.report,
        JSON.stringify(
          { summary: run.summary, durationMs: run.durationMs, pemsRequests: run.pemsRequests, findings: run.findings },
          null,
          2,
        ),
      );
      process.stdout.write(`report: ${values.report}\n`);
    }
    return run.summary.drift ? 1 : 0;
  } finally {
    await clients.close();
    await db.destroy();
  }
}

function readWriteLog(file: string): NonNullable<Parameters<typeof reconcileOrganization>[0]['writeLog']> {
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as { writes?: unknown; replays?: unknown };
  if (!Array.isArray(parsed.writes) || !Array.isArray(parsed.replays))
    throw new Error(`--write-log ${file}: expected a JSON object with arrays "writes" and "replays"`);
  return { writes: parsed.writes, replays: parsed.replays };
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    // Config errors name the key; nothing else of the config is printed (secrets).
    process.stderr.write(`reconcile failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  },
);
