/**
 * Readiness of the control API: ready while a request would be served now. Not ready when the
 * connection pool has requests waiting (every connection busy: routes would hang) or the
 * database does not answer `SELECT 1` within a second. Liveness (/healthz) stays what it is.
 */
import { pingDatabase } from '../postgres/db';
import { poolState } from './export-slots';
import type { RouteContext } from './route-context';

const DB_CHECK_TIMEOUT_MS = 1000;

export async function readiness(
  ctx: Pick<RouteContext, 'db' | 'config' | 'exports'>,
): Promise<{ ready: boolean; checks: Record<string, unknown> }> {
  const pool = poolState(ctx.db, ctx.config.database.poolMax);
  const exports = { active: ctx.exports.active, max: ctx.exports.limits.maxTotal };
  if (pool && (pool.pending > 0 || pool.used >= pool.max)) {
    return { ready: false, checks: { database: 'not checked', pool: { ...pool, saturated: true }, exports } };
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      pingDatabase(ctx.db),
      new Promise(
        (_r, reject) =>
          (timer = setTimeout(() => reject(new Error(`no answer in ${DB_CHECK_TIMEOUT_MS} ms`)), DB_CHECK_TIMEOUT_MS)),
      ),
    ]);
  } catch (err) {
    return { ready: false, checks: { database: `unreachable: ${(err as Error).message}`, pool, exports } };
  } finally {
    clearTimeout(timer);
  }
  return { ready: true, checks: { database: 'ok', pool: pool ? { ...pool, saturated: false } : undefined, exports } };
}
