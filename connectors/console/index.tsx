/**
 * The console: server-rendered pages for editors, operators and administrators, served by the
 * control API process under /console. Registered by buildControlApi (console.enabled); its
 * routes are public to the API's bearer hook and authenticate with the console session instead,
 * and they are not part of the API's OpenAPI contract. Rights come from the same Caller as the
 * API's; the console shows what a viewer may not do, the server refuses it.
 */
import formbody from '@fastify/formbody';
import helmet from '@fastify/helmet';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { loadCaller, type TokenVerifier } from '../control-api/auth';
import { ApiError, toApiError } from '../control-api/errors';
import { createStatusProbes } from '../control-api/routes/status';
import type { RouteContext } from '../control-api/route-context';
import { listSignInUsers } from '../postgres/console-sessions';
import { asset } from './assets';
import { registerConflictPages } from './conflict-routes';
import { registerDeadLetterPages } from './dead-letter-routes';
import { LiveStreams } from './live-streams';
import { registerRecordPages } from './record-routes';
import { registerStatusPages } from './status-routes';
import { registerEditPages } from './edit-routes';
import { registerAuditPages } from './audit-routes';
import { registerNotificationPages } from './notification-routes';
import { readCookies, setCookie, SIGN_IN_CSRF_COOKIE, THEME_COOKIE, TZ_COOKIE } from './cookies';
import { ErrorPage } from './pages/error';
import { SignInPage } from './pages/sign-in';
import {
  endSession,
  isTimeZone,
  loadView,
  newToken,
  presentedCsrf,
  safeReturnPath,
  sameToken,
  startSession,
  THEMES,
  type Theme,
  type View,
  type Viewer,
} from './session';
import { StatusModel } from './status-model';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A console page: not in the API's OpenAPI document. */
    console?: boolean;
  }
  interface FastifyRequest {
    consoleView: View | null;
  }
}

const ROUTE = { config: { public: true, console: true } } as const;
const YEAR = 365 * 24 * 3600;

export const CONTENT_SECURITY_POLICY = {
  defaultSrc: ["'none'"],
  scriptSrc: ["'self'"],
  scriptSrcAttr: ["'none'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'"],
  connectSrc: ["'self'"],
  fontSrc: ["'self'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  baseUri: ["'none'"],
  objectSrc: ["'none'"],
};

async function html(reply: FastifyReply, body: JSX.Element, status = 200): Promise<FastifyReply> {
  const text = await body;
  return reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(text);
}

export function registerConsole(app: FastifyInstance, ctx: RouteContext, verify: TokenVerifier): void {
  const model = new StatusModel(ctx.db, ctx.config, createStatusProbes(ctx));
  const secure = ctx.config.console.secureCookies;

  // Open live streams: ended when the server closes (else close() would wait on them forever).
  const streams = new LiveStreams();
  app.addHook('preClose', async () => {
    streams.endAll();
  });

  /** The signed-out double-submit token: the cookie's when it has one, else a new one set now. */
  const preSessionToken = (req: FastifyRequest, reply: FastifyReply): string => {
    const had = readCookies(req).get(SIGN_IN_CSRF_COOKIE);
    if (had && /^[0-9a-f]{64}$/.test(had)) return had;
    const csrf = newToken();
    setCookie(reply, SIGN_IN_CSRF_COOKIE, csrf, { httpOnly: true, secure, maxAgeSeconds: 3600 });
    return csrf;
  };
  const signInCsrfOk = (req: FastifyRequest): boolean =>
    sameToken(presentedCsrf(req), readCookies(req).get(SIGN_IN_CSRF_COOKIE));
  const isPreferences = (req: FastifyRequest): boolean => req.url.split('?')[0] === '/console/preferences';

  void app.register(
    async (scope) => {
      await scope.register(formbody, { bodyLimit: 65_536 });
      await scope.register(helmet, {
        contentSecurityPolicy: { useDefaults: false, directives: CONTENT_SECURITY_POLICY },
        crossOriginEmbedderPolicy: false,
        referrerPolicy: { policy: 'same-origin' },
        hsts: false,
      });
      scope.decorateRequest('consoleView', null);
      scope.addHook('preHandler', async (req, reply) => {
        if (req.url.startsWith('/console/assets/')) return;
        req.consoleView = await loadView(ctx.db, req);
        // Signed out, the page's forms (sign-in, theme, time zone) carry the pre-session token.
        if (!req.consoleView.viewer) req.consoleView.preSessionCsrf = preSessionToken(req, reply);
        if (req.method === 'POST' && !req.url.startsWith('/console/sign-in')) {
          const viewer = req.consoleView.viewer;
          if (!viewer && isPreferences(req) && signInCsrfOk(req)) return;
          if (!viewer) throw new ApiError(401, 'UNAUTHORIZED', 'your console session has ended: sign in again');
          if (!sameToken(presentedCsrf(req), viewer.csrfToken))
            throw new ApiError(
              403,
              'CSRF',
              'this form is out of date or came from another site (CSRF token missing or wrong): reload the page and try again',
            );
        }
      });

      scope.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
        const api = toApiError(err);
        const status =
          api?.statusCode ?? (typeof err.statusCode === 'number' && err.statusCode < 500 ? err.statusCode : 500);
        if (status >= 500) req.log.error({ err }, 'console error');
        const message = api
          ? api.message
          : status < 500
            ? err.message
            : 'something went wrong on our side; the error is in the control API log';
        const view = req.consoleView ?? {
          viewer: null,
          theme: 'system' as Theme,
          timeZone: 'UTC',
          now: new Date(),
          path: '/console/status',
        };
        return html(reply, <ErrorPage view={view} status={status} message={message} />, status);
      });
      scope.setNotFoundHandler(async (req, reply) => {
        const view = await loadView(ctx.db, req);
        return html(
          reply,
          <ErrorPage view={view} status={404} message={`There is no console page at ${req.url.split('?')[0]}.`} />,
          404,
        );
      });

      const requireViewer = (req: FastifyRequest, reply: FastifyReply): Viewer | undefined => {
        const v = req.consoleView?.viewer;
        if (!v) {
          void reply.redirect(`/console/sign-in?return_to=${encodeURIComponent(req.url)}`, 303);
          return undefined;
        }
        return v;
      };

      scope.get('/assets/:name', ROUTE, async (req, reply) => {
        const a = asset((req.params as { name: string }).name);
        if (!a) return reply.code(404).type('text/plain').send('no such asset');
        return reply.type(a.type).header('cache-control', 'public, max-age=300').send(a.body);
      });

      scope.get('/', ROUTE, async (_req, reply) => reply.redirect('/console/status', 303));

      // --- sign-in -------------------------------------------------------------------------
      const signInPage = async (
        req: FastifyRequest,
        reply: FastifyReply,
        error?: string,
        status = 200,
      ): Promise<FastifyReply> => {
        const csrf = req.consoleView?.preSessionCsrf ?? preSessionToken(req, reply);
        const q = (req.query ?? {}) as Record<string, unknown>;
        const body = (req.body ?? {}) as Record<string, unknown>;
        const returnTo = safeReturnPath(body.return_to ?? q.return_to);
        const localUsers = await listSignInUsers(ctx.db, ctx.config.console.localSignInUsers);
        return html(
          reply,
          <SignInPage view={req.consoleView!} csrf={csrf} localUsers={localUsers} error={error} returnTo={returnTo} />,
          status,
        );
      };

      scope.get('/sign-in', ROUTE, async (req, reply) => signInPage(req, reply));

      scope.post('/sign-in', ROUTE, async (req, reply) => {
        if (!signInCsrfOk(req))
          return signInPage(req, reply, 'The sign-in form was out of date (CSRF check failed): try again.', 403);
        const token = String((req.body as Record<string, unknown>)?.token ?? '').trim();
        if (token === '') return signInPage(req, reply, 'Paste a token to sign in.', 400);
        let userId: string;
        try {
          userId = (await verify(token)).sub;
          await loadCaller(ctx.db, userId);
        } catch (err) {
          const api = toApiError(err);
          if (api && api.statusCode === 401)
            return signInPage(req, reply, `That token was refused: ${api.message}.`, 401);
          throw err;
        }
        await startSession(ctx.db, ctx.config, reply, userId);
        return reply.redirect(safeReturnPath((req.body as Record<string, unknown>).return_to), 303);
      });

      scope.post('/sign-in/local', ROUTE, async (req, reply) => {
        const allowed = ctx.config.console.localSignInUsers;
        if (allowed.length === 0)
          return signInPage(
            req,
            reply,
            'Local sign-in is not enabled on this server (console.localSignInUsers is empty).',
            403,
          );
        if (!signInCsrfOk(req))
          return signInPage(req, reply, 'The sign-in form was out of date (CSRF check failed): try again.', 403);
        const user = String((req.body as Record<string, unknown>)?.user ?? '');
        const known = await listSignInUsers(ctx.db, allowed);
        if (!known.some((u) => u.id === user))
          return signInPage(req, reply, 'That user is not one of the demo users of local sign-in.', 403);
        await startSession(ctx.db, ctx.config, reply, user);
        return reply.redirect(safeReturnPath((req.body as Record<string, unknown>).return_to), 303);
      });

      scope.post('/sign-out', ROUTE, async (req, reply) => {
        await endSession(ctx.db, ctx.config, req, reply);
        return reply.redirect('/console/sign-in', 303);
      });

      // --- preferences (signed in or not: the sign-in page has the same controls) -----------
      scope.post('/preferences', ROUTE, async (req, reply) => {
        const body = (req.body ?? {}) as Record<string, unknown>;
        if (typeof body.theme === 'string') {
          if (!THEMES.includes(body.theme as Theme))
            throw new ApiError(400, 'BAD_THEME', `theme must be one of ${THEMES.join(', ')}`);
          setCookie(reply, THEME_COOKIE, body.theme, { httpOnly: false, secure, maxAgeSeconds: YEAR });
        }
        if (typeof body.tz === 'string') {
          if (!isTimeZone(body.tz))
            throw new ApiError(
              400,
              'BAD_TIME_ZONE',
              `time zone '${body.tz.slice(0, 60)}' is not one this server knows`,
            );
          setCookie(reply, TZ_COOKIE, body.tz, { httpOnly: false, secure, maxAgeSeconds: YEAR });
        }
        return reply.redirect(safeReturnPath(body.return_to), 303);
      });

      registerStatusPages(scope, ctx, { route: ROUTE, html, requireViewer, streams, model });
      registerEditPages(scope, ctx, { route: ROUTE, html, requireViewer });
      registerConflictPages(scope, ctx, { route: ROUTE, html, requireViewer });
      registerDeadLetterPages(scope, ctx, { route: ROUTE, html, requireViewer });
      registerRecordPages(scope, ctx, { route: ROUTE, html, requireViewer });
      registerAuditPages(scope, ctx, { route: ROUTE, html, requireViewer });
      registerNotificationPages(scope, ctx, { route: ROUTE, html, requireViewer, streams });
    },
    { prefix: '/console' },
  );
}
