/**
 * Who is calling: a Bearer JWT (HS256 with controlApi.jwtSecret, or keys from
 * controlApi.jwksUrl) names the app_user in `sub`; the user's organizations and rights are
 * read from the database on every request, so revoking a right takes effect at once and a
 * token never carries rights of its own.
 */
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import type { Knex } from 'knex';
import { ConfigError } from '../../streams/errors';
import { activeUserMemberships } from '../postgres/organizations';
import { forbidden, notFound, unauthorized } from './errors';

export interface TokenOptions {
  jwtSecret: string;
  jwksUrl: string;
  /** Required `iss` / `aud` (empty: not checked, refused in production). */
  issuer?: string;
  audience?: string;
  /** Oldest accepted token by `iat` (then required), seconds. Default 3600. */
  maxAgeSeconds?: number;
  environment?: 'production' | 'development';
  /** Accepted clock skew on exp/nbf, seconds. Default 30. */
  clockToleranceSec?: number;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Refuses settings that would let a token from elsewhere in: names the key, like every config error. */
function checkTokenOptions(opts: TokenOptions): void {
  const production = (opts.environment ?? 'production') === 'production';
  if (production && !opts.issuer)
    throw new ConfigError(
      'controlApi.jwtIssuer',
      'is required in production (PEMS_SYNC_JWT_ISSUER): tokens of any issuer would be accepted',
    );
  if (production && !opts.audience)
    throw new ConfigError(
      'controlApi.jwtAudience',
      'is required in production (PEMS_SYNC_JWT_AUDIENCE): tokens minted for other services would be accepted',
    );
  if (opts.jwtSecret === '' && opts.jwksUrl !== '') {
    let url: URL;
    try {
      url = new URL(opts.jwksUrl);
    } catch {
      throw new ConfigError('controlApi.jwksUrl', 'is not a URL');
    }
    const loopbackHttp = url.protocol === 'http:' && LOOPBACK.has(url.hostname) && !production;
    if (url.protocol !== 'https:' && !loopbackHttp) {
      throw new ConfigError(
        'controlApi.jwksUrl',
        'must be https (whoever can change the keys on the way can mint tokens); http only to a loopback host in development',
      );
    }
  }
}

export type TokenVerifier = (token: string) => Promise<{ sub: string }>;

export function createTokenVerifier(opts: TokenOptions): TokenVerifier {
  checkTokenOptions(opts);
  // exp and iat always; iss and aud checked whenever configured (jose refuses a missing one then).
  const claims = {
    clockTolerance: opts.clockToleranceSec ?? 30,
    maxTokenAge: opts.maxAgeSeconds ?? 3600,
    requiredClaims: ['sub', 'exp', 'iat'],
    ...(opts.issuer ? { issuer: opts.issuer } : {}),
    ...(opts.audience ? { audience: opts.audience } : {}),
  };
  let verify: (token: string) => Promise<JWTPayload>;
  if (opts.jwtSecret !== '') {
    const key = new TextEncoder().encode(opts.jwtSecret);
    // Pinning the algorithm refuses alg=none and RS/HS confusion.
    verify = async (t) => (await jwtVerify(t, key, { algorithms: ['HS256'], ...claims })).payload;
  } else if (opts.jwksUrl !== '') {
    const jwks = createRemoteJWKSet(new URL(opts.jwksUrl));
    verify = async (t) =>
      (await jwtVerify(t, jwks, { algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'], ...claims })).payload;
  } else {
    throw new ConfigError(
      'controlApi.jwtSecret',
      'or controlApi.jwksUrl must be set: the control API never runs without authentication',
    );
  }
  return async (token) => {
    let payload: JWTPayload;
    try {
      payload = await verify(token);
    } catch (err) {
      throw unauthorized(`bearer token refused: ${(err as Error).message}`);
    }
    if (typeof payload.sub !== 'string' || payload.sub === '' || payload.sub.length > 200)
      throw unauthorized('bearer token has no usable sub');
    return { sub: payload.sub };
  };
}

export interface OrgRights {
  read: boolean;
  sync: boolean;
  admin: boolean;
}

export class Caller {
  constructor(
    readonly userId: string,
    readonly orgs: ReadonlyMap<string, OrgRights>,
  ) {}

  /** Organizations the caller may read: every query is scoped to these. */
  get readableOrgs(): string[] {
    return [...this.orgs].filter(([, r]) => r.read).map(([id]) => id);
  }

  canRead(org: string): boolean {
    return this.orgs.get(org)?.read === true;
  }

  /**
   * The caller's organizations, narrowed to `org` when given. An organization the caller is
   * not a member of is a 404 (its existence is not disclosed).
   */
  scope(org?: string): string[] {
    if (org === undefined) return this.readableOrgs;
    if (!this.canRead(org)) throw notFound(`organization ${org}`);
    return [org];
  }

  requireRead(org: string, what: string): void {
    if (!this.canRead(org)) throw notFound(what);
  }

  requireSync(org: string): void {
    if (this.orgs.get(org)?.sync !== true)
      throw forbidden(`acting on ${org} needs perm_Sync`, { organizationId: org, right: 'perm_sync' });
  }

  requireAdmin(org: string): void {
    if (this.orgs.get(org)?.admin !== true)
      throw forbidden(`this needs an administrator of ${org}`, { organizationId: org, right: 'is_admin' });
  }
}

/** The active user and rights; an unknown or inactive user is a 401 (the token names no one we serve). */
export async function loadCaller(db: Knex, userId: string): Promise<Caller> {
  const rows = await activeUserMemberships(db, userId);
  if (!rows) throw unauthorized('the token names no active user');
  // Rights only widen from membership: sync and admin imply read.
  const orgs = new Map<string, OrgRights>(
    rows.map((r) => [r.organizationId, { read: r.read || r.sync || r.admin, sync: r.sync, admin: r.admin }]),
  );
  return new Caller(userId, orgs);
}
