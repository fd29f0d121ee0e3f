/**
 * The conflict flow in real Chromium with the real sink and the PEMS simulator: a PEMS user
 * and a Vanguard user change the same field ▶ the conflict is in the queue (reached by keyboard)
 * ▶ the person merges with a custom value after a preview ▶ the sink writes it and PEMS's
 * version goes up. Hostile text in the edit shows literally; axe finds nothing in both themes.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { token } from '../../integration/control-api/harness';
import {
  axeViolations,
  guardedPage,
  hasCount,
  hasText,
  launchBrowser,
  pageCspViolations,
  screenshot,
  signIn,
  type PageGuard,
} from '../../support/console-browser';
import { createE2eWorld, type E2eWorld } from '../harness';

jest.setTimeout(180_000);

const HOSTILE = `<img src=x onerror=alert(1)><a href="javascript:alert(2)">j</a><i hx-get="https://example.invalid/" hx-trigger="load">hx</i>`;

describe('e2e console (Chromium): conflict ▶ merge ▶ PEMS version up', () => {
  let world: E2eWorld;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let guard: PageGuard;

  beforeAll(async () => {
    world = await createE2eWorld({ records: 2 });
    await world.startSink();
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    ({ page, guard } = await guardedPage(context, world.apiUrl));
  });
  afterAll(async () => {
    await context?.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await world?.close();
  });

  it('resolves a real conflict with a custom merged value, and the sink brings PEMS to a new version with it', async () => {
    const rec = world.records[0]!;
    // Signed in before the conflict happens: the unread count must change live.
    await signIn(page, world.apiUrl, await token(world.user));
    await page.goto(`${world.apiUrl}/console/my-edits`);
    await hasText(page.locator('#unread-count'), '(0 unread)');
    world.sim.control.editAsPemsUser(rec.pfaId, { notes: 'PEMS planner note' });
    const mine = await world.commit({ pfaId: rec.pfaId, delta: { notes: HOSTILE }, baseVersion: rec.version });
    const [row] = await world.waitForOutcome([mine]);
    expect(row!.sync_status).toBe('conflict');
    const conflict = await world.db('sync_conflict').where({ modification_id: mine }).first();

    await hasText(page.locator('#unread-count'), '(1 unread)', 20_000);
    await hasText(page.locator('#announcer'), '1 new notification');
    // The notification's deep link opens the exact conflict.
    await page.getByRole('link', { name: /Notifications/ }).click();
    await page.waitForURL(/\/console\/notifications/);
    expect(await axeViolations(page)).toEqual([]);
    await screenshot(page, 'notifications');
    await page.getByRole('link', { name: 'Open the conflict' }).click();
    await page.waitForURL(new RegExp(`/console/conflicts/${conflict.id}$`));
    await page.goto(`${world.apiUrl}/console/conflicts?organization=${encodeURIComponent(world.org)}`);
    await hasCount(page.locator('table.queue tbody tr'), (n) => n === 1);
    expect(await axeViolations(page)).toEqual([]);
    await screenshot(page, 'conflicts');
    // Keyboard: j focuses the first conflict, Enter opens it.
    await page.locator('body').press('j');
    await page.keyboard.press('Enter');
    await page.waitForURL(new RegExp(`/console/conflicts/${conflict.id}$`));

    const notes = page.locator('tr[data-field="notes"]');
    await hasText(notes, 'both changed this');
    await hasText(notes, 'PEMS planner note');
    // The hostile edit is shown as text: no element came of it.
    await hasText(notes, '<img src=x onerror=alert(1)>');
    await hasCount(page.locator('table.merge-table img, table.merge-table a, table.merge-table i'), (n) => n === 0);
    for (const theme of ['light', 'dark'] as const) {
      await page.getByRole('button', { name: theme, exact: true }).click();
      await page.waitForURL(new RegExp(`/console/conflicts/${conflict.id}$`));
      expect(await axeViolations(page)).toEqual([]);
    }

    await page.getByRole('radio', { name: 'Custom' }).check();
    await page.getByLabel('Custom value for notes').fill('agreed after a call');
    await page.getByLabel('Reason (kept in the audit trail)').fill('merged with the planner');
    await page.getByRole('button', { name: 'Preview' }).click();
    await hasText(page.locator('.preview'), 'Result: agreed after a call');
    await hasText(page.locator('form.confirm'), `as a new edit on PEMS version ${conflict.pems_version}`);
    await screenshot(page, 'conflict-preview');
    expect(await axeViolations(page)).toEqual([]);
    await page.getByRole('button', { name: 'Confirm resolution' }).click();
    await page.waitForURL(new RegExp(`/console/conflicts/${conflict.id}$`));
    await hasText(page.locator('main'), 'This conflict is resolved (merge)');

    const resolved = await world.db('sync_conflict').where({ id: conflict.id }).first();
    const [applied] = await world.waitForOutcome([resolved.resolution_modification_id]);
    expect(applied!.sync_status).toBe('synced');
    expect(applied!.pems_version_after).toBeGreaterThan(conflict.pems_version);
    const pems = world.sim.control.getRecord(rec.pfaId)!;
    expect(pems.notes).toBe('agreed after a call');
    expect(pems.version).toBe(applied!.pems_version_after);

    // The resolution's own page says where it is, in words.
    await page.getByRole('link', { name: resolved.resolution_modification_id }).click();
    await hasText(
      page.locator(`#edit-${resolved.resolution_modification_id}`),
      `applied as PEMS version ${applied!.pems_version_after}`,
    );
    // Mark the notification read: the count goes back to 0.
    await page.goto(`${world.apiUrl}/console/notifications`);
    await page.getByRole('button', { name: /^Mark read/ }).click();
    await page.waitForURL(/\/console\/notifications$/);
    await hasText(page.locator('#unread-count'), '(0 unread)');
    await hasText(page.locator('.notifications li'), '(read)');
    // Audit and rollbacks pages: axe in both themes; the hostile note is text in the audit details.
    for (const theme of ['light', 'dark'] as const) {
      await page.getByRole('button', { name: theme, exact: true }).click();
      await page.waitForLoadState('load');
      await page.goto(`${world.apiUrl}/console/audit?organization=${encodeURIComponent(world.org)}`);
      await hasCount(page.locator('table.audit tbody tr'), (n) => n > 0);
      expect(await axeViolations(page)).toEqual([]);
      await page.goto(`${world.apiUrl}/console/rollbacks`);
      expect(await axeViolations(page)).toEqual([]);
      await page.goto(`${world.apiUrl}/console/notifications`);
      expect(await axeViolations(page)).toEqual([]);
      // The queues and the pages that echo what was typed, in both themes too.
      await page.goto(
        `${world.apiUrl}/console/conflicts?organization=${encodeURIComponent(world.org)}&status=resolved`,
      );
      expect(await axeViolations(page)).toEqual([]);
      await page.goto(`${world.apiUrl}/console/dead-letters?organization=${encodeURIComponent(world.org)}`);
      expect(await axeViolations(page)).toEqual([]);
      const typed = `<img src=x onerror=alert(7)>"><b hx-get="https://example.invalid/">x</b>`;
      await page.goto(`${world.apiUrl}/console/search?q=${encodeURIComponent(typed)}`);
      await hasText(page.locator('main'), typed);
      expect(await axeViolations(page)).toEqual([]);
      await page.goto(`${world.apiUrl}/console/no-such-page-${encodeURIComponent('<script>alert(8)</script>')}`);
      await hasText(page.locator('main'), 'There is no console page at');
      await hasCount(page.locator('main img, main script, main b'), (n) => n === 0);
      expect(await axeViolations(page)).toEqual([]);
    }
    await page.goto(`${world.apiUrl}/console/audit?organization=${encodeURIComponent(world.org)}`);
    await page.getByRole('button', { name: /Verify the chain/ }).click();
    await hasText(page.locator('main'), /The chain of .* holds: \d+ entries checked/);
    await hasCount(page.locator('table.audit img, table.audit a[href^="javascript"], table.audit i'), (n) => n === 0);
    await screenshot(page, 'audit');
    expect(guard.dialogs).toEqual([]);
    expect(guard.foreignRequests).toEqual([]);
    expect(guard.cspViolations).toEqual([]);
    expect(await pageCspViolations(page)).toEqual([]);
  });
});
