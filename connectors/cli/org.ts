/**
 * `pems-sync org add|update|show|list|disable|check|load`: an organization's PEMS connection,
 * from creating the row to the first full load of its mirror.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { checkPemsUrl } from '../../streams/pems-url';
import { describeCredential, encryptCredential, needsReencryption, Secret } from '../pems/credentials';
import { organizationPemsProblem } from '../pems/organization-check';
import {
  getOrganization,
  insertOrganization,
  listOrganizations,
  memberships,
  readSideState,
  updateOrganization,
  type OrganizationInput,
  type OrganizationRow,
} from '../postgres/organizations';
import type { CliContext } from './context';
import { checkOrganization } from './org-check';
import { loadOrganization } from './org-load';
import { details, EXIT, notFound, refused, table, usage } from './output';

const ORG_ID = /^[A-Za-z0-9_.-]{1,64}$/;

export function organizationId(raw: string): string {
  if (!ORG_ID.test(raw))
    throw usage(`organization id '${raw}' must be 1-64 letters, digits, '.', '_' or '-' (the PEMS organization code)`);
  return raw;
}

/** The credential from --credential-file or --credential-stdin, without a trailing newline. */
export async function readCredential(
  ctx: CliContext,
  opts: { credentialFile?: string; credentialStdin?: boolean },
): Promise<Secret | undefined> {
  if (opts.credentialFile && opts.credentialStdin)
    throw usage('give the credential either with --credential-file or with --credential-stdin, not both');
  let text: string | undefined;
  if (opts.credentialFile) {
    try {
      text = readFileSync(opts.credentialFile, 'utf8');
    } catch (e) {
      throw usage(
        `--credential-file ${opts.credentialFile}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`,
      );
    }
  } else if (opts.credentialStdin) {
    if (ctx.io.stdin.isTTY) ctx.err('reading the PEMS API key from stdin (end with Ctrl-D)...');
    const chunks: Buffer[] = [];
    for await (const c of ctx.io.stdin) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(String(c)));
    text = Buffer.concat(chunks).toString('utf8');
  }
  if (text === undefined) return undefined;
  const key = text.replace(/\r?\n$/, '');
  if (key.trim() === '') throw usage('the credential is empty');
  if (/[\r\n]/.test(key)) throw usage('the credential has more than one line: give only the API key');
  return new Secret(key);
}

function checkedUrl(ctx: CliContext, raw: string): string {
  const v = checkPemsUrl(raw, {
    allowInsecureHttp: ctx.config.pems.allowInsecureHttp,
    allowedHosts: ctx.config.pems.allowedHosts,
  });
  if (!v.ok) throw usage(`--pems-url: ${v.reason}`);
  return raw.replace(/\/+$/, '');
}

interface OrgOptions {
  name?: string;
  pemsUrl?: string;
  tenant?: string;
  credentialFile?: string;
  credentialStdin?: boolean;
  enableSync?: boolean;
  disableSync?: boolean;
  json?: boolean;
}

async function input(ctx: CliContext, id: string, o: OrgOptions): Promise<OrganizationInput & { keyId?: string }> {
  if (o.enableSync && o.disableSync) throw usage('--enable-sync and --disable-sync contradict each other');
  const out: OrganizationInput & { keyId?: string } = {};
  if (o.name !== undefined) {
    if (o.name.trim() === '') throw usage('--name is empty');
    out.name = o.name;
  }
  if (o.pemsUrl !== undefined) out.pemsBaseUrl = checkedUrl(ctx, o.pemsUrl);
  if (o.tenant !== undefined) {
    if (o.tenant.trim() === '') throw usage('--tenant is empty');
    out.pemsTenant = o.tenant;
  }
  const credential = await readCredential(ctx, o);
  if (credential) {
    const ring = ctx.keyRing();
    out.credentialEncrypted = encryptCredential(credential, ring, id);
    out.keyId = ring.primary;
  }
  if (o.enableSync) out.syncEnabled = true;
  if (o.disableSync) out.syncEnabled = false;
  return out;
}

/** What `org show` prints: never the ciphertext, only its format and key. */
export function publicView(org: OrganizationRow, ctx: CliContext): Record<string, unknown> {
  let credential: Record<string, unknown> | null = null;
  if (org.credentialEncrypted) {
    try {
      const d = describeCredential(org.credentialEncrypted);
      let stale: boolean | null = null;
      try {
        stale = needsReencryption(org.credentialEncrypted, ctx.keyRing());
      } catch {
        stale = null;
      }
      credential = { format: d.version, keyId: d.keyId, needsReencryption: stale };
    } catch (e) {
      credential = { format: 'unreadable', problem: (e as Error).message };
    }
  }
  const problem = organizationPemsProblem(
    { id: org.id, pems_base_url: org.pemsBaseUrl, pems_credential_encrypted: org.credentialEncrypted },
    ctx.config,
  );
  return {
    id: org.id,
    name: org.name,
    syncEnabled: org.syncEnabled,
    pemsBaseUrl: org.pemsBaseUrl,
    pemsTenant: org.pemsTenant,
    credential,
    problem,
    createdAt: org.createdAt,
    updatedAt: org.updatedAt,
  };
}

const SYNC_HELP = `
Sync stays off until --enable-sync (org add) or \`org update ID --enable-sync\`: load the mirror
first (\`org load\`), because edits are checked against the mirror's version of each record.`;

export function registerOrg(program: Command, ctx: CliContext): void {
  const org = program
    .command('org')
    .description("organizations: their PEMS URL, tenant and credential, and the mirror's first load");

  org
    .command('add <id>')
    .description(
      'create an organization with its PEMS URL (https; pems.allowedHosts), tenant and credential (encrypted with the newest key)',
    )
    .requiredOption('--name <name>', 'display name')
    .requiredOption('--pems-url <url>', 'PEMS API base URL, e.g. https://pems.example.com/api/pems')
    .requiredOption('--tenant <tenant>', 'PEMS tenant')
    .option('--credential-file <path>', 'file holding the PEMS API key (one line)')
    .option('--credential-stdin', 'read the PEMS API key from standard input')
    .option('--enable-sync', 'enable write-back at once (default: off until the mirror is loaded)')
    .option('--json', 'print the organization as JSON')
    .addHelpText(
      'after',
      `${SYNC_HELP}

Examples:
  printf '%s' "$PEMS_API_KEY" | pems-sync org add RIO --name "Rio site" --pems-url https://pems.example.com/api/pems --tenant PEMS --credential-stdin
  pems-sync org add BEO --name Belo --pems-url https://pems.example.com/api/pems --tenant PEMS --credential-file beo.key`,
    )
    .action(async (rawId: string, o: OrgOptions) => {
      const id = organizationId(rawId);
      if (!o.credentialFile && !o.credentialStdin)
        throw usage('a credential is required: --credential-file PATH or --credential-stdin');
      const values = await input(ctx, id, o);
      const { keyId, ...row } = values;
      const created = await insertOrganization(ctx.db, id, {
        ...row,
        name: o.name!,
        syncEnabled: o.enableSync ?? false,
      });
      if (!created)
        throw refused(`organization ${id} exists already: change it with \`pems-sync org update ${id} ...\``);
      const shown = publicView((await getOrganization(ctx.db, id))!, ctx);
      if (ctx.config.pems.allowedHosts.length === 0) {
        ctx.err(
          ctx.errPaint.warn(
            'note: PEMS_SYNC_PEMS_ALLOWED_HOSTS is empty, so any host is accepted; list your PEMS hosts there (for every process) in production',
          ),
        );
      }
      ctx.emit(
        Boolean(o.json),
        shown,
        () =>
          `${ctx.paint.ok('added')} organization ${id} (credential encrypted with key ${keyId}, bound to ${id}; sync ${o.enableSync ? 'enabled' : 'disabled'})\nnext: pems-sync org check ${id}`,
      );
    });

  org
    .command('update <id>')
    .description(
      "change an organization's name, PEMS URL, tenant, credential or sync switch (the sink notices at once)",
    )
    .option('--name <name>', 'display name')
    .option('--pems-url <url>', 'PEMS API base URL (https; pems.allowedHosts)')
    .option('--tenant <tenant>', 'PEMS tenant')
    .option('--credential-file <path>', 'file holding the new PEMS API key')
    .option('--credential-stdin', 'read the new PEMS API key from standard input')
    .option('--enable-sync', 'enable write-back')
    .option('--disable-sync', 'disable write-back')
    .option('--json', 'print the organization as JSON')
    .addHelpText(
      'after',
      `
Examples:
  pems-sync org update RIO --enable-sync
  pems-sync org update RIO --pems-url https://pems2.example.com/api/pems
  pems-sync org update RIO --credential-file new.key && pems-sync dlq replay --organization RIO --all --as ops-admin`,
    )
    .action(async (rawId: string, o: OrgOptions) => {
      const id = organizationId(rawId);
      const { keyId, ...row } = await input(ctx, id, o);
      if (Object.keys(row).length === 0) throw usage('nothing to change: give at least one option (see --help)');
      if (!(await updateOrganization(ctx.db, id, row))) throw notFound(`organization ${id} does not exist`);
      const shown = publicView((await getOrganization(ctx.db, id))!, ctx);
      ctx.emit(
        Boolean(o.json),
        shown,
        () =>
          `${ctx.paint.ok('updated')} organization ${id}: ${Object.keys(row).join(', ')}${keyId ? ` (credential under key ${keyId})` : ''}`,
      );
    });

  org
    .command('show <id>')
    .description('one organization: settings, credential key id (never the key), problems, mirror size and members')
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExamples:\n  pems-sync org show RIO\n  pems-sync org show RIO --json | jq .credential')
    .action(async (rawId: string, o: { json?: boolean }) => {
      const id = organizationId(rawId);
      const row = await getOrganization(ctx.db, id);
      if (!row) throw notFound(`organization ${id} does not exist`);
      const view = publicView(row, ctx);
      const [side, members] = await Promise.all([
        readSideState(ctx.db, id),
        memberships(ctx.db, { organizationId: id }),
      ]);
      const all = { ...view, mirrorRecords: side.mirrorRecords, readSide: side.cursor, members };
      ctx.emit(Boolean(o.json), all, () => {
        const cred = view.credential as Record<string, unknown> | null;
        const problem = view.problem as { setting: string; reason: string } | null;
        return [
          details({
            id: view.id,
            name: view.name,
            sync: view.syncEnabled ? 'enabled' : 'disabled',
            'PEMS URL': view.pemsBaseUrl,
            tenant: view.pemsTenant,
            credential: cred
              ? `${cred.format} key ${cred.keyId ?? '?'}${cred.needsReencryption ? ' (re-encrypt: pems-sync credentials rotate)' : ''}`
              : 'none',
            problem: problem ? ctx.paint.bad(`${problem.setting}: ${problem.reason}`) : 'none',
            mirror: `${side.mirrorRecords} records${side.cursor ? ` (read side: ${String(side.cursor.mode)})` : ' (not loaded: pems-sync org load)'}`,
          }),
          '',
          members.length === 0
            ? 'no members (pems-sync users grant)'
            : table(members as unknown as Array<Record<string, unknown>>, [
                'userId',
                'read',
                'sync',
                'admin',
                'active',
              ]),
        ].join('\n');
      });
    });

  org
    .command('list')
    .description('every organization, with its sync switch and whether its PEMS settings are usable')
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExamples:\n  pems-sync org list\n  pems-sync org list --json')
    .action(async (o: { json?: boolean }) => {
      const rows = (await listOrganizations(ctx.db)).map((r) => publicView(r, ctx));
      ctx.emit(Boolean(o.json), rows, () =>
        rows.length === 0
          ? 'no organizations (pems-sync org add)'
          : table(
              rows.map((r) => ({
                ...r,
                sync: r.syncEnabled ? 'on' : 'off',
                problem: r.problem ? (r.problem as { setting: string }).setting : '',
              })),
              ['id', 'name', 'sync', 'pemsBaseUrl', 'pemsTenant', 'problem'],
            ),
      );
    });

  org
    .command('disable <id>')
    .description(
      "stop write-back for an organization (its edits are then rejected as 'sync disabled'; nothing is deleted)",
    )
    .option('--json', 'print the organization as JSON')
    .addHelpText('after', '\nExamples:\n  pems-sync org disable RIO')
    .action(async (rawId: string, o: { json?: boolean }) => {
      const id = organizationId(rawId);
      if (!(await updateOrganization(ctx.db, id, { syncEnabled: false })))
        throw notFound(`organization ${id} does not exist`);
      const shown = publicView((await getOrganization(ctx.db, id))!, ctx);
      ctx.emit(Boolean(o.json), shown, () => `${ctx.paint.warn('disabled')} sync for organization ${id}`);
    });

  org
    .command('check <id>')
    .description(
      "connect to the organization's PEMS with its credential: settings, health, one authenticated read, rate limit",
    )
    .option('--json', 'print the checks as JSON')
    .addHelpText(
      'after',
      '\nExit code 1 when a check fails; each failed check says what is wrong and what to change.\n\nExamples:\n  pems-sync org check RIO\n  pems-sync org check RIO --json',
    )
    .action(async (rawId: string, o: { json?: boolean }) => {
      const id = organizationId(rawId);
      const result = await checkOrganization(ctx, id);
      ctx.emit(Boolean(o.json), result, () =>
        result.checks
          .map((c) => `${c.ok ? ctx.paint.ok('ok  ') : ctx.paint.bad('FAIL')}  ${c.check.padEnd(22)} ${c.detail}`)
          .join('\n'),
      );
      if (!result.ok) process.exitCode = EXIT.FAILED;
    });

  org
    .command('load <id>')
    .description("the mirror's initial full load from PEMS through the read side (raw topic → mirror); resumable")
    .option('--timeout <seconds>', 'give up waiting for the mirror after this long', '600')
    .option('--json', 'print the summary as JSON')
    .addHelpText(
      'after',
      `
Pages are produced to the raw topic and the mirror stream writes them to pfa_mirror; the cursor is
stored after every page, so an interrupted load (Ctrl-C, a crash) resumes where it stopped when run
again. A running read side (npm run source) may do the same work at the same time: one of them
polls an organization at a time.

Examples:
  pems-sync org load RIO
  pems-sync org load RIO --json`,
    )
    .action(async (rawId: string, o: { timeout: string; json?: boolean }) => {
      const id = organizationId(rawId);
      const timeout = Number(o.timeout);
      if (!Number.isInteger(timeout) || timeout <= 0)
        throw usage(`--timeout must be a positive number of seconds, got '${o.timeout}'`);
      const summary = await loadOrganization(ctx, id, timeout * 1000);
      ctx.emit(
        Boolean(o.json),
        summary,
        () =>
          `${ctx.paint.ok('loaded')} organization ${id}: ${summary.recordsProduced} records read from PEMS in ${summary.pages} pages; mirror holds ${summary.mirrorRecords} records (${summary.mode})`,
      );
    });
}
