import http from 'node:http';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { Knex } from 'knex';
import { appendAudit } from '../../../connectors/postgres/audit';
import { call, createOrg, harness, token, type Harness, type TestOrg } from './harness';

/** A strict RFC 4180 parser, to check the export round-trips. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
        continue;
      }
      if (c === '"') quoted = false;
      else field += c;
      i += 1;
      continue;
    }
    if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i += 1;
    } else field += c;
    i += 1;
  }
  if (field !== '' || row.length > 0) throw new Error('CSV does not end with CRLF');
  return rows;
}

/**
 * A full GC without starting node with --expose-gc: live heap, not garbage the collector has not
 * reached yet, is what "flat memory" is about.
 */
function collectGarbage(): void {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
}

/** Runs `fn` with the append-only trigger off, in one transaction: other sessions never see it off. */
async function withoutAppendOnly(db: Knex, fn: (tx: Knex.Transaction) => Promise<void>): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.raw('ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only');
    await fn(tx);
    await tx.raw('ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only');
  });
}

describe('control API: audit trail', () => {
  let h: Harness;
  let org: TestOrg;
  let other: TestOrg;

  beforeAll(async () => {
    h = await harness();
    org = await createOrg(h.db, 'AUD');
    other = await createOrg(h.db, 'AUDX');
    await appendAudit(h.db, [
      { organizationId: org.id, pfaId: 'PFA-1', actor: org.syncer, eventType: 'sync.write', details: { n: 1 } },
      {
        organizationId: org.id,
        pfaId: 'PFA-1',
        actor: 'system:pems-sync-sink',
        eventType: 'sync.outcome',
        details: { n: 2 },
        pemsResponse: { status: 200, newVersion: 8 },
      },
      {
        organizationId: org.id,
        pfaId: 'PFA-2',
        actor: org.admin1,
        eventType: 'conflict.resolved',
        details: { note: 'comma, "quote"\nnew line', n: 3 },
      },
      { organizationId: org.id, actor: org.admin2, eventType: 'rollback.approved', details: { n: 4, ünï: 'çødé' } },
    ]);
    await appendAudit(h.db, {
      organizationId: other.id,
      pfaId: 'PFA-1',
      actor: other.admin1,
      eventType: 'sync.write',
      details: { secret: 'other org' },
    });
  });
  afterAll(async () => {
    await h.close();
  });

  it("when queried by PFA, actor, event type and time, then only matching entries of the caller's organizations, keyset-paged", async () => {
    const byPfa = await call(h, org.reader, 'GET', `/audit?organization=${org.id}&pfaId=PFA-1&order=asc`);
    expect(byPfa.statusCode).toBe(200);
    expect(byPfa.json().items.map((e: { eventType: string }) => e.eventType)).toEqual(['sync.write', 'sync.outcome']);
    expect(byPfa.json().items[1]).toMatchObject({
      pemsResponse: { status: 200, newVersion: 8 },
      actor: 'system:pems-sync-sink',
    });
    expect(byPfa.json().items[0].createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);

    const byActor = await call(h, org.reader, 'GET', `/audit?organization=${org.id}&actor=${org.admin1}`);
    expect(byActor.json().items.map((e: { eventType: string }) => e.eventType)).toEqual(['conflict.resolved']);
    const byType = await call(h, org.reader, 'GET', `/audit?eventType=rollback.approved`);
    expect(byType.json().items.map((e: { actor: string }) => e.actor)).toEqual([org.admin2]);
    const future = await call(h, org.reader, 'GET', `/audit?organization=${org.id}&from=2999-01-01T00:00:00Z`);
    expect(future.json().items).toEqual([]);
    const past = await call(h, org.reader, 'GET', `/audit?organization=${org.id}&to=2000-01-01T00:00:00Z`);
    expect(past.json().items).toEqual([]);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Awaited<ReturnType<typeof call>> = await call(
        h,
        org.reader,
        'GET',
        `/audit?organization=${org.id}&limit=3${cursor ? `&cursor=${cursor}` : ''}`,
      );
      seen.push(...page.json().items.map((e: { id: string }) => e.id));
      cursor = page.json().nextCursor;
    } while (cursor);
    expect(seen).toHaveLength(4);
    expect(new Set(seen).size).toBe(4);
    expect(seen).toEqual([...seen].sort((a, b) => Number(b) - Number(a)));

    const mine = await call(h, org.reader, 'GET', '/audit?pfaId=PFA-1');
    expect(mine.body).not.toContain('other org');
    expect((await call(h, org.reader, 'GET', `/audit?organization=${other.id}`)).statusCode).toBe(404);
    expect((await call(h, org.reader, 'GET', `/audit/verify?organization=${other.id}`)).statusCode).toBe(404);
    expect((await call(h, org.reader, 'GET', `/audit?cursor=bm90LWEtY3Vyc29y`)).statusCode).toBe(400);
  });

  it('when exported as CSV and NDJSON, then every entry comes out, escaped, with the fields exactly as hashed', async () => {
    const csv = await call(h, org.reader, 'GET', `/audit/export?organization=${org.id}&format=csv`);
    expect(csv.statusCode).toBe(200);
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    const rows = parseCsv(csv.body);
    expect(rows[0]).toEqual([
      'id',
      'createdAt',
      'organizationId',
      'pfaId',
      'modificationId',
      'actor',
      'eventType',
      'details',
      'pemsResponse',
      'prevHash',
      'hash',
    ]);
    expect(rows).toHaveLength(5);
    const resolved = rows.find((r) => r[6] === 'conflict.resolved')!;
    expect(JSON.parse(resolved[7]!)).toEqual({ note: 'comma, "quote"\nnew line', n: 3 });
    const stored = await h.db('audit_log').where({ id: resolved[0] }).first();
    expect(resolved[10]).toBe(stored.hash);

    const nd = await call(
      h,
      org.reader,
      'GET',
      `/audit/export?organization=${org.id}&format=ndjson&eventType=rollback.approved`,
    );
    expect(nd.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    const lines = nd.body
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      eventType: 'rollback.approved',
      details: { n: 4, ünï: 'çødé' },
      actor: org.admin2,
    });
  });

  it('when the chain is intact it verifies; when a row is tampered with, then verify names the first broken entry', async () => {
    const t = await createOrg(h.db, 'TAMPER');
    await appendAudit(
      h.db,
      [1, 2, 3, 4, 5].map((n) => ({
        organizationId: t.id,
        pfaId: `PFA-${n}`,
        actor: t.syncer,
        eventType: 'sync.write',
        details: { n },
        pemsResponse: n % 2 ? { ok: true } : undefined,
      })),
    );
    const ok = await call(h, t.reader, 'GET', `/audit/verify?organization=${t.id}`);
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({
      organizationId: t.id,
      entries: 5,
      ok: true,
      firstBroken: null,
      headMatches: true,
      keyed: { signedEntries: 5, firstBroken: null, headValid: true },
    });

    // The table refuses updates; a tamperer with DDL rights turns the guard off for one statement.
    await expect(h.db('audit_log').where({ organization_id: t.id }).update({ actor: 'x' })).rejects.toThrow(
      /append-only/,
    );
    const rows = await h.db('audit_log').where({ organization_id: t.id }).orderBy('id');
    await withoutAppendOnly(h.db, async (tx) => {
      await tx('audit_log')
        .where({ id: rows[2].id })
        .update({ details: JSON.stringify({ n: 300 }) });
      await tx('audit_log').where({ id: rows[4].id }).update({ actor: 'someone-else' });
    });
    const broken = await call(h, t.reader, 'GET', `/audit/verify?organization=${t.id}`);
    expect(broken.json()).toMatchObject({
      ok: false,
      entries: 5,
      firstBroken: { id: String(rows[2].id), problem: 'hash_mismatch', storedHash: rows[2].hash },
    });

    // A deleted entry breaks the link of the one after it.
    const d = await createOrg(h.db, 'DELETED');
    await appendAudit(
      h.db,
      [1, 2, 3].map((n) => ({ organizationId: d.id, actor: d.syncer, eventType: 'sync.write', details: { n } })),
    );
    const drows = await h.db('audit_log').where({ organization_id: d.id }).orderBy('id');
    await withoutAppendOnly(h.db, async (tx) => {
      await tx('audit_log').where({ id: drows[1].id }).delete();
    });
    const gap = await call(h, d.reader, 'GET', `/audit/verify?organization=${d.id}`);
    expect(gap.json()).toMatchObject({
      ok: false,
      firstBroken: { id: String(drows[2].id), problem: 'prev_hash_mismatch', expectedPrevHash: drows[0].hash },
    });
  });

  it('when 100,000 entries are exported, then they stream from a cursor with flat memory and all arrive', async () => {
    const big = await createOrg(h.db, 'BIGEXP');
    const N = 100_000;
    // In statements of 1000: the chain trigger updates one head row per insert, and within one
    // statement those updates pile up dead versions of that row (each insert walks them).
    for (let from = 1; from <= N; from += 1000) {
      await h.db.raw(
        `INSERT INTO audit_log (organization_id, pfa_id, actor, event_type, details, prev_hash, hash)
         SELECT ?, 'PFA-' || (g % 500), 'system:bench', 'bench.row', jsonb_build_object('i', g, 'pad', repeat('x', 400), 'tricky', 'a,b "c"' || chr(10) || 'd'), '', ''
         FROM generate_series(?::int, ?::int) g`,
        [big.id, from, Math.min(N, from + 999)],
      );
    }
    const tokenFor = await token(big.reader);
    for (const format of ['ndjson', 'csv'] as const) {
      collectGarbage();
      const baseline = process.memoryUsage().heapUsed;
      let peak = baseline;
      let lines = 0;
      let bytes = 0;
      let chunks = 0;
      let tail = '';
      await new Promise<void>((resolve, reject) => {
        http
          .get(
            `${h.url}/audit/export?organization=${big.id}&format=${format}`,
            { headers: { authorization: `Bearer ${tokenFor}` } },
            (res) => {
              expect(res.statusCode).toBe(200);
              res.setEncoding('utf8');
              res.on('data', (chunk: string) => {
                chunks += 1;
                bytes += chunk.length;
                // Count record ends without keeping the text (CSV: CRLF outside quotes; the
                // payload's newline is quoted LF only).
                const text = tail + chunk;
                const sep = format === 'csv' ? '\r\n' : '\n';
                const parts = text.split(sep);
                tail = parts.pop()!;
                lines += parts.length;
                if (chunks % 100 === 0) {
                  collectGarbage();
                  peak = Math.max(peak, process.memoryUsage().heapUsed);
                }
              });
              res.on('end', resolve);
              res.on('error', reject);
            },
          )
          .on('error', reject);
      });
      peak = Math.max(peak, process.memoryUsage().heapUsed);
      expect(tail).toBe('');
      expect(lines).toBe(format === 'csv' ? N + 1 : N);
      expect(bytes).toBeGreaterThan(N * 400);
      expect(chunks).toBeGreaterThan(100);
      if (process.env.SHOW_EXPORT_HEAP) console.log(format, { chunks, bytes, peakMb: (peak - baseline) / 1048576 });
      expect(peak - baseline).toBeLessThan(100 * 1024 * 1024);
    }
    // The cursor's connection went back to the pool: the API still answers.
    expect((await call(h, big.reader, 'GET', `/audit?organization=${big.id}&limit=1`)).json().items).toHaveLength(1);
    const verified = await call(h, big.reader, 'GET', `/audit/verify?organization=${big.id}`);
    expect(verified.json()).toMatchObject({ ok: true, entries: N });
    await withoutAppendOnly(h.db, async (tx) => {
      await tx('audit_log').where({ organization_id: big.id }).delete();
      await tx('audit_chain_head').where({ organization_id: big.id }).delete();
    });
  }, 180_000);
});
