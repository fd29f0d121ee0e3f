/**
 * Rollback with four eyes in real Chromium with the real sink and the PEMS simulator: on the
 * record's timeline an administrator picks a version ▶ sees the field differences ▶ requests
 * with a reason; the requester sees Approve disabled with the rule; a second administrator
 * sees the same differences and approves; the sink writes it and the timeline shows it all.
 */
import type { Browser, Page } from 'playwright-core';
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
} from '../../support/console-browser';
import { createE2eWorld, type E2eWorld } from '../harness';

jest.setTimeout(240_000);

describe('e2e console (Chromium): rollback requested ▶ a second administrator approves ▶ timeline shows it', () => {
  let world: E2eWorld;
  let browser: Browser;

  beforeAll(async () => {
    world = await createE2eWorld({ records: 1 });
    await world.startSink();
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    await world?.close();
  });

  it('goes from the timeline to an approved rollback that PEMS applies', async () => {
    const rec = world.records[0]!;
    const v0 = rec.version;
    const first = await world.commit({ pfaId: rec.pfaId, delta: { notes: 'first plan' } });
    await world.waitForOutcome([first]);
    const second = await world.commit({
      pfaId: rec.pfaId,
      delta: { notes: 'second plan <img src=x onerror=alert(1)>' },
    });
    await world.waitForOutcome([second]);

    const ctx1 = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const { page: p1, guard: g1 } = await guardedPage(ctx1, world.apiUrl);
    await signIn(p1, world.apiUrl, await token(world.admin1));
    await p1.getByLabel('Find a PFA or modification').fill(rec.pfaId);
    await p1.getByRole('button', { name: 'Search', exact: true }).click();
    await p1.getByRole('link', { name: rec.pfaId }).first().click();
    await p1.waitForURL(/\/console\/records\//);
    await hasCount(p1.locator('.timeline li[data-kind="version"]'), (n) => n === 3);
    expect(await axeViolations(p1)).toEqual([]);
    await p1.getByRole('link', { name: `Roll back to version ${v0 + 1}…` }).click();
    await hasText(p1.locator('table.diff tr[data-field="notes"]'), 'first plan');
    await hasText(p1.locator('table.diff tr[data-field="notes"]'), '<img src=x onerror=alert(1)>');
    expect(await axeViolations(p1)).toEqual([]);
    await p1
      .getByLabel('Reason (required; the approver reads it)')
      .fill('the second plan was a mistake <script>alert(3)</script> javascript:alert(4)');
    await p1.getByRole('button', { name: 'Request rollback' }).click();
    await p1.waitForURL(/\/console\/rollbacks\/[0-9a-f-]{36}$/);
    // The requester: Approve disabled, with the rule.
    const approve1 = p1.getByRole('button', { name: 'Approve' });
    expect(await approve1.isDisabled()).toBe(true);
    await hasText(p1.locator('#approve-why'), 'four eyes — a different administrator must approve it');
    await screenshot(p1, 'rollback-requester');
    expect(await axeViolations(p1)).toEqual([]);
    const url = p1.url();

    const ctx2 = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: 'dark' });
    const { page: p2, guard: g2 } = await guardedPage(ctx2, world.apiUrl);
    await signIn(p2, world.apiUrl, await token(world.admin2));
    // The request page in the dark theme as well (the requester saw it in the light one).
    await p2.goto(
      `${world.apiUrl}/console/records/${encodeURIComponent(world.org)}/${encodeURIComponent(rec.pfaId)}/rollback?version=${v0 + 1}`,
    );
    await hasText(p2.locator('table.diff tr[data-field="notes"]'), 'first plan');
    expect(await axeViolations(p2)).toEqual([]);
    await p2.goto(url);
    await hasText(p2.locator('table.diff tr[data-field="notes"]'), 'first plan');
    // The requester's reason is text for the approver.
    await hasText(p2.locator('main'), 'the second plan was a mistake <script>alert(3)</script> javascript:alert(4)');
    await hasCount(p2.locator('main script'), (n) => n === 0);
    expect(await axeViolations(p2)).toEqual([]);
    await p2.getByLabel('Reason for approving (optional)').fill('checked with the planner');
    await p2.getByRole('button', { name: 'Approve' }).click();
    await p2.waitForURL(url);
    await hasText(p2.locator('main'), `Status: approved by ${world.admin2}`);
    const req = await world.db('rollback_request').where({ pfa_id: rec.pfaId }).first();
    const [applied] = await world.waitForOutcome([req.modification_id]);
    expect(applied).toMatchObject({ sync_status: 'synced', pems_version_after: v0 + 3 });
    expect(world.sim.control.getRecord(rec.pfaId)!.notes).toBe('first plan');

    await p2.getByRole('link', { name: "The record's timeline" }).click();
    await hasText(
      p2.locator('.timeline li[data-kind="rollback"]'),
      `Rollback to version ${v0 + 1} requested by ${world.admin1}`,
    );
    await hasText(p2.locator('.timeline li[data-kind="rollback"]'), `approved by ${world.admin2}`);
    await hasText(p2.locator('.timeline li[data-kind="version"]').last(), `PEMS version ${v0 + 3}`);
    // Filter to rollbacks only; the view's link is the URL with the filter.
    await p2.getByLabel('version', { exact: true }).uncheck();
    await p2.getByLabel('edit', { exact: true }).uncheck();
    await p2.getByLabel('audit', { exact: true }).uncheck();
    await p2.getByRole('button', { name: 'Filter' }).click();
    await p2.waitForURL(/kind=rollback/);
    await hasCount(p2.locator('.timeline li[data-kind="version"]'), (n) => n === 0);
    const link = await p2.locator('#permalink').inputValue();
    expect(link).toContain('kind=rollback');
    // Copy the link by keyboard: Tab from the field to "Copy link", Enter; the clipboard holds the view's URL.
    await ctx2.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: world.apiUrl });
    await p2.locator('#permalink').focus();
    await p2.keyboard.press('Tab');
    expect(await p2.evaluate('document.activeElement && document.activeElement.id')).toBe('copy-permalink');
    await p2.keyboard.press('Enter');
    await hasText(p2.locator('#copy-permalink'), 'Copied');
    await hasText(p2.locator('#announcer'), 'Link copied to the clipboard');
    expect(await p2.evaluate('navigator.clipboard.readText()')).toBe(link);
    expect(await axeViolations(p2)).toEqual([]);
    await screenshot(p2, 'timeline');
    for (const [p, g] of [
      [p1, g1],
      [p2, g2],
    ] as const) {
      expect(g.dialogs).toEqual([]);
      expect(g.foreignRequests).toEqual([]);
      expect(g.cspViolations).toEqual([]);
      expect(await pageCspViolations(p as Page)).toEqual([]);
    }
    await ctx1.close();
    await ctx2.close();
  });
});
