/**
 * Regression (issue 13, item 4): ten slow readers of /audit/export held all ten pooled
 * connections and their REPEATABLE READ transactions; every route hung while /healthz said 200.
 * Now exports are bounded per caller and overall (429 EXPORT_BUSY), a reader that stops reading
 * is cut off after the idle timeout (connection back in the pool), the rest of the API keeps a
 * connection, and /readyz is 503 while the pool is saturated.
 */
import http from 'node:http';
import { call, createOrg, harness, token, type Harness, type TestOrg } from '../integration/control-api/harness';

const N = 20_000; // ~1 KiB each: far more than loopback socket buffers hold, so a paused reader blocks the stream

interface SlowReader {
  status: number;
  body: Record<string, unknown> | null;
  destroy(): void;
}

/** Starts an export and never reads its body (the response is paused). */
function slowReader(h: Harness, bearer: string, org: string): Promise<SlowReader> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      `${h.url}/audit/export?organization=${org}&format=ndjson`,
      { headers: { authorization: `Bearer ${bearer}` }, agent: false },
      (res) => {
        res.on('error', () => undefined);
        if (res.statusCode !== 200) {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(text), destroy: () => req.destroy() }),
          );
          return;
        }
        res.pause();
        resolve({ status: 200, body: null, destroy: () => req.destroy() });
      },
    );
    req.on('error', (e) =>
      String(e).includes('aborted') || String(e).includes('socket hang up') ? undefined : reject(e),
    );
  });
}

const openExportTransactions = async (h: Harness): Promise<number> => {
  const r = await h.db.raw(
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'control-api-test' AND query ILIKE 'FETCH % FROM audit_export'",
  );
  return (r.rows[0] as { n: number }).n;
};

describe('regression: slow audit exports cannot take the control API down', () => {
  let h: Harness;
  let org: TestOrg;
  const readers: string[] = [];

  beforeAll(async () => {
    h = await harness({
      config: { controlApi: { exportMaxConcurrent: 2, exportMaxPerCaller: 1, exportIdleTimeoutMs: 3000 } },
    });
    org = await createOrg(h.db, 'SLOWEXP');
    for (let i = 0; i < 10; i++) readers.push(`${org.id}-r${i}`);
    await h.db('app_user').insert(readers.map((u) => ({ id: u, username: u.toLowerCase() })));
    await h
      .db('user_organization')
      .insert(readers.map((u) => ({ user_id: u, organization_id: org.id, perm_read: true })));
    for (let from = 1; from <= N; from += 1000) {
      await h.db.raw(
        `INSERT INTO audit_log (organization_id, pfa_id, actor, event_type, details, prev_hash, hash)
         SELECT ?, 'PFA-' || (g % 50), 'system:test', 'test.row', jsonb_build_object('i', g, 'pad', repeat('x', 1000)), '', ''
         FROM generate_series(?::int, ?::int) g`,
        [org.id, from, Math.min(N, from + 999)],
      );
    }
  }, 120_000);
  afterAll(async () => {
    await h.close();
  });

  it('when ten users start exports and never read, then two run, eight get 429, other routes answer, and the idle ones are cut off and their connections returned', async () => {
    const started: SlowReader[] = [];
    for (const u of readers) started.push(await slowReader(h, await token(u), org.id));
    expect(started.map((r) => r.status)).toEqual([200, 200, 429, 429, 429, 429, 429, 429, 429, 429]);
    expect(started[2]!.body).toMatchObject({ error: 'EXPORT_BUSY', scope: 'all', limit: 2 });
    // The same user a second time: per-caller bound.
    const again = await slowReader(h, await token(readers[0]!), org.id);
    expect(again.status).toBe(429);
    expect(again.body).toMatchObject({ error: 'EXPORT_BUSY', scope: 'caller', limit: 1 });

    // Meanwhile the rest of the API is served and ready.
    const t0 = Date.now();
    expect((await call(h, org.reader, 'GET', `/audit?organization=${org.id}&limit=1`)).statusCode).toBe(200);
    expect((await call(h, org.reader, 'GET', '/dead-letters')).statusCode).toBe(200);
    expect(Date.now() - t0).toBeLessThan(2500);
    const ready = await call(h, null, 'GET', '/readyz');
    expect(ready.statusCode).toBe(200);
    expect(ready.json().checks.exports).toEqual({ active: 2, max: 2 });

    // The idle timeout (3 s) ends both held exports on the server: cursors and transactions closed,
    // connections back in the pool, the server's sockets to them closed. (The paused clients
    // notice only when they read again: a FIN waits behind the data they never took.)
    const connections = (): Promise<number> =>
      new Promise((r, j) => h.app.server.getConnections((e, n) => (e ? j(e) : r(n))));
    const held = await connections();
    const activeExports = async (): Promise<number> =>
      (await call(h, null, 'GET', '/readyz')).json().checks.exports.active as number;
    for (let i = 0; i < 100 && ((await openExportTransactions(h)) > 0 || (await activeExports()) > 0); i++)
      await new Promise((r) => setTimeout(r, 100));
    expect(await openExportTransactions(h)).toBe(0);
    expect(await activeExports()).toBe(0);
    expect(await connections()).toBeLessThanOrEqual(held - 2);

    // Nothing lost: a reader that reads gets every entry.
    const full = await call(h, readers[5]!, 'GET', `/audit/export?organization=${org.id}&format=ndjson`);
    expect(full.statusCode).toBe(200);
    expect(full.body.trimEnd().split('\n')).toHaveLength(N);
    for (const r of [...started, again]) r.destroy();
  }, 120_000);

  it('when every pooled connection is busy, then /readyz is 503 naming the pool; when they are back, 200', async () => {
    const conns: unknown[] = [];
    for (let i = 0; i < h.config.database.poolMax; i++) conns.push(await h.db.client.acquireConnection());
    try {
      const busy = await call(h, null, 'GET', '/readyz');
      expect(busy.statusCode).toBe(503);
      expect(busy.json().checks.pool).toMatchObject({
        saturated: true,
        used: h.config.database.poolMax,
        max: h.config.database.poolMax,
      });
      expect((await call(h, null, 'GET', '/healthz')).statusCode).toBe(200);
    } finally {
      for (const c of conns) await h.db.client.releaseConnection(c);
    }
    expect((await call(h, null, 'GET', '/readyz')).statusCode).toBe(200);
  });
});
