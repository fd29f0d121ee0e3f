/**
 * Who is looking at the console. A session is made from the control API's identity (a token
 * its verifier accepts, or — only when console.localSignInUsers lists them — a demo user) and
 * lives in an HttpOnly, SameSite=Strict cookie; the rights are loaded from the database on
 * every request (loadCaller), exactly as for the API, so the server stays the only enforcer.
 * Every state-changing request carries the session's CSRF token (form field or header).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Knex } from 'knex';
import type { Config } from '../../schemas/config';
import { loadCaller, type Caller } from '../control-api/auth';
import { ApiError } from '../control-api/errors';
import {
  deleteConsoleSession,
  findConsoleSession,
  insertConsoleSession,
  userDisplayName,
} from '../postgres/console-sessions';
import { unreadCount } from '../postgres/console-notifications';
import { clearCookie, readCookies, SESSION_COOKIE, setCookie, THEME_COOKIE, TZ_COOKIE } from './cookies';

export type Theme = 'system' | 'light' | 'dark';
export const THEMES: readonly Theme[] = ['system', 'light', 'dark'];

export interface Viewer {
  caller: Caller;
  userId: string;
  displayName: string;
  csrfToken: string;
  /** Unread notifications when the page was made (the live stream keeps it current). */
  unread: number;
}

/** What every page needs to render: the viewer (or null), preferences, the time of rendering. */
export interface View {
  viewer: Viewer | null;
  theme: Theme;
  timeZone: string;
  now: Date;
  /** Path and query of the page (return target of preference forms). */
  path: string;
  /** Signed out: the pre-session CSRF token (cookie pems_console_sign_in) the sign-in and preference forms carry. */
  preSessionCsrf?: string;
}

export const newToken = (): string => randomBytes(32).toString('hex');

export function sameToken(a: string | undefined, b: string | undefined): boolean {
  if (typeof a !== 'string' || typeof b !== 'string' || a.length !== b.length || a === '') return false;
  return timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export async function loadView(db: Knex, req: FastifyRequest): Promise<View> {
  const cookies = readCookies(req);
  const themeCookie = cookies.get(THEME_COOKIE) as Theme | undefined;
  const tzCookie = cookies.get(TZ_COOKIE);
  const view: View = {
    viewer: null,
    theme: themeCookie && THEMES.includes(themeCookie) ? themeCookie : 'system',
    timeZone: tzCookie && isTimeZone(tzCookie) ? tzCookie : 'UTC',
    now: new Date(),
    // A POST's own URL is no page to come back to.
    path: req.method === 'GET' ? req.url : '/console/status',
  };
  const token = cookies.get(SESSION_COOKIE);
  if (!token) return view;
  const session = await findConsoleSession(db, token);
  if (!session) return view;
  let caller: Caller;
  try {
    caller = await loadCaller(db, session.userId);
  } catch (err) {
    // The user was deactivated since signing in: the session is over.
    if (err instanceof ApiError && err.statusCode === 401) return view;
    throw err;
  }
  const displayName = await userDisplayName(db, session.userId);
  // loadCaller has just read the user: only a concurrent delete gets here (a 500, as before the move).
  if (displayName === undefined) throw new Error(`user ${session.userId} vanished while loading the session`);
  const unread = await unreadCount(db, session.userId, caller.readableOrgs);
  view.viewer = {
    caller,
    userId: session.userId,
    displayName,
    csrfToken: session.csrfToken,
    unread,
  };
  return view;
}

export async function startSession(db: Knex, config: Config, reply: FastifyReply, userId: string): Promise<void> {
  const cookie = newToken();
  await insertConsoleSession(db, {
    cookie,
    userId,
    csrfToken: newToken(),
    ttlSeconds: config.console.sessionTtlSeconds,
  });
  setCookie(reply, SESSION_COOKIE, cookie, {
    httpOnly: true,
    secure: config.console.secureCookies,
    maxAgeSeconds: config.console.sessionTtlSeconds,
  });
}

export async function endSession(db: Knex, config: Config, req: FastifyRequest, reply: FastifyReply): Promise<void> {
  const token = readCookies(req).get(SESSION_COOKIE);
  if (token) await deleteConsoleSession(db, token);
  clearCookie(reply, SESSION_COOKIE, config.console.secureCookies);
}

/** The CSRF token a state-changing request presented: the `_csrf` form field or the X-CSRF-Token header (htmx). */
export function presentedCsrf(req: FastifyRequest): string | undefined {
  const header = req.headers['x-csrf-token'];
  if (typeof header === 'string') return header;
  const body = req.body as Record<string, unknown> | undefined;
  return typeof body?._csrf === 'string' ? body._csrf : undefined;
}

/** A local path under /console to come back to, or the status page (never another origin). */
export function safeReturnPath(p: unknown): string {
  return typeof p === 'string' && /^\/console(\/[A-Za-z0-9_\-./?=&%]*)?$/.test(p) && !p.includes('//')
    ? p
    : '/console/status';
}
