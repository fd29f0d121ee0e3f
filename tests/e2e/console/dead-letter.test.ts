/**
 * Dead letter ▶ fix PEMS ▶ replay ▶ applied, in real Chromium with the real sink and the PEMS
 * simulator: PEMS fails every write, the edit becomes a dead letter; the operator finds it by
 * cause, reads every attempt's answer, PEMS is fixed, the replay goes through and the edit is
 * applied. Hostile text literal, axe clean in both themes.
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

jest.setTimeout(240_000);

const HOSTILE = `"><script>alert(1)</script><img src=x onerror=alert(2)>`;

describe('e2e console (Chromium): dead letter ▶ fix PEMS ▶ replay ▶ applied', () => {
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
    world?.sim.control.clearFaults();
    await context?.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await world?.close();
  });

  it('replays a dead letter after PEMS is fixed, and the edit is applied', async () => {
    const rec = world.records[0]!;
    world.sim.control.setFaults({ errorRates: { 500: 1 }, endpoints: ['POST /pfa/batch'] });
    const id = await world.commit({ pfaId: rec.pfaId, delta: { notes: HOSTILE } });
    const [failed] = await world.waitForOutcome([id], 120_000);
    expect(failed!.sync_status).toBe('failed');
    const dl = await world.db('dead_letter').where({ modification_id: id }).first();

    await signIn(page, world.apiUrl, await token(world.user));
    await page.getByRole('link', { name: 'Dead letters' }).click();
    await page.waitForURL(/\/console\/dead-letters/);
    await hasText(page.locator('.causes'), `${dl.error_code} 1`);
    expect(await axeViolations(page)).toEqual([]);
    await screenshot(page, 'dead-letters');
    await page.getByRole('link', { name: rec.pfaId }).click();
    await page.waitForURL(new RegExp(`/console/dead-letters/${dl.id}$`));
    // Every attempt with PEMS's answer; the hostile note is text.
    await hasCount(page.locator('section[aria-labelledby="attempts-h"] tbody tr'), (n) => n === failed!.attempts);
    await hasText(page.locator('section[aria-labelledby="edit-h"]'), '<script>alert(1)</script>');
    await hasCount(page.locator('main img, main script'), (n) => n === 0);
    await hasText(
      page.locator('[data-preview]'),
      /PEMS is now at version \d+; replaying would apply without a conflict|cannot be previewed/,
    );
    for (const theme of ['dark', 'light'] as const) {
      await page.getByRole('button', { name: theme, exact: true }).click();
      await page.waitForURL(new RegExp(`/console/dead-letters/${dl.id}$`));
      expect(await axeViolations(page)).toEqual([]);
      if (theme === 'dark') await screenshot(page, 'dead-letter');
    }

    world.sim.control.clearFaults();
    await page.getByLabel('Reason for the replay (optional)').fill('PEMS is fixed');
    await page.getByRole('button', { name: 'Replay', exact: true }).click();
    await page.waitForURL(new RegExp(`/console/dead-letters/${dl.id}$`));
    await hasText(page.locator('main'), 'This dead letter is replayed');
    const [applied] = await world.waitForOutcome([id], 60_000);
    expect(applied).toMatchObject({ id, sync_status: 'synced', pems_version_after: rec.version + 1 });
    expect(world.sim.control.getRecord(rec.pfaId)!.notes).toBe(HOSTILE);

    await page.goto(`${world.apiUrl}/console/my-edits`);
    await hasText(page.locator(`#edit-${id}`), `applied as PEMS version ${rec.version + 1}`);
    expect(guard.dialogs).toEqual([]);
    expect(guard.foreignRequests).toEqual([]);
    expect(guard.cspViolations).toEqual([]);
    expect(await pageCspViolations(page)).toEqual([]);
  });
});
