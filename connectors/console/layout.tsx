/**
 * The page frame: skip link, banner with global search and preferences, main navigation,
 * main landmark, and the page's single polite live region. Only screens that exist are in the
 * navigation. No inline script or style: assets come from /console/assets (CSP 'self').
 */
import type { Children } from '@kitajs/html';
import { THEMES, type View } from './session';

/** The screens that exist, in navigation order. */
export const NAV: ReadonlyArray<{ href: string; label: string; key: string }> = [
  { href: '/console/status', label: 'Status', key: 'status' },
  { href: '/console/my-edits', label: 'My edits', key: 'my-edits' },
  { href: '/console/conflicts', label: 'Conflicts', key: 'conflicts' },
  { href: '/console/dead-letters', label: 'Dead letters', key: 'dead-letters' },
  { href: '/console/rollbacks', label: 'Rollbacks', key: 'rollbacks' },
  { href: '/console/audit', label: 'Audit', key: 'audit' },
  { href: '/console/notifications', label: 'Notifications', key: 'notifications' },
];

const HTMX_CONFIG = JSON.stringify({
  selfRequestsOnly: true,
  allowEval: false,
  allowScriptTags: false,
  includeIndicatorStyles: false,
  historyCacheSize: 0,
  refreshOnHistoryMiss: true,
});

const COMMON_ZONES = [
  'UTC',
  'Europe/London',
  'Europe/Paris',
  'America/New_York',
  'America/Chicago',
  'America/Denver',
  'America/Los_Angeles',
  'America/Sao_Paulo',
  'Asia/Tokyo',
  'Asia/Singapore',
  'Australia/Sydney',
];

export function timeZoneChoices(current: string): string[] {
  return COMMON_ZONES.includes(current) ? COMMON_ZONES : [current, ...COMMON_ZONES];
}

export function Layout(props: { view: View; title: string; active?: string; children?: Children }): JSX.Element {
  const { view } = props;
  const v = view.viewer;
  return (
    <>
      {'<!doctype html>'}
      <html lang="en" data-theme={view.theme}>
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <meta name="color-scheme" content="light dark" />
          <meta name="htmx-config" content={HTMX_CONFIG} />
          <title safe>{`${props.title} · pems-sync console`}</title>
          <link rel="stylesheet" href="/console/assets/uplot.min.css" />
          <link rel="stylesheet" href="/console/assets/console.css" />
          <script src="/console/assets/htmx.min.js" defer></script>
          <script src="/console/assets/uplot.iife.min.js" defer></script>
          <script src="/console/assets/console.js" defer></script>
        </head>
        <body
          hx-headers={v ? JSON.stringify({ 'X-CSRF-Token': v.csrfToken }) : undefined}
          data-time-zone={view.timeZone}
          data-signed-in={v ? 'true' : undefined}
        >
          <a class="skip" href="#main">
            Skip to content
          </a>
          <header class="banner">
            <a class="brand" href="/console/status">
              pems-sync console
            </a>
            {v ? (
              <form class="search" role="search" method="get" action="/console/search">
                <label for="global-search">Find a PFA or modification</label>
                <input
                  id="global-search"
                  name="q"
                  type="search"
                  placeholder="PFA id or modification id"
                  maxlength="200"
                  required
                />
                <button type="submit" class="button">
                  Search
                </button>
              </form>
            ) : (
              ''
            )}
            <div class="prefs">
              <form method="post" action="/console/preferences" class="theme-form" aria-label="Colour theme">
                <input type="hidden" name="_csrf" value={v ? v.csrfToken : (view.preSessionCsrf ?? '')} />
                <input type="hidden" name="return_to" value={view.path} />
                <span class="prefs-label" id="theme-label">
                  Theme
                </span>
                <span role="group" aria-labelledby="theme-label">
                  {THEMES.map((t) => (
                    <button
                      type="submit"
                      name="theme"
                      value={t}
                      class="button small"
                      aria-pressed={view.theme === t ? 'true' : 'false'}
                    >
                      {t}
                    </button>
                  ))}
                </span>
              </form>
              <form method="post" action="/console/preferences" class="tz-form">
                <input type="hidden" name="_csrf" value={v ? v.csrfToken : (view.preSessionCsrf ?? '')} />
                <input type="hidden" name="return_to" value={view.path} />
                <label for="tz">Time zone</label>
                <select id="tz" name="tz">
                  {timeZoneChoices(view.timeZone).map((z) => (
                    <option value={z} selected={z === view.timeZone} safe>
                      {z}
                    </option>
                  ))}
                </select>
                <button type="submit" class="button small">
                  Apply
                </button>
              </form>
              {v ? (
                <form method="post" action="/console/sign-out" class="sign-out">
                  <input type="hidden" name="_csrf" value={v.csrfToken} />
                  <span class="who">
                    Signed in as <strong safe>{v.displayName}</strong>
                  </span>{' '}
                  <button type="submit" class="button small">
                    Sign out
                  </button>
                </form>
              ) : (
                ''
              )}
            </div>
          </header>
          {v ? (
            <nav aria-label="Main" class="nav">
              <ul>
                {NAV.map((n) => (
                  <li>
                    <a href={n.href} aria-current={props.active === n.key ? 'page' : undefined}>
                      <span safe>{n.label}</span>
                      {n.key === 'notifications' ? (
                        <>
                          {' '}
                          <span id="unread-count" class="count" safe>
                            {`(${v.unread} unread)`}
                          </span>
                        </>
                      ) : (
                        ''
                      )}
                    </a>
                  </li>
                ))}
              </ul>
            </nav>
          ) : (
            ''
          )}
          <main id="main" tabindex="-1">
            {props.children as 'safe'}
          </main>
          <footer class="footer">
            <p>
              Times in <span safe>{view.timeZone}</span>. Raw topics: use Kafka UI.
            </p>
          </footer>
          <div id="announcer" class="visually-hidden" role="status" aria-live="polite"></div>
        </body>
      </html>
    </>
  );
}
