/**
 * The console's cookies, read and written without a cookie library (@fastify/cookie's `cookie`
 * dependency is ESM-only and cannot load under jest). Names and values here are our own:
 * random hex tokens and preference words, so no encoding beyond a strict character check.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

export const SESSION_COOKIE = 'pems_console_session';
export const SIGN_IN_CSRF_COOKIE = 'pems_console_sign_in';
export const THEME_COOKIE = 'pems_console_theme';
export const TZ_COOKIE = 'pems_console_tz';

const SAFE_VALUE = /^[A-Za-z0-9_\-+/.]{1,200}$/;

export function readCookies(req: FastifyRequest): Map<string, string> {
  const out = new Map<string, string>();
  const header = req.headers.cookie;
  if (typeof header !== 'string') return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (name !== '' && SAFE_VALUE.test(value) && !out.has(name)) out.set(name, value);
  }
  return out;
}

export interface CookieOptions {
  maxAgeSeconds?: number;
  httpOnly: boolean;
  secure: boolean;
}

/** Adds a Set-Cookie header (SameSite=Strict, Path=/console): several may be set on one reply. */
export function setCookie(reply: FastifyReply, name: string, value: string, o: CookieOptions): void {
  if (!SAFE_VALUE.test(value) && value !== '')
    throw new Error(`cookie ${name}: value has characters a cookie cannot carry`);
  const parts = [`${name}=${value}`, 'Path=/console', 'SameSite=Strict'];
  if (o.maxAgeSeconds !== undefined) parts.push(`Max-Age=${o.maxAgeSeconds}`);
  if (o.httpOnly) parts.push('HttpOnly');
  if (o.secure) parts.push('Secure');
  const prev = reply.getHeader('set-cookie');
  const list = prev === undefined ? [] : Array.isArray(prev) ? prev.map(String) : [String(prev)];
  reply.header('set-cookie', [...list, parts.join('; ')]);
}

export function clearCookie(reply: FastifyReply, name: string, secure: boolean): void {
  setCookie(reply, name, '', { maxAgeSeconds: 0, httpOnly: true, secure });
}
