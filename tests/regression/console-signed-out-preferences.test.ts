/**
 * Regression: the sign-in page's theme and time-zone forms failed for a signed-out browser.
 * POST /console/preferences required a session (401) and the signed-out forms carried an empty
 * CSRF token. Now a signed-out page's forms carry the pre-session double-submit token (the
 * HttpOnly cookie pems_console_sign_in), and /console/preferences accepts it; without the
 * token, or with another one, it is still refused.
 */
import { harness, type Harness } from '../integration/control-api/harness';
import { ConsoleClient } from '../integration/console/client';

describe('regression: signed-out theme and time-zone preferences', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await harness({ config: { console: { secureCookies: false } } });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('sets the theme and the time zone from the sign-in page without a session, and refuses a missing or foreign token', async () => {
    const c = new ConsoleClient(h.url);
    const page = await c.get('/console/sign-in');
    expect(page.status).toBe(200);
    const token = c.cookies.get('pems_console_sign_in');
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    // Every form on the signed-out page carries the same non-empty token (sign-in, theme, time zone).
    const fields = [...page.body.matchAll(/<input type="hidden" name="_csrf" value="([^"]*)"/g)].map((m) => m[1]);
    expect(fields.length).toBeGreaterThanOrEqual(3);
    expect(new Set(fields)).toEqual(new Set([token]));

    const theme = await c.post('/console/preferences', { _csrf: token!, theme: 'dark', return_to: '/console/sign-in' });
    expect(theme.status).toBe(303);
    expect(theme.headers.get('location')).toBe('/console/sign-in');
    expect(theme.headers.getSetCookie().some((s) => s.startsWith('pems_console_theme=dark;'))).toBe(true);
    const tz = await c.post('/console/preferences', { _csrf: token!, tz: 'Asia/Tokyo', return_to: '/console/sign-in' });
    expect(tz.status).toBe(303);
    const after = await c.get('/console/sign-in');
    expect(after.body).toContain('data-theme="dark"');
    expect(after.body).toContain('data-time-zone="Asia/Tokyo"');
    // The token stays the same while the cookie lives, so an open page's forms keep working.
    expect(ConsoleClient.field(after.body, '_csrf')).toBe(token);

    // A bad value still names what is wrong.
    const badTz = await c.post('/console/preferences', {
      _csrf: token!,
      tz: 'Mars/Olympus',
      return_to: '/console/sign-in',
    });
    expect(badTz.status).toBe(400);
    expect(badTz.body).toContain('Mars/Olympus');

    // Missing token, or a token that is not this browser's cookie: refused, nothing set.
    const missing = await c.post('/console/preferences', { theme: 'light', return_to: '/console/sign-in' });
    expect(missing.status).toBe(401);
    expect(missing.headers.getSetCookie().some((s) => s.startsWith('pems_console_theme='))).toBe(false);
    const other = new ConsoleClient(h.url);
    await other.get('/console/sign-in');
    const foreign = await other.post('/console/preferences', {
      _csrf: token!,
      theme: 'light',
      return_to: '/console/sign-in',
    });
    expect(foreign.status).toBe(401);
    expect(foreign.headers.getSetCookie().some((s) => s.startsWith('pems_console_theme='))).toBe(false);
  });
});
