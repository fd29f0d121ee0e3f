/**
 * Browser harness of the console tests: Debian's Chromium driven by playwright-core (never a
 * downloaded browser), an axe-core check helper, a guard that records dialogs, CSP violations
 * and requests to other origins, and a screenshot helper for the README (docs/console/*.png,
 * written only when PEMS_SYNC_SCREENSHOTS=1 so test runs leave the work tree alone).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.PEMS_SYNC_CHROMIUM ?? '/usr/bin/chromium';

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `no Chromium at ${CHROMIUM_PATH}: deploy/local/stack.sh up installs Debian's chromium (or set PEMS_SYNC_CHROMIUM)`,
    );
  }
  // --no-sandbox: CI and the local stack run as root, where Chromium's sandbox cannot start.
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
}

export interface PageGuard {
  dialogs: string[];
  cspViolations: string[];
  foreignRequests: string[];
}

/**
 * A page whose dialogs, CSP violations and requests to any origin but `origin` are recorded (and
 * dialogs dismissed).
 */
export async function guardedPage(context: BrowserContext, origin: string): Promise<{ page: Page; guard: PageGuard }> {
  const guard: PageGuard = { dialogs: [], cspViolations: [], foreignRequests: [] };
  // Runs in the page before its own scripts (a string: this file is compiled without the DOM library).
  await context.addInitScript(
    "window.__csp = []; document.addEventListener('securitypolicyviolation', function (e) { window.__csp.push(e.violatedDirective + ' ' + e.blockedURI); });",
  );
  const page = await context.newPage();
  page.on('dialog', (d) => {
    guard.dialogs.push(d.message());
    void d.dismiss();
  });
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) guard.cspViolations.push(m.text());
  });
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(origin) && !u.startsWith('data:') && !u.startsWith('about:')) guard.foreignRequests.push(u);
  });
  return { page, guard };
}

/** CSP violations the page itself saw (securitypolicyviolation events). */
export async function pageCspViolations(page: Page): Promise<string[]> {
  return page.evaluate('window.__csp || []') as Promise<string[]>;
}

/** axe-core's WCAG 2.x A/AA violations on the current page, as "rule: target" lines (empty when none). */
export async function axeViolations(page: Page): Promise<string[]> {
  const r = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']).analyze();
  return r.violations.flatMap((v) => v.nodes.map((n) => `${v.id}: ${n.target.join(' ')} — ${n.failureSummary ?? ''}`));
}

export async function screenshot(page: Page, name: string): Promise<void> {
  if (process.env.PEMS_SYNC_SCREENSHOTS !== '1') return;
  const dir = join(__dirname, '..', '..', 'docs', 'console');
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: false });
}

/** Signs in through the sign-in form with a control API token. */
export async function signIn(page: Page, baseUrl: string, token: string): Promise<void> {
  await page.goto(`${baseUrl}/console/sign-in`);
  await page.getByLabel('Bearer token').fill(token);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForURL(/\/console\/status/);
}

/** Polls until `check` holds (playwright-core has no web-first assertions); fails with what it last saw. */
export async function eventually(
  what: string,
  check: () => Promise<{ ok: boolean; saw: unknown }>,
  timeoutMs = 10_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  let saw: unknown;
  for (;;) {
    const r = await check().catch((err: Error) => ({ ok: false, saw: err.message }));
    saw = r.saw;
    if (r.ok) return;
    if (Date.now() > until)
      throw new Error(`${what}: not within ${timeoutMs} ms; last saw ${JSON.stringify(saw)?.slice(0, 2000)}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

const matches = (text: string, m: string | RegExp): boolean =>
  typeof m === 'string' ? text.includes(m) : m.test(text);

/** Waits until the first element of `locator` has text matching `m` (string: contains). */
export function hasText(locator: Locator, m: string | RegExp, timeoutMs?: number): Promise<void> {
  return eventually(
    `text ${String(m)} in ${String(locator)}`,
    async () => {
      const t = (await locator.first().textContent({ timeout: 1000 })) ?? '';
      return { ok: matches(t, m), saw: t };
    },
    timeoutMs,
  );
}

export function hasCount(locator: Locator, test: (n: number) => boolean, timeoutMs?: number): Promise<void> {
  return eventually(
    `count of ${String(locator)}`,
    async () => {
      const n = await locator.count();
      return { ok: test(n), saw: n };
    },
    timeoutMs,
  );
}

export function hasAttribute(locator: Locator, name: string, value: string, timeoutMs?: number): Promise<void> {
  return eventually(
    `${name}=${value} on ${String(locator)}`,
    async () => {
      const v = await locator.first().getAttribute(name, { timeout: 1000 });
      return { ok: v === value, saw: v };
    },
    timeoutMs,
  );
}
