/**
 * `npm run bench:console`: the console's pages against a large database — by default the
 * issue's volumes: 100,000 modifications, 10,000 open conflicts and 1,000,000 audit entries
 * in one organization — reporting each page's server time (Fastify's reply.elapsedTime) p50 /
 * p95 over BENCH_REQUESTS sequential requests after a warm-up. A benchmark: it asserts nothing.
 *
 * Besides: 1,000 dead letters, 1,000 pending rollback requests, a notification for each of the
 * editor's 1,000 conflicts and three PEMS versions of each of the 5,000 PFAs, so that every screen is measured:
 * status, my edits, conflicts (queue and detail), dead letters (groups and detail), record
 * timeline, rollback (request and decision pages, list), audit, notifications, search, sign-in.
 *
 *   BENCH_MODIFICATIONS=100000 BENCH_CONFLICTS=10000 BENCH_AUDIT=1000000 BENCH_REQUESTS=40
 *   BENCH_OUT=reports/console-bench.json
 *   BENCH_ORG=BENCHC…  reuse the organization an earlier run seeded (seeding takes minutes on a
 *                      shared machine): its modifications are moved forward to span the last hour again
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { mintToken } from '../../connectors/cli/users';
import { buildControlApi } from '../../connectors/control-api/server';
import type { Knex } from 'knex';
import { createDatabase } from '../../connectors/postgres/db';
import { requestRollback } from '../../connectors/postgres/rollbacks';
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
  const reuse = process.env.BENCH_ORG;
  const run = reuse ? reuse.replace(/^BENCHC/, '') : Date.now().toString(36).toUpperCase();
  const org = `BENCHC${run}`;
  const editor = `bench-editor-${run.toLowerCase()}`;
  const admin = `bench-admin-${run.toLowerCase()}`;
  const db = createDatabase({ url: process.env.DATABASE_URL!, poolMax: 10, applicationName: 'console-bench' });
  if (reuse) {
    if (!(await db('organization').where({ id: org }).first('id')))
      throw new Error(`BENCH_ORG ${org}: no such organization (seed one with a run without BENCH_ORG)`);
    // The last hour of the status screen: move the seeded edits forward so they span it again.
    const [{ newest }] = (
      await db.raw(`SELECT max(updated_at) AS newest FROM pfa_modification WHERE organization_id = ?`, [org])
    ).rows;
    await db.raw(
      `UPDATE pfa_modification SET committed_at = committed_at + (now() - ?::timestamptz), synced_at = synced_at + (now() - ?::timestamptz),
              created_at = created_at + (now() - ?::timestamptz), updated_at = updated_at + (now() - ?::timestamptz)
        WHERE organization_id = ?`,
      [newest, newest, newest, newest, org],
    );
    console.log(`reusing ${org}: its edits moved forward to end now`);
  } else await seed(db, org, editor, admin);
  await seedScreens(db, org, editor, admin);
  await db.raw(
    'ANALYZE pfa_modification; ANALYZE sync_conflict; ANALYZE audit_log; ANALYZE dead_letter; ANALYZE notification; ANALYZE rollback_request; ANALYZE pfa_mirror_history',
  );
  await measure(db, org, editor);
}

async function seed(db: Knex, org: string, editor: string, admin: string): Promise<void> {
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
  console.log(
    `seeded ${MODS} modifications in ${((tMods - t0) / 1000).toFixed(1)} s, ${CONFLICTS} conflicts in ${((tConf - tMods) / 1000).toFixed(1)} s, ${AUDIT} audit entries in ${((tAudit - tConf) / 1000).toFixed(1)} s`,
  );
}

/** What the other screens show (idempotent: an organization seeded by an earlier run gets it once). */
async function seedScreens(db: Knex, org: string, editor: string, admin: string): Promise<void> {
  if (await db('pfa_mirror').where({ organization_id: org }).first('pfa_id')) return;
  const t0 = Date.now();
  await db.raw(
    `INSERT INTO pfa_mirror_history (organization_id, pfa_id, version, data, changed_by, pems_updated_at, origin)
     SELECT ?, 'PFA-' || p, v, jsonb_build_object('pfaId', 'PFA-' || p, 'version', v, 'notes', 'plan ' || v, 'quantity', v), 'planner', now() - (4 - v) * interval '1 day', 'pems'
       FROM generate_series(0, 4999) p, generate_series(1, 3) v`,
    [org],
  );
  await db.raw(
    `INSERT INTO pfa_mirror (organization_id, pfa_id, version, data, pems_updated_at)
     SELECT organization_id, pfa_id, version, data, pems_updated_at FROM pfa_mirror_history WHERE organization_id = ? AND version = 3`,
    [org],
  );
  // Dead letters of the sink's causes, each of an edit whose PEMS attempts are audited.
  await db.raw(
    `INSERT INTO dead_letter (organization_id, pfa_id, modification_id, source_topic, source_partition, source_offset, record_value, record_headers, reason, error_code, error, created_at)
     SELECT m.organization_id, m.pfa_id, m.id, 'pems-sync.modifications', 0, row_number() OVER (), convert_to(jsonb_build_object('id', m.id, 'pfaId', m.pfa_id, 'delta', m.delta)::text, 'UTF8'),
            jsonb_build_object('pems-sync-organization', m.organization_id), 'PEMS answered 503 four times',
            CASE WHEN row_number() OVER () % 3 = 0 THEN 'PEMS_SYNC_PEMS_UNAUTHORIZED' ELSE 'PEMS_SYNC_RETRIES_EXHAUSTED' END, '{}'::jsonb, m.updated_at
       FROM pfa_modification m WHERE m.organization_id = ? AND m.sync_status = 'failed' LIMIT 1000`,
    [org],
  );
  await db.raw(
    `INSERT INTO audit_log (organization_id, pfa_id, modification_id, actor, event_type, details, pems_response)
     SELECT d.organization_id, d.pfa_id, d.modification_id, 'system:sink', 'sync.write', jsonb_build_object('attempt', a, 'version', 3, 'result', 'transient'), '{"status":503}'::jsonb
       FROM dead_letter d, generate_series(1, 4) a WHERE d.organization_id = ?`,
    [org],
  );
  const first = await requestRollback(db, {
    organizationId: org,
    pfaId: 'PFA-7',
    targetVersion: 1,
    reason: 'bench',
    requestedBy: admin,
  });
  await db.raw(
    `INSERT INTO rollback_request (organization_id, pfa_id, target_version, from_version, preview, reason, requested_by, status)
     SELECT organization_id, 'PFA-' || g, target_version, from_version, preview, reason, requested_by, status FROM rollback_request, generate_series(1000, 1998) g WHERE id = ?`,
    [first.id],
  );
  await db.raw(
    `INSERT INTO notification (organization_id, user_id, kind, payload, read_at, created_at)
     SELECT m.organization_id, ?, 'conflict', jsonb_build_object('modificationId', m.id, 'pfaId', m.pfa_id, 'fields', jsonb_build_array('notes')),
            CASE WHEN row_number() OVER () % 4 = 0 THEN NULL ELSE now() END, m.created_at
       FROM pfa_modification m WHERE m.organization_id = ? AND m.user_id = ? AND m.sync_status = 'conflict' LIMIT 10000`,
    [editor, org, editor],
  );
  console.log(
    `seeded the other screens (versions, dead letters, rollbacks, notifications) in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );
}

async function measure(db: Knex, org: string, editor: string): Promise<void> {
  const config = loadConfig(process.env, {
    controlApi: { jwtSecret: SECRET },
    log: { level: 'silent' },
    console: { secureCookies: false },
  });
  const app = buildControlApi({ db, config, logger: false });
  const times = new Map<string, number[]>();
  let current = '';
  app.addHook('onResponse', async (_req, reply) => {
    if (current) times.get(current)!.push(reply.elapsedTime);
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const cookieOf = async (user: string): Promise<string> => {
    const token = await mintToken(SECRET, user, 3600, {
      issuer: config.controlApi.jwtIssuer,
      audience: config.controlApi.jwtAudience,
    });
    const page = await fetch(`${url}/console/sign-in`);
    const pre = page.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1]!;
    const res = await fetch(`${url}/console/sign-in`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: pre, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: csrf, token }).toString(),
    });
    return res.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
  };
  const editorCookie = await cookieOf(editor);
  const conflict = await db('sync_conflict').where({ organization_id: org }).orderBy('created_at', 'desc').first('id');
  const mod = await db('pfa_modification').where({ organization_id: org }).first('id');
  const deadLetter = await db('dead_letter').where({ organization_id: org }).orderBy('created_at', 'desc').first('id');
  const rollback = await db('rollback_request').where({ organization_id: org, pfa_id: 'PFA-7' }).first('id');
  const pages: Array<[string, string]> = [
    ['sign-in', '/console/sign-in'],
    ['status', `/console/status?organization=${org}`],
    ['status, all organizations', '/console/status'],
    ['my edits', '/console/my-edits'],
    ['my edits, waiting', '/console/my-edits?stage=waiting'],
    ['conflict queue', `/console/conflicts?organization=${org}`],
    ['conflict queue by field', `/console/conflicts?organization=${org}&field=notes`],
    ['conflict detail', `/console/conflicts/${conflict.id}`],
    ['dead letters', `/console/dead-letters?organization=${org}`],
    ['dead letters by cause', `/console/dead-letters?organization=${org}&cause=PEMS_SYNC_RETRIES_EXHAUSTED`],
    ['dead letter detail', `/console/dead-letters/${deadLetter.id}`],
    ['record timeline', `/console/records/${org}/PFA-7`],
    ['record timeline, versions', `/console/records/${org}/PFA-7?kind=version`],
    ['rollback request (pick ▶ differences)', `/console/records/${org}/PFA-7/rollback?version=1`],
    ['rollbacks', '/console/rollbacks'],
    ['rollback decision', `/console/rollbacks/${rollback.id}`],
    ['audit', `/console/audit?organization=${org}`],
    ['audit by PFA and actor', `/console/audit?organization=${org}&pfa=PFA-7&actor=${editor}`],
    ['search by PFA', '/console/search?q=PFA-7'],
    ['search by modification id', `/console/search?q=${mod.id}`],
    ['notifications', '/console/notifications'],
    ['notifications, unread', '/console/notifications?unread=1'],
  ];
  const results: Array<{
    page: string;
    path: string;
    p50Ms: number;
    p95Ms: number;
    maxMs: number;
    coldMs: number;
    requests: number;
  }> = [];
  for (const [name, path] of pages) {
    // The sign-in page is measured signed out (signed in, it is the same page with a session read).
    const headers: Record<string, string> = name === 'sign-in' ? {} : { cookie: editorCookie };
    // The warm-up's first request is the page's cold time in this process (the status screen
    // reads its whole last hour then, and only the newest minutes after).
    times.set(name, []);
    current = name;
    for (let i = 0; i < 3; i++) await (await fetch(`${url}${path}`, { headers, redirect: 'manual' })).text();
    const coldMs = times.get(name)![0]!;
    times.set(name, []);
    current = name;
    for (let i = 0; i < REQUESTS; i++) {
      const res = await fetch(`${url}${path}`, { headers, redirect: 'manual' });
      await res.text();
      if (res.status !== 200) throw new Error(`${path} answered ${res.status}`);
    }
    current = '';
    const t = times.get(name)!;
    results.push({
      page: name,
      path,
      p50Ms: pct(t, 0.5),
      p95Ms: pct(t, 0.95),
      maxMs: Math.max(...t),
      coldMs,
      requests: t.length,
    });
    console.log(
      `${name.padEnd(38)} p50 ${pct(t, 0.5).toFixed(1).padStart(7)} ms   p95 ${pct(t, 0.95).toFixed(1).padStart(7)} ms   first ${coldMs.toFixed(1).padStart(7)} ms`,
    );
  }
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(
    OUT,
    JSON.stringify(
      {
        at: new Date().toISOString(),
        modifications: MODS,
        openConflicts: CONFLICTS,
        auditEntries: AUDIT,
        requestsPerPage: REQUESTS,
        results,
      },
      null,
      2,
    ),
  );
  console.log(`written to ${OUT}`);
  await app.close();
  await db.destroy();
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
