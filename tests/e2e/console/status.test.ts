/**
 * The console in real Chromium against the real stack, the real sink and the PEMS simulator:
 * sign-in with a token, the status screen updating live over SSE as the sink works, PEMS going
 * down (banner with the queued count) and coming back (recovered notice), the stream resuming
 * after the control API restarts, pause, search, hostile text shown literally with no dialog,
 * no request elsewhere and no CSP violation, and axe with zero violations in both themes.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { buildControlApi } from '../../../connectors/control-api/server';
import { JWT_SECRET, token } from '../../integration/control-api/harness';
import {
  axeViolations,
  guardedPage,
  hasAttribute,
  hasCount,
  hasText,
  launchBrowser,
  pageCspViolations,
  screenshot,
  signIn,
  type PageGuard,
} from '../../support/console-browser';
import { testKafka } from '../../support/kafka';
import { createE2eWorld, type E2eWorld } from '../harness';

jest.setTimeout(240_000);

const HOSTILE = `<script>alert('x')</script><img src=x onerror=alert(1)><a href="javascript:alert(2)">j</a><b hx-get="https://example.invalid/x" hx-trigger="load">hx</b>`;

describe('e2e console (Chromium): status screen, live over SSE, with the real sink and simulator', () => {
  let world: E2eWorld;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let guard: PageGuard;
  /** The control API started again by the restart test; the later tests use it. */
  let restarted: FastifyInstance | undefined;
  /** The sink's own /metrics, for the pipeline strip of the restarted API. */
  let sinkMetricsUrl: string;

  beforeAll(async () => {
    world = await createE2eWorld({ records: 4 });
    const sink = await world.startSink();
    sinkMetricsUrl = `http://127.0.0.1:${sink.ops!.port}/metrics`;
    // User-made text everywhere the status and search screens show it.
    await world.db('organization').where({ id: world.org }).update({ name: HOSTILE });
    await world.db('app_user').where({ id: world.user }).update({ display_name: HOSTILE });
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 }, reducedMotion: 'reduce' });
    ({ page, guard } = await guardedPage(context, world.apiUrl));
  });
  afterAll(async () => {
    await restarted?.close().catch(() => undefined);
    world?.sim.control.clearFaults();
    await context?.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await world?.close();
  });

  const live = (p: Page) => p.locator('#status-live');

  it('signs in with a token and shows the status of the organization, updating live as the sink syncs edits', async () => {
    await page.goto(`${world.apiUrl}/console/status`);
    await page.waitForURL(/\/console\/sign-in/);
    await screenshot(page, 'sign-in');
    await signIn(page, world.apiUrl, await token(world.user));
    await page.goto(`${world.apiUrl}/console/status?organization=${encodeURIComponent(world.org)}`);
    await hasText(page.locator('#live-state'), new RegExp('^' + 'live' + '$'));
    await hasText(live(page), 'No edits yet');

    const [a, b] = world.records;
    const ids = [
      await world.commit({ pfaId: a!.pfaId, delta: { notes: HOSTILE } }),
      await world.commit({ pfaId: b!.pfaId, delta: { notes: 'console two' } }),
    ];
    await world.waitForOutcome(ids);
    // No reload: the SSE stream brings the new figures.
    await hasText(live(page), 'synced 2', 20_000);
    await hasText(live(page), 'On time');
    await hasText(live(page), 'Every committed edit has an outcome.');
    await hasCount(page.locator('#outcomes-table tbody tr[data-t]'), (n) => n !== 0);
    await hasCount(page.locator('#latency-table tbody tr[data-t]'), (n) => n !== 0);
    // The charts are drawn from the tables beside them.
    await hasCount(page.locator('[data-chart="outcomes"] canvas'), (n) => n === 1);
    await hasText(page.locator('#live-age'), /^\d+ s ago$/);
    // The hostile organization name is text, not markup.
    await hasText(page.locator('.org h3 a').first(), "<script>alert('x')</script>");
    await screenshot(page, 'status');
  });

  it('has zero axe violations on the sign-in and status pages in the light and the dark theme', async () => {
    for (const theme of ['light', 'dark'] as const) {
      await page.goto(`${world.apiUrl}/console/status?organization=${encodeURIComponent(world.org)}`);
      await page.getByRole('button', { name: theme, exact: true }).click();
      await page.waitForLoadState('load');
      await hasAttribute(page.locator('html'), 'data-theme', theme);
      await hasText(page.locator('#live-state'), new RegExp('^' + 'live' + '$'));
      expect(await axeViolations(page)).toEqual([]);
      if (theme === 'dark') await screenshot(page, 'status-dark');
      await page.goto(`${world.apiUrl}/console/search?q=${encodeURIComponent(world.records[0]!.pfaId)}`);
      expect(await axeViolations(page)).toEqual([]);
      const anon = await browser.newContext({ colorScheme: theme });
      const p = await anon.newPage();
      await p.goto(`${world.apiUrl}/console/sign-in`);
      expect(await axeViolations(p)).toEqual([]);
      await anon.close();
    }
  });

  it('shows the PEMS-down banner with the queued edit and its age while PEMS is unreachable, then a recovered notice, live', async () => {
    await page.goto(`${world.apiUrl}/console/status?organization=${encodeURIComponent(world.org)}`);
    await hasText(page.locator('#live-state'), new RegExp('^' + 'live' + '$'));
    world.sim.control.setFaults({ errorRates: { 503: 1 } });
    const c = world.records[2]!;
    const id = await world.commit({ pfaId: c.pfaId, delta: { notes: 'while PEMS is down' } });
    const banner = page.locator('[data-banner="pems-down"]');
    await hasCount(banner, (n) => n > 0, 30_000);
    await hasText(
      banner,
      /PEMS unreachable since \d\d:\d\d: 1 edit is safe and queued, the oldest is \d+ s old/,
      30_000,
    );
    // The polite live region says so once.
    await hasText(page.locator('#announcer'), 'PEMS unreachable');
    await screenshot(page, 'status-pems-down');
    world.sim.control.clearFaults();
    await world.waitForOutcome([id], 120_000);
    await hasText(page.locator('[data-banner="pems-recovered"]'), /PEMS is reachable again since \d\d:\d\d/, 30_000);
    await hasText(live(page), 'synced 3', 20_000);
  });

  it('resumes the live stream after the control API restarts, and pauses on request', async () => {
    await page.goto(`${world.apiUrl}/console/status?organization=${encodeURIComponent(world.org)}`);
    await hasText(page.locator('#live-state'), new RegExp('^' + 'live' + '$'));
    const port = Number(new URL(world.apiUrl).port);
    await world.api.close();
    await hasText(page.locator('#live-state'), /reconnecting|connecting/, 20_000);
    // An edit synced while the console's server is away shows up once the stream is back.
    const d = world.records[3]!;
    const id = await world.commit({ pfaId: d.pfaId, delta: { notes: 'during the restart' } });
    await world.waitForOutcome([id]);
    // The same settings as the first API: trust the simulator's certificate for the health probe.
    const caFile = join(tmpdir(), `pems-sync-console-e2e-${world.org}.pem`);
    writeFileSync(caFile, world.sim.cert ?? '');
    // This time with the sink's /metrics: the strip's rates come from the real sink.
    const config = {
      ...world.config,
      pems: { ...world.config.pems, caFile },
      controlApi: { ...world.config.controlApi, jwtSecret: JWT_SECRET },
      console: { ...world.config.console, sinkMetricsUrls: [sinkMetricsUrl] },
    };
    const again = (restarted = buildControlApi({
      db: world.db,
      config,
      kafka: testKafka(`e2e-console-restart-${world.org.toLowerCase()}`),
      logger: false,
    }));
    await again.listen({ host: '127.0.0.1', port });
    {
      await hasText(page.locator('#live-state'), new RegExp('^' + 'live' + '$'), 30_000);
      await hasText(live(page), 'synced 4', 20_000);
      await hasCount(page.locator('[data-banner="pems-down"]'), (n) => n === 0);
      // Two scrapes of the sink later, the sink's figures are numbers, not "unknown".
      await hasText(live(page), /requests\/s\s*\d+\.\d of 10 allowed/, 20_000);
      await hasText(live(page), /rate-limit waits \/ min\s*\d/);
      await hasText(live(page), /retries scheduled \/ min\s*\d/);
      await hasText(live(page), /sink group lag\s*\d+ records/);
      await hasText(page.locator('#live-age'), /^[0-5] s ago$/, 10_000);

      await page.getByRole('button', { name: 'Pause' }).click();
      await hasText(page.locator('#live-state'), new RegExp('^' + 'paused' + '$'));
      await hasAttribute(page.getByRole('button', { name: 'Resume' }), 'aria-pressed', 'true');
      await page.getByRole('button', { name: 'Resume' }).click();
      await hasText(page.locator('#live-state'), new RegExp('^' + 'live' + '$'), 20_000);

      // Search by PFA id: the hostile note is shown as text.
      await page.getByLabel('Find a PFA or modification').fill(world.records[0]!.pfaId);
      await page.getByRole('button', { name: 'Search', exact: true }).click();
      await hasText(page.locator('table.edits'), '<img src=x onerror=alert(1)>');
      await hasCount(page.locator('table.edits img'), (n) => n === 0);
      // Every link in the table is the console's own (the PFA's timeline); none came from the note.
      await hasCount(page.locator('table.edits a:not([href^="/console/"])'), (n) => n === 0);
      await page.waitForTimeout(500);
      expect(guard.dialogs).toEqual([]);
      expect(guard.foreignRequests).toEqual([]);
      expect(guard.cspViolations).toEqual([]);
      expect(await pageCspViolations(page)).toEqual([]);
    }
  });

  it('shows my edits with where each one is: applied as a PEMS version, conflict, rejected with the reason per field; axe-clean in both themes', async () => {
    const [, b, c] = world.records;
    const rejected = await world.commit({ pfaId: b!.pfaId, delta: { dor: 'NOT-A-DOR' } });
    world.sim.control.editAsPemsUser(c!.pfaId, { notes: 'PEMS planner got there first' });
    const conflicted = await world.commit({
      pfaId: c!.pfaId,
      delta: { notes: 'mine, on an old version' },
      baseVersion: c!.version,
    });
    const rows = await world.waitForOutcome([rejected, conflicted]);
    expect(rows.map((r) => r.sync_status)).toEqual(['rejected', 'conflict']);
    // An edit being retried, as the sink records it: claimed by a live instance (the running sink
    // leaves another live instance's claim alone), its latest send 100 ms after the claim.
    const holder = `e2e-holder-${world.org.toLowerCase()}`;
    await world
      .db('sink_instance')
      .insert({ id: holder, host: 'e2e', pid: 1, heartbeat_at: world.db.raw("now() + interval '1 hour'") });
    const [retried] = await world.db('pfa_modification').insert(
      {
        organization_id: world.org,
        pfa_id: 'PFA-E2E-RETRIED',
        user_id: world.user,
        base_version: 1,
        delta: JSON.stringify({ notes: 'retried' }),
        sync_status: 'syncing',
        claimed_by: holder,
        committed_at: world.db.raw("now() - interval '4 seconds'"),
        updated_at: world.db.raw("now() - interval '3100 milliseconds'"),
      },
      ['id'],
    );
    await world.db('pems_write_intent').insert({
      idempotency_key: `e2e-${retried.id}`,
      organization_id: world.org,
      pfa_id: 'PFA-E2E-RETRIED',
      modification_ids: [retried.id],
      item: JSON.stringify({ pfaId: 'PFA-E2E-RETRIED' }),
      created_at: world.db.raw("now() - interval '3 seconds'"),
    });
    expect(world.config.retry).toMatchObject({ delaysMs: [50, 100, 200], jitter: 0 });
    expect(world.config.pems.timeoutMs).toBe(2000);

    await page.goto(`${world.apiUrl}/console/my-edits`);
    const row = (id: string) => page.locator(`#edit-${id}`);
    await hasText(row(rejected), /rejected\s*dor: dor must be one of/);
    await hasText(row(conflicted), 'conflict: PEMS changed the record after version');
    const synced = await world
      .db('pfa_modification')
      .where({ organization_id: world.org, sync_status: 'synced' })
      .orderBy('synced_at')
      .first('id', 'pems_version_after');
    await hasText(row(synced.id), `applied as PEMS version ${synced.pems_version_after}`);
    // The world's schedule is 50, 100, 200 ms without jitter: a send 100 ms after the claim is the
    // second try; 3 s later, past the 2 s request timeout and the next delay, it is overdue: the
    // sink is waiting for PEMS. (The "next retry at" wording is asserted over HTTP in
    // tests/integration/console/my-edits.test.ts, with a schedule long enough to see it.)
    await hasText(row(retried.id), 'sending to PEMS (attempt 2, sent');
    await hasText(row(retried.id), 'no answer yet: the sink is waiting for PEMS, and waiting spends no attempt');
    // The hostile note of the first edit is text: no element was made from it.
    await hasText(page.locator('table.edits'), "<script>alert('x')</script>");
    await hasCount(
      page.locator('table.edits img, table.edits script, table.edits a:not([href^="/console/"]), table.edits b'),
      (n) => n === 0,
    );
    await screenshot(page, 'my-edits');

    await page.getByLabel('Where').selectOption('rejected');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/stage=rejected/);
    await hasCount(page.locator('table.edits tbody tr'), (n) => n === 1);

    for (const theme of ['light', 'dark'] as const) {
      await page.getByRole('button', { name: theme, exact: true }).click();
      await page.waitForLoadState('load');
      await hasAttribute(page.locator('html'), 'data-theme', theme);
      await page.goto(`${world.apiUrl}/console/my-edits`);
      expect(await axeViolations(page)).toEqual([]);
    }
    expect(guard.dialogs).toEqual([]);
    expect(guard.foreignRequests).toEqual([]);
    expect(guard.cspViolations).toEqual([]);
    expect(await pageCspViolations(page)).toEqual([]);
    await world.db('pfa_modification').where({ id: retried.id }).update({ sync_status: 'failed', claimed_by: null });
    await world
      .db('pems_write_intent')
      .where({ idempotency_key: `e2e-${retried.id}` })
      .delete();
    await world.db('sink_instance').where({ id: holder }).delete();
  });
});
