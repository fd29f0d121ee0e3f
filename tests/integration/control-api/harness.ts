/**
 * Shared set-up of the control API integration tests: the real Postgres (migrations applied),
 * the API built with buildControlApi, an organization per suite with users of every right,
 * HS256 tokens, and seeding helpers that write rows the way the sink and the read side do.
 */
import { SignJWT } from 'jose';
import type { FastifyInstance } from 'fastify';
import type { Kafka } from 'kafkajs';
import type { Knex } from 'knex';
import { buildControlApi, type ControlApiOptions } from '../../../connectors/control-api/server';
import { createDatabase } from '../../../connectors/postgres/db';
import { applyMirrorVersion } from '../../../connectors/postgres/mirror';
import { loadConfig, type Config, type DeepPartial } from '../../../schemas/config';
import type { PfaRecord } from '../../../streams/pfa-record';
import { testEnv, uniqueId } from '../../support/env';

export const JWT_SECRET = 'control-api-test-secret-0123456789abcdef';

export interface TestOrg {
  id: string;
  /** perm_read only */
  reader: string;
  /** perm_sync */
  syncer: string;
  /** is_admin + perm_sync */
  admin1: string;
  admin2: string;
}

export interface Harness {
  db: Knex;
  config: Config;
  app: FastifyInstance;
  /** http://127.0.0.1:<port> of the listening API. */
  url: string;
  close(): Promise<void>;
}

export function testConfig(overrides: DeepPartial<Config> = {}): Config {
  return loadConfig(process.env, {
    ...overrides,
    database: { url: testEnv.databaseUrl, poolMax: 5, ...(overrides.database ?? {}) },
    controlApi: { jwtSecret: JWT_SECRET, ...(overrides.controlApi ?? {}) },
    log: { level: 'silent' },
  });
}

export async function harness(
  opts: { kafka?: Kafka; config?: DeepPartial<Config> } & Omit<Partial<ControlApiOptions>, 'config' | 'db'> = {},
): Promise<Harness> {
  const { config: overrides, ...rest } = opts;
  const config = testConfig(overrides);
  const db = createDatabase({ url: testEnv.databaseUrl, poolMax: 5, applicationName: 'control-api-test' });
  const app = buildControlApi({ logger: false, ...rest, db, config });
  // A real listen on port 0 (light-my-request's inject needs an ESM-only cookie module jest cannot load).
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    db,
    config,
    app,
    url,
    close: async () => {
      await app.close();
      await db.destroy();
    },
  };
}

export async function createOrg(db: Knex, prefix: string, extra: Record<string, unknown> = {}): Promise<TestOrg> {
  const id = uniqueId(prefix);
  await db('organization').insert({ id, name: `${prefix} test org`, sync_enabled: true, ...extra });
  const users = { reader: `${id}-reader`, syncer: `${id}-syncer`, admin1: `${id}-admin1`, admin2: `${id}-admin2` };
  await db('app_user').insert(Object.values(users).map((u) => ({ id: u, username: u.toLowerCase() })));
  await db('user_organization').insert([
    { user_id: users.reader, organization_id: id, perm_read: true, perm_sync: false, is_admin: false },
    { user_id: users.syncer, organization_id: id, perm_read: true, perm_sync: true, is_admin: false },
    { user_id: users.admin1, organization_id: id, perm_read: true, perm_sync: true, is_admin: true },
    { user_id: users.admin2, organization_id: id, perm_read: true, perm_sync: true, is_admin: true },
  ]);
  return { id, ...users };
}

export async function token(sub: string, secret = JWT_SECRET, expSeconds = 600): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + expSeconds)
    .sign(new TextEncoder().encode(secret));
}

export interface ApiResponse {
  statusCode: number;
  headers: Headers;
  body: string;
  json(): any;
}

/** One HTTP request to the listening API with the user's bearer token (or `headers` as given). */
export async function call(
  h: Pick<Harness, 'url'>,
  user: string | null,
  method: 'GET' | 'POST',
  path: string,
  payload?: unknown,
  headers: Record<string, string> = {},
): Promise<ApiResponse> {
  const all: Record<string, string> = { ...headers };
  if (user) all.authorization = `Bearer ${await token(user)}`;
  if (payload !== undefined) all['content-type'] = 'application/json';
  const res = await fetch(`${h.url}${path}`, {
    method,
    headers: all,
    body: payload === undefined ? undefined : JSON.stringify(payload),
  });
  const body = await res.text();
  return { statusCode: res.status, headers: res.headers, body, json: () => JSON.parse(body) };
}

export function pfaRecord(org: string, pfaId: string, version: number, fields: Partial<PfaRecord> = {}): PfaRecord {
  return {
    pfaId,
    organization: org,
    version,
    updatedAt: new Date(Date.UTC(2026, 0, 1, 0, version)).toISOString(),
    updatedBy: `pems-user-${version}`,
    forecastStart: '2026-01-15',
    forecastEnd: '2026-06-30',
    forecastCategory: 'Baseline',
    category: 'Cranes',
    source: 'Rental',
    dor: 'PROJECT',
    equipment: 'CR-0042',
    monthlyRate: 5500,
    purchasePrice: null,
    isDiscontinued: false,
    isFundsTransferable: true,
    actualEnd: null,
    description: 'crane',
    notes: 'n',
    originalStart: '2026-01-01',
    originalEnd: '2026-05-31',
    class: 'Heavy Lift',
    areaSilo: 'North',
    manufacturer: 'Liebherr',
    model: 'LTM',
    ...fields,
  };
}

/** Mirror + history versions, as the read side records them. */
export async function seedVersions(db: Knex, records: PfaRecord[]): Promise<void> {
  for (const r of records) await applyMirrorVersion(db, { record: r, origin: 'pems' });
}

/** A modification the sink found in conflict, and its sync_conflict row. */
export async function seedConflict(
  db: Knex,
  o: {
    org: string;
    pfaId: string;
    userId: string;
    delta: Record<string, unknown>;
    baseVersion: number;
    pemsVersion: number;
    fields: Array<{ field: string; base: unknown; local: unknown; pems: unknown }>;
    autoMerge?: string[];
  },
): Promise<{ conflictId: string; modificationId: string }> {
  const [mod] = await db('pfa_modification')
    .insert({
      organization_id: o.org,
      pfa_id: o.pfaId,
      user_id: o.userId,
      delta: JSON.stringify(o.delta),
      base_version: o.baseVersion,
      sync_status: 'conflict',
      committed_at: new Date(Date.now() - 60_000),
      attempts: 1,
    })
    .returning('id');
  const [c] = await db('sync_conflict')
    .insert({
      organization_id: o.org,
      pfa_id: o.pfaId,
      modification_id: mod.id,
      base_version: o.baseVersion,
      pems_version: o.pemsVersion,
      fields: JSON.stringify(o.fields),
      auto_merge_fields: JSON.stringify(o.autoMerge ?? []),
    })
    .returning('id');
  return { conflictId: c.id, modificationId: mod.id };
}

/**
 * The organization's rows in every table an action could touch, plus whether each table still
 * exists, for "tables untouched" checks (scoped to the organization: other suites write too).
 */
export async function tableCounts(db: Knex, org: string): Promise<Record<string, number | boolean>> {
  const out: Record<string, number | boolean> = {};
  for (const t of [
    'pfa_modification',
    'sync_conflict',
    'audit_log',
    'rollback_request',
    'dead_letter',
    'notification',
    'pfa_mirror',
    'pfa_mirror_history',
  ]) {
    const [r] = await db(t).where({ organization_id: org }).count<{ n: string }[]>({ n: '*' });
    out[t] = Number(r!.n);
    const exists = await db.raw('SELECT to_regclass(?) IS NOT NULL AS e', [t]);
    out[`${t}:exists`] = exists.rows[0].e as boolean;
  }
  const [orgs] = await db('organization').count<{ n: string }[]>({ n: '*' });
  out['organization:any'] = Number(orgs!.n) > 0;
  return out;
}
