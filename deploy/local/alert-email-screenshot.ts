/**
 * The README's picture of an alert email as received: the newest "PemsUnreachable" firing email
 * in the local stack's Mailpit, opened by headless Chromium (/usr/bin/chromium, driven by
 * playwright-core) and saved as docs/alerts/pems-unreachable-email.png. Mailpit built from the Go
 * module proxy has no bundle of its JavaScript web app (its release process builds that), so the
 * page is Mailpit's server-side HTML view of the message (/view/<id>.html, what its app shows in
 * an iframe), with the message's headers as Mailpit's API reports them set above it as text.
 * Run after tests/e2e/alerts.test.ts on a running stack:
 *
 *   npx tsx deploy/local/alert-email-screenshot.ts
 */
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { mailsWithSubject, monitoringEnv } from '../../tests/support/monitoring';

async function main(): Promise<void> {
  const [mail] = (await mailsWithSubject(': PemsUnreachable')).filter((m) => m.Subject.startsWith('[FIRING'));
  if (!mail)
    throw new Error(
      `no PemsUnreachable firing email in Mailpit at ${monitoringEnv.mailpitUrl}: run tests/e2e/alerts.test.ts first`,
    );
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 400 } });
    await page.goto(`${monitoringEnv.mailpitUrl}/view/${mail.ID}.html`, { waitUntil: 'networkidle' });
    await page.locator('text=PemsUnreachable').first().waitFor();
    const headers = [
      `Mailpit ${monitoringEnv.mailpitUrl} — message ${mail.ID}`,
      `Subject: ${mail.Subject}`,
      `To: ${mail.To.map((t) => t.Address).join(', ')}`,
      `Received: ${mail.Created}`,
    ];
    // textContent only: nothing from the message is interpreted as markup.
    await page.evaluate((lines) => {
      // Runs in the page (tsconfig has no DOM lib).
      const document = (globalThis as unknown as { document: any }).document;
      const box = document.createElement('div');
      box.style.cssText =
        'font: 14px sans-serif; background: #f1f3f5; border-bottom: 1px solid #ccc; padding: 10px 14px; margin: -8px -8px 12px';
      for (const l of lines) {
        const row = document.createElement('div');
        row.textContent = l;
        box.appendChild(row);
      }
      document.body.prepend(box);
    }, headers);
    const out = join(__dirname, '..', '..', 'docs/alerts/pems-unreachable-email.png');
    await page.screenshot({ path: out });
    process.stdout.write(`${out}: "${mail.Subject}"\n`);
  } finally {
    await browser.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
