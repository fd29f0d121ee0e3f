/** `pems-sync users grant|revoke|list` and `pems-sync token mint`: who may do what, and a token to prove it. */
import type { Command } from 'commander';
import { SignJWT } from 'jose';
import {
  ensureUser,
  getOrganization,
  grantRights,
  memberships,
  revokeRights,
  userExists,
  userIsActive,
} from '../postgres/organizations';
import type { CliContext } from './context';
import { notFound, refused, table, usage } from './output';
import { organizationId } from './org';

const USER_ID = /^[A-Za-z0-9_.@-]{1,200}$/;

function userId(raw: string): string {
  if (!USER_ID.test(raw)) throw usage(`user id '${raw}' must be 1-200 letters, digits, '.', '_', '@' or '-'`);
  return raw;
}

async function requireOrganization(ctx: CliContext, raw: string): Promise<string> {
  const id = organizationId(raw);
  if (!(await getOrganization(ctx.db, id))) throw notFound(`organization ${id} does not exist`);
  return id;
}

/** '90s', '15m', '8h', '7d' → seconds. */
export function parseDuration(raw: string): number {
  const m = /^(\d+)\s*([smhd])$/.exec(raw.trim());
  if (!m) throw usage(`--ttl '${raw}' must be a number with s, m, h or d (e.g. 15m, 8h)`);
  const n = Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's' | 'm' | 'h' | 'd'];
  if (n <= 0) throw usage('--ttl must be more than zero');
  if (n > 30 * 86400) throw usage('--ttl is at most 30d (tokens minted here are for development and tests)');
  return n;
}

/**
 * An HS256 token for `user`, as the control API verifies it: sub, iat, exp, and the issuer and
 * audience the API requires when they are configured (controlApi.jwtIssuer / jwtAudience). The
 * API also refuses a token whose iat is older than controlApi.jwtMaxAgeSeconds, whatever its exp.
 */
export async function mintToken(
  secret: string,
  user: string,
  ttlSeconds: number,
  claims: { issuer?: string; audience?: string } = {},
): Promise<string> {
  let jwt = new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(user)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds);
  if (claims.issuer) jwt = jwt.setIssuer(claims.issuer);
  if (claims.audience) jwt = jwt.setAudience(claims.audience);
  return jwt.sign(new TextEncoder().encode(secret));
}

export function registerUsers(program: Command, ctx: CliContext): void {
  const users = program
    .command('users')
    .description('members of an organization and their rights (perm_Sync, administrator)');

  users
    .command('grant <user>')
    .description('make a user a member of an organization and grant rights (creates the user when new)')
    .requiredOption('-o, --organization <id>', 'organization')
    .option('--sync', "perm_Sync: the user's edits are written to PEMS")
    .option('--admin', 'administrator: approves rollbacks, resolves for others')
    .option('--name <display>', 'display name when the user is created')
    .option('--json', 'print the membership as JSON')
    .addHelpText(
      'after',
      '\nMembership alone gives read access. Rights only widen: grant never takes a right away.\n\nExamples:\n  pems-sync users grant alice --organization RIO --sync\n  pems-sync users grant ops-admin --organization RIO --sync --admin',
    )
    .action(
      async (
        rawUser: string,
        o: { organization: string; sync?: boolean; admin?: boolean; name?: string; json?: boolean },
      ) => {
        const user = userId(rawUser);
        const org = await requireOrganization(ctx, o.organization);
        const created = !(await userExists(ctx.db, user));
        await ensureUser(ctx.db, user, o.name);
        await grantRights(ctx.db, user, org, { read: true, sync: o.sync, admin: o.admin });
        const [m] = await memberships(ctx.db, { organizationId: org, userId: user });
        ctx.emit(
          Boolean(o.json),
          { ...m, created },
          () =>
            `${ctx.paint.ok('granted')} ${user}${created ? ' (new user)' : ''} in ${org}: read${m!.sync ? ', perm_Sync' : ''}${m!.admin ? ', admin' : ''}`,
        );
      },
    );

  users
    .command('revoke <user>')
    .description('take rights away (effective at the next write: rights are read fresh every round)')
    .requiredOption('-o, --organization <id>', 'organization')
    .option('--sync', 'revoke perm_Sync')
    .option('--admin', 'revoke administrator')
    .option('--all', 'remove the membership entirely')
    .option('--json', 'print the membership as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  pems-sync users revoke alice --organization RIO --sync\n  pems-sync users revoke bob --organization RIO --all',
    )
    .action(
      async (
        rawUser: string,
        o: { organization: string; sync?: boolean; admin?: boolean; all?: boolean; json?: boolean },
      ) => {
        const user = userId(rawUser);
        const org = await requireOrganization(ctx, o.organization);
        if (!o.sync && !o.admin && !o.all) throw usage('say what to revoke: --sync, --admin or --all');
        if (!(await revokeRights(ctx.db, user, org, { sync: o.sync, admin: o.admin, all: o.all })))
          throw notFound(`${user} is not a member of ${org}`);
        const [m] = await memberships(ctx.db, { organizationId: org, userId: user });
        ctx.emit(Boolean(o.json), m ?? { userId: user, organizationId: org, member: false }, () =>
          m
            ? `${ctx.paint.warn('revoked')} ${user} in ${org}: now read${m.sync ? ', perm_Sync' : ''}${m.admin ? ', admin' : ''}`
            : `${ctx.paint.warn('removed')} ${user} from ${org}`,
        );
      },
    );

  users
    .command('list')
    .description('members of an organization and their rights')
    .requiredOption('-o, --organization <id>', 'organization')
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExamples:\n  pems-sync users list --organization RIO')
    .action(async (o: { organization: string; json?: boolean }) => {
      const org = await requireOrganization(ctx, o.organization);
      const rows = await memberships(ctx.db, { organizationId: org });
      ctx.emit(Boolean(o.json), rows, () =>
        rows.length === 0
          ? `no members in ${org}`
          : table(rows as unknown as Array<Record<string, unknown>>, ['userId', 'read', 'sync', 'admin', 'active']),
      );
    });

  const token = program.command('token').description('bearer tokens for the control API (development and tests)');
  token
    .command('mint <user>')
    .description('sign an HS256 token for a user with PEMS_SYNC_JWT_SECRET (refused when the API uses a JWKS)')
    .option('--ttl <duration>', 'lifetime: 90s, 15m, 8h, 7d (at most 30d)', '1h')
    .addHelpText(
      'after',
      `
The token carries the user id (sub), its issue time and expiry, and the configured issuer and
audience (PEMS_SYNC_JWT_ISSUER / PEMS_SYNC_JWT_AUDIENCE): rights are read from the database on every
request, and the API refuses a token issued longer ago than PEMS_SYNC_JWT_MAX_AGE_SECONDS. Production deployments use their identity provider (PEMS_SYNC_JWKS_URL): then this refuses.

Examples:
  export PEMS_SYNC_API_TOKEN=$(pems-sync token mint alice --ttl 8h)
  curl -H "authorization: Bearer $(pems-sync token mint alice)" http://127.0.0.1:8088/status?organization=RIO`,
    )
    .action(async (rawUser: string, o: { ttl: string }) => {
      const user = userId(rawUser);
      const ttl = parseDuration(o.ttl);
      const api = ctx.config.controlApi;
      if (api.jwksUrl !== '')
        throw refused(
          'the control API verifies tokens from a JWKS (PEMS_SYNC_JWKS_URL): get a token from that identity provider',
        );
      if (api.jwtSecret === '') throw refused('PEMS_SYNC_JWT_SECRET is not set: there is no secret to sign with');
      const active = await userIsActive(ctx.db, user);
      if (active === undefined)
        throw notFound(`user ${user} does not exist (pems-sync users grant ${user} --organization ORG)`);
      if (!active) throw refused(`user ${user} is inactive: the API would refuse the token`);
      ctx.out(await mintToken(api.jwtSecret, user, ttl, { issuer: api.jwtIssuer, audience: api.jwtAudience }));
    });
}
