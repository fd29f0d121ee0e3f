/**
 * The console's foundation and status screen over real HTTP (the control API listening on
 * port 0, real Postgres): sign-in with a token or a demo user, the session cookie and CSRF,
 * preferences, the status screen's states (no edits, on time, late, stalled, PEMS down, no
 * organization), global search, the live stream, and that the console stays out of the API's
 * OpenAPI document. Rows are written the way Vanguard (commit) and the sink (outcomes) write them.
 */
import { createServer, type Server } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { encryptCredential, parseCredentialKeys } from '../../../connectors/pems';
import { createOrg, harness, token, type Harness, type TestOrg } from '../control-api/harness';
import { ConsoleClient } from './client';

describe('console: sign-in, session, preferences, status and search', () => {
  let h: Harness;
  let org: TestOrg;
  let downPems: Server;
  let downUrl: string;

  beforeAll(async () => {
    // A PEMS whose /health answers 503: the organization's PEMS is down.
    downPems = createServer((_req, res) => {
      res.statusCode = 503;
      res.end('{"error":"UNAVAILABLE"}');
    });
    await new Promise<void>((r) => downPems.listen(0, '127.0.0.1', () => r()));
    downUrl = `http://127.0.0.1:${(downPems.address() as { port: number }).port}`;
    h = await harness({
      config: {
        console: {
          localSignInUsers: ['console-demo-user'],
          secureCookies: false,
          freshnessTargetSeconds: 60,
          stalledAfterSeconds: 600,
        },
        pems: { allowInsecureHttp: true, credentialKeys: `s1:${randomBytes(32).toString('base64')}` },
      },
    });
    org = await createOrg(h.db, 'CONS');
    await h
      .db('app_user')
      .insert({ id: 'console-demo-user', username: `console-demo-${org.id.toLowerCase()}` })
      .onConflict('id')
      .ignore();
    await h
      .db('user_organization')
      .insert({ user_id: 'console-demo-user', organization_id: org.id, perm_read: true })
      .onConflict(['user_id', 'organization_id'])
      .ignore();
  });
  afterAll(async () => {
    await h?.close();
    await new Promise((r) => downPems?.close(r));
  });

  it('sends a signed-out browser to sign-in, refuses a bad token and a missing CSRF token, and signs in with a good token into an HttpOnly SameSite=Strict session', async () => {
    const c = new ConsoleClient(h.url);
    const first = await c.get('/console/status');
    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toBe('/console/sign-in?return_to=%2Fconsole%2Fstatus');

    const page = await c.get('/console/sign-in');
    expect(page.status).toBe(200);
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("script-src-attr 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(page.body).toContain('<main id="main"');
    expect(page.body).toContain('role="status" aria-live="polite"');

    const noCsrf = await c.post('/console/sign-in', { token: await token(org.reader) });
    expect(noCsrf.status).toBe(403);
    expect(noCsrf.body).toContain('CSRF check failed');

    const bad = await c.signInWithToken(await token(org.reader, 'another-secret-that-is-long-enough-0123456789'));
    expect(bad.status).toBe(401);
    expect(bad.body).toContain('That token was refused: bearer token refused');

    const ok = await c.signInWithToken(await token(org.reader));
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/console/status');
    const setCookie = ok.headers.getSetCookie().find((x) => x.startsWith('pems_console_session='))!;
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    const cookie = c.cookies.get('pems_console_session')!;
    // Only the hash is stored: the table alone signs no one in.
    const rows = await h.db('console_session').where({ user_id: org.reader });
    expect(rows.map((r) => r.id_hash)).toContain(createHash('sha256').update(cookie).digest('hex'));
    expect(rows.map((r) => r.id_hash)).not.toContain(cookie);

    const status = await c.get('/console/status');
    expect(status.status).toBe(200);
    expect(status.body).toContain(`Signed in as <strong>${org.reader.toLowerCase()}</strong>`);
    expect(status.body).toContain('<nav aria-label="Main"');
    // Only screens that exist are in the navigation: every link answers with a page.
    const links = [...status.body.match(/<nav[\s\S]*?<\/nav>/)![0].matchAll(/href="([^"]+)"/g)].map((m) => m[1]!);
    expect(links).toEqual([
      '/console/status',
      '/console/my-edits',
      '/console/conflicts',
      '/console/dead-letters',
      '/console/rollbacks',
      '/console/audit',
      '/console/notifications',
    ]);
    for (const l of links) expect((await c.get(l)).status).toBe(200);

    // A POST without the session's CSRF token is refused, with one it works.
    const forged = await c.post('/console/preferences', { theme: 'dark', return_to: '/console/status' });
    expect(forged.status).toBe(403);
    expect(forged.body).toContain('CSRF token missing or wrong');
    const csrf = ConsoleClient.field(status.body, '_csrf');
    const pref = await c.post('/console/preferences', { _csrf: csrf, theme: 'dark', return_to: '/console/status' });
    expect(pref.status).toBe(303);
    const tz = await c.post('/console/preferences', { _csrf: csrf, tz: 'Asia/Tokyo', return_to: '/console/status' });
    expect(tz.status).toBe(303);
    const badTz = await c.post('/console/preferences', {
      _csrf: csrf,
      tz: 'Mars/Olympus',
      return_to: '/console/status',
    });
    expect(badTz.status).toBe(400);
    expect(badTz.body).toContain('time zone &#39;Mars/Olympus&#39; is not one this server knows');
    const themed = await c.get('/console/status');
    expect(themed.body).toContain('data-theme="dark"');
    expect(themed.body).toContain('Times in <span>Asia/Tokyo</span>');

    // Signing out deletes the session: the same cookie no longer signs in.
    const out = await c.post('/console/sign-out', { _csrf: csrf });
    expect(out.status).toBe(303);
    const replay = await fetch(`${h.url}/console/status`, {
      redirect: 'manual',
      headers: { cookie: `pems_console_session=${cookie}` },
    });
    expect(replay.status).toBe(303);
  });

  it('offers local sign-in only for the configured demo users, and never for others', async () => {
    const c = new ConsoleClient(h.url);
    const page = await c.get('/console/sign-in');
    expect(page.body).toContain('Demo users');
    expect(page.body).toContain('value="console-demo-user"');
    const csrf = ConsoleClient.field(page.body, '_csrf');
    const other = await c.post('/console/sign-in/local', { _csrf: csrf, user: org.admin1 });
    expect(other.status).toBe(403);
    expect(other.body).toContain('not one of the demo users');
    // Each sign-in page carries a fresh CSRF token (the refusal page too).
    const ok = await c.post('/console/sign-in/local', {
      _csrf: ConsoleClient.field(other.body, '_csrf'),
      user: 'console-demo-user',
    });
    expect(ok.status).toBe(303);
    expect((await c.get('/console/status')).status).toBe(200);

    // Without the config key there is no local sign-in at all.
    const plain = await harness();
    try {
      const p = new ConsoleClient(plain.url);
      const sp = await p.get('/console/sign-in');
      expect(sp.body).not.toContain('Demo users');
      const refused = await p.post('/console/sign-in/local', {
        _csrf: ConsoleClient.field(sp.body, '_csrf'),
        user: 'console-demo-user',
      });
      expect(refused.status).toBe(403);
      expect(refused.body).toContain('Local sign-in is not enabled');
    } finally {
      await plain.close();
    }
  });

  it('computes freshness from real rows: no edits yet, on time, late, stalled; PEMS down shows the banner with the queued count and oldest age', async () => {
    const o = await createOrg(h.db, 'CSTA');
    const c = new ConsoleClient(h.url);
    await c.signInWithToken(await token(o.syncer));
    const empty = await c.get(`/console/status?organization=${o.id}`);
    expect(empty.body).toContain('No edits yet');
    expect(empty.body).not.toContain('On time');
    expect(empty.body).toContain('No outcome in the last hour.');

    const now = Date.now();
    await h.db('pfa_modification').insert({
      organization_id: o.id,
      pfa_id: 'PFA-S1',
      user_id: o.syncer,
      delta: JSON.stringify({ notes: 'a' }),
      base_version: 1,
      sync_status: 'synced',
      pems_version_after: 2,
      committed_at: new Date(now - 5000),
      synced_at: new Date(now - 3000),
    });
    const onTime = await c.get(`/console/status?organization=${o.id}`);
    expect(onTime.body).toContain('On time');
    expect(onTime.body).toContain('Every committed edit has an outcome.');
    expect(onTime.body).toMatch(/<td>1<\/td><td>0<\/td><td>0<\/td><td>0<\/td>/);

    await h.db('pfa_modification').insert({
      organization_id: o.id,
      pfa_id: 'PFA-S2',
      user_id: o.syncer,
      delta: JSON.stringify({ notes: 'b' }),
      base_version: 1,
      sync_status: 'committed',
      committed_at: new Date(now - 5 * 60_000),
    });
    const late = await c.get(`/console/status?organization=${o.id}`);
    expect(late.body).toContain('>Late<');
    expect(late.body).toContain('The oldest edit not yet in PEMS is 5 min old (target 1 min).');
    expect(late.body).toContain('5 min behind');

    await h
      .db('pfa_modification')
      .where({ organization_id: o.id, pfa_id: 'PFA-S2' })
      .update({ committed_at: new Date(now - 20 * 60_000) });
    const stalled = await c.get(`/console/status?organization=${o.id}`);
    expect(stalled.body).toContain('>Stalled<');

    // A configured organization (URL and a credential bound to it) whose PEMS answers 503: down, not misconfigured.
    const ring = parseCredentialKeys(h.config.pems.credentialKeys);
    await h
      .db('organization')
      .where({ id: o.id })
      .update({ pems_base_url: downUrl, pems_credential_encrypted: encryptCredential('k', ring, o.id) });
    const down = await c.get(`/console/status?organization=${o.id}`);
    expect(down.body).toContain('data-banner="pems-down"');
    expect(down.body).toMatch(
      new RegExp(`${o.id}: PEMS unreachable since \\d\\d:\\d\\d: 1 edit is safe and queued, the oldest is 20 min old.`),
    );
    expect(down.body).toContain('HTTP 503');
    // No sink metrics URL configured: the sink's rates are unknown, and the page says why.
    expect(down.body).toContain('no sink metrics URL configured (console.sinkMetricsUrls)');

    // Another organization's status is not disclosed (the API's 404).
    const foreign = await c.get(`/console/status?organization=${org.id}`);
    expect(foreign.status).toBe(404);
  });

  it("finds edits by PFA id and by modification id within the viewer's organizations only, and shows hostile text literally", async () => {
    const o = await createOrg(h.db, 'CSRC');
    const hostile = `<script>alert(1)</script><img src=x onerror=alert(2)> hx-get="/x"`;
    const [row] = await h.db('pfa_modification').insert(
      {
        organization_id: o.id,
        pfa_id: 'PFA-Q1',
        user_id: o.syncer,
        delta: JSON.stringify({ notes: hostile }),
        base_version: 3,
        sync_status: 'rejected',
        committed_at: new Date(),
        sync_error: JSON.stringify({
          code: 'VALIDATION_FAILED',
          message: 'no',
          fieldErrors: [{ field: 'notes', message: hostile }],
        }),
      },
      ['id'],
    );
    const c = new ConsoleClient(h.url);
    await c.signInWithToken(await token(o.reader));
    const byPfa = await c.get('/console/search?q=PFA-Q1');
    expect(byPfa.status).toBe(200);
    expect(byPfa.body).toContain(`id="edit-${row.id}"`);
    expect(byPfa.body).toContain('rejected');
    expect(byPfa.body).not.toContain('<script>alert(1)');
    expect(byPfa.body).not.toContain('<img src=x');
    expect(byPfa.body).toContain('&lt;script>alert(1)&lt;/script>');
    const byId = await c.get(`/console/search?q=${row.id}`);
    expect(byId.body).toContain(`id="edit-${row.id}"`);
    const nothing = await c.get(`/console/search?q=${encodeURIComponent(hostile)}`);
    expect(nothing.body).toContain('Nothing matches');
    expect(nothing.body).not.toContain('<script>alert(1)');

    const outsider = new ConsoleClient(h.url);
    await outsider.signInWithToken(await token(org.reader));
    expect((await outsider.get('/console/search?q=PFA-Q1')).body).toContain('Nothing matches');
  });

  it('streams the status fragment over server-sent events and keeps the console out of the OpenAPI document', async () => {
    const c = new ConsoleClient(h.url);
    await c.signInWithToken(await token(org.reader));
    const ctrl = new AbortController();
    const res = await fetch(`${h.url}/console/status/live?organization=${org.id}`, {
      headers: { cookie: `pems_console_session=${c.cookies.get('pems_console_session')}` },
      signal: ctrl.signal,
    });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('event: status')) text += new TextDecoder().decode((await reader.read()).value);
    while (!/event: status\n[\s\S]*\n\n/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
    ctrl.abort();
    expect(text).toContain('retry: 2000');
    expect(text).toContain('data: <div class="status-live"');

    const unauth = await fetch(`${h.url}/console/status/live`);
    expect(unauth.status).toBe(401);

    const doc = (await (await fetch(`${h.url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/console'))).toEqual([]);
  });
});
