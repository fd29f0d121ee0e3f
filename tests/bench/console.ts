/**
 * `npm run bench:console`: the console's pages against a large database — by default the
 * issue's volumes: 100,000 modifications, 10,000 open conflicts and 1,000,000 audit entries
 * in one organization — reporting each page's server time (Fastify's reply.elapsedTime) p50 /
 * p95 over BENCH_REQUESTS sequential requests after a warm-up. A benchmark: it asserts nothing.
 *
 *   BENCH_MODIFICATIONS=100000 BENCH_CONFLICTS=10000 BENCH_AUDIT=1000000 BENCH_REQUESTS=40
 *   BENCH_OUT=reports/console-bench.json
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { mintToken } from '../../connectors/cli/users';
import { buildControlApi } from '../../connectors/control-api/server';
import { createDatabase } from '../../connectors/postgres/db';
import { loadConfig } from '../../schemas/config';

const MODS = Number(process.env.BENCH_MODIFICATIONS ?? 100_000);
const CONFLICTS = Number(process.env.BENCH_CONFLICTS ?? 10_000);
const AUDIT = Number(process.env.BENCH_AUDIT ?? 1_000_000);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 40);
const OUT = process.env.BENCH_OUT ?? 'reports/console-bench.json';
const SECRET = 'console-bench-secret-0123456789abcdef0123';

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
};

async function main(): Promise<void> {
  const run = Date.now().toString(36).toUpperCase();
  const org = `BENCHC${run}`;
  const editor = `bench-editor-${run.toLowerCase()}`;
  const admin = `bench-admin-${run.toLowerCase()}`;
  const db = createDatabase({ url: process.env.DATABASE_URL!, poolMax: 10, applicationName: 'console-bench' });
  const t0 = Date.now();
  await db('organization').insert({ id: org, name: 'console benchmark', sync_enabled: false });
  await db('app_user').insert([editor, admin].map((id) => ({ id, username: id })));
  await db('user_organization').insert([
    { user_id: editor, organization_id: org, perm_read: true, perm_sync: true },
    { user_id: admin, organization_id: org, perm_read: true, perm_sync: true, is_admin: true },
  ]);
  // sync_enabled false: the CDC events these rows make are not the sink's work. Statuses: the
  // first CONFLICTS are conflicts, then failed, rejected, a few waiting, the rest synced.
  await db.raw(
    `INSERT INTO pfa_modification (organization_id, pfa_id, user_id, delta, base_version, sync_status, pems_version_after, attempts, committed_at, synced_at, created_at, updated_at)
     SELECT ?, 'PFA-' || (g % 5000), CASE WHEN g % 10 = 0 THEN ? ELSE ? END, jsonb_build_object('notes', 'bench ' || g), 1,
            CASE WHEN g <= ? THEN 'conflict' WHEN g % 50 = 1 THEN 'failed' WHEN g % 50 = 2 THEN 'rejected' WHEN g % 500 = 3 THEN 'committed' ELSE 'synced' END,
            CASE WHEN g > ? AND g % 50 > 2 THEN 2 END, 1,
            now() - (g % 3600) * interval '1 second', now() - (g % 3600) * interval '1 second' + interval '800 milliseconds',
            now() - (g % 3600) * interval '1 second', now() - (g % 3600) * interval '1 second'
       FROM generate_series(1, ?::int) g`,
    [org, editor, admin, CONFLICTS, CONFLICTS, MODS],
  );
  const tMods = Date.now();
  await db.raw(
    `INSERT INTO sync_conflict (organization_id, pfa_id, modification_id, base_version, pems_version, fields, auto_merge_fields, created_at)
     SELECT organization_id, pfa_id, id, 1, 2, jsonb_build_array(jsonb_build_object('field', 'notes', 'base', 'b', 'local', delta->>'notes', 'pems', 'p')), '[]'::jsonb, created_at
       FROM pfa_modification WHERE organization_id = ? AND sync_status = 'conflict'`,
    [org],
  );
  const tConf = Date.now();
  // The chain trigger updates the organization's chain head for every entry: within one
  // transaction those updates pile up versions of the same row, so slices stay small.
  const SLICE = 5000;
  for (let done = 0; done < AUDIT; done += SLICE) {
    const n = Math.min(SLICE, AUDIT - done);
    await db.raw(
      `INSERT INTO audit_log (organization_id, pfa_id, actor, event_type, details)
       SELECT ?, 'PFA-' || (g % 5000), CASE WHEN g % 10 = 0 THEN ? ELSE ? END, CASE WHEN g % 3 = 0 THEN 'sync.synced' ELSE 'sync.write' END, jsonb_build_object('n', g)
         FROM generate_series(?::int, ?::int) g`,
      [org, editor, admin, done + 1, done + n],
    );
  }
  const tAudit = Date.now();
  await db.raw('ANALYZE pfa_modification; ANALYZE sync_conflict; ANALYZE audit_log');
  console.log(`seeded ${MODS} modifications in ${((tMods - t0) / 1000).toFixed(1)} s, ${CONFLICTS} conflicts in ${((tConf - tMods) / 1000).toFixed(1)} s, ${AUDIT} audit entries in ${((tAudit - tConf) / 1000).toFixed(1)} s`);

  const config = loadConfig(process.env, { controlApi: { jwtSecret: SECRET }, log: { level: 'silent' }, console: { secureCookies: false } });
  const app = buildControlApi({ db, config, logger: false });
  const times = new Map<string, number[]>();
  let current = '';
  app.addHook('onResponse', async (_req, reply) => {
    if (current) times.get(current)!.push(reply.elapsedTime);
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const cookieOf = async (user: string): Promise<string> => {
    const token = await mintToken(SECRET, user, 3600, { issuer: config.controlApi.jwtIssuer, audience: config.controlApi.jwtAudience });
    const page = await fetch(`${url}/console/sign-in`);
    const pre = page.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1]!;
    const res = await fetch(`${url}/console/sign-in`, { method: 'POST', redirect: 'manual', headers: { cookie: pre, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ _csrf: csrf, token }).toString() });
    return res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  };
  const editorCookie = await cookieOf(editor);
  const conflict = await db('sync_conflict').where({ organization_id: org }).orderBy('created_at', 'desc').first('id');
  const mod = await db('pfa_modification').where({ organization_id: org }).first('id');
  const pages: Array<[string, string]> = [
    ['status', `/console/status?organization=${org}`],
    ['my edits', '/console/my-edits'],
    ['my edits, waiting', '/console/my-edits?stage=waiting'],
    ['conflict queue', `/console/conflicts?organization=${org}`],
    ['conflict queue by field', `/console/conflicts?organization=${org}&field=notes`],
    ['conflict detail', `/console/conflicts/${conflict.id}`],
    ['dead letters', `/console/dead-letters?organization=${org}`],
    ['record timeline', `/console/records/${org}/PFA-7`],
    ['rollbacks', '/console/rollbacks'],
    ['audit', `/console/audit?organization=${org}`],
    ['audit by PFA and actor', `/console/audit?organization=${org}&pfa=PFA-7&actor=${editor}`],
    ['search by PFA', '/console/search?q=PFA-7'],
    ['search by modification id', `/console/search?q=${mod.id}`],
    ['notifications', '/console/notifications'],
  ];
  const results: Array<{ page: string; path: string; p50Ms: number; p95Ms: number; maxMs: number; requests: number }> = [];
  for (const [name, path] of pages) {
    for (let i = 0; i < 3; i++) await (await fetch(`${url}${path}`, { headers: { cookie: editorCookie } })).text();
    times.set(name, []);
    current = name;
    for (let i = 0; i < REQUESTS; i++) {
      const res = await fetch(`${url}${path}`, { headers: { cookie: editorCookie } });
      await res.text();
      if (res.status !== 200) throw new Error(`${path} answered ${res.status}`);
    }
    current = '';
    const t = times.get(name)!;
    results.push({ page: name, path, p50Ms: pct(t, 0.5), p95Ms: pct(t, 0.95), maxMs: Math.max(...t), requests: t.length });
    console.log(`${name.padEnd(28)} p50 ${pct(t, 0.5).toFixed(1).padStart(7)} ms   p95 ${pct(t, 0.95).toFixed(1).padStart(7)} ms`);
  }
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, JSON.stringify({ at: new Date().toISOString(), modifications: MODS, openConflicts: CONFLICTS, auditEntries: AUDIT, requestsPerPage: REQUESTS, results }, null, 2));
  console.log(`written to ${OUT}`);
  await app.close();
  await db.destroy();
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack ?? err.message : err);
  process.exit(1);
});
