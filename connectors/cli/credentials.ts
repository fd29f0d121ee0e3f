/**
 * `pems-sync credentials rotate`: re-encrypt every organization's PEMS credential under the
 * newest key (the first of PEMS_SYNC_CREDENTIAL_KEYS), bound to its organization (v2), then say
 * which key ids are still in use, so an old key can be retired once none is.
 */
import type { Command } from 'commander';
import { decryptCredential, describeCredential, encryptCredential, needsReencryption } from '../pems/credentials';
import { listOrganizations, replaceCredential } from '../postgres/organizations';
import type { CliContext } from './context';
import { EXIT, table } from './output';

export interface RotationResult {
  primaryKey: string;
  reencrypted: string[];
  alreadyCurrent: string[];
  failed: Array<{ organization: string; reason: string }>;
  /** After the run: key id (and format) → organizations using it. */
  keysInUse: Record<string, number>;
  dryRun: boolean;
}

export async function rotateCredentials(
  ctx: CliContext,
  dryRun: boolean,
  only?: readonly string[],
): Promise<RotationResult> {
  const ring = ctx.keyRing();
  const out: RotationResult = {
    primaryKey: ring.primary,
    reencrypted: [],
    alreadyCurrent: [],
    failed: [],
    keysInUse: {},
    dryRun,
  };
  for (const org of await listOrganizations(ctx.db)) {
    const ct = org.credentialEncrypted;
    if (!ct || (only && !only.includes(org.id))) continue;
    let final = ct;
    try {
      if (!needsReencryption(ct, ring)) out.alreadyCurrent.push(org.id);
      else {
        const next = encryptCredential(decryptCredential(ct, ring, org.id), ring, org.id);
        if (!dryRun) {
          if (!(await replaceCredential(ctx.db, org.id, ct, next)))
            throw new Error('the credential changed while rotating; run again');
          final = next;
        }
        out.reencrypted.push(org.id);
      }
    } catch (e) {
      out.failed.push({ organization: org.id, reason: (e as Error).message });
    }
    try {
      const d = describeCredential(final);
      const k = `${d.keyId} (${d.version})`;
      out.keysInUse[k] = (out.keysInUse[k] ?? 0) + 1;
    } catch {
      out.keysInUse['unreadable'] = (out.keysInUse['unreadable'] ?? 0) + 1;
    }
  }
  return out;
}

export function registerCredentials(program: Command, ctx: CliContext): void {
  const credentials = program.command('credentials').description("organizations' PEMS credentials at rest");
  credentials
    .command('rotate')
    .description(
      're-encrypt every credential under the newest key, bound to its organization; report key ids still in use',
    )
    .option('--dry-run', 'say what would be re-encrypted, change nothing')
    .option('-o, --organization <ids...>', 'only these organizations (default: all)')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
Rotation: put the new key first in PEMS_SYNC_CREDENTIAL_KEYS (every process), keep the old one,
run this, and retire the old key once it is no longer listed as in use. Credentials of the older
v1 format (not bound to their organization) are rewritten as v2 by the same run.
Exit code 1 when a credential could not be decrypted (its organization is named).

Examples:
  PEMS_SYNC_CREDENTIAL_KEYS="k2:$NEW,k1:$OLD" pems-sync credentials rotate
  pems-sync credentials rotate --dry-run --json`,
    )
    .action(async (o: { dryRun?: boolean; organization?: string[]; json?: boolean }) => {
      const r = await rotateCredentials(ctx, Boolean(o.dryRun), o.organization);
      ctx.emit(Boolean(o.json), r, () =>
        [
          `${o.dryRun ? 'would re-encrypt' : 're-encrypted'} ${r.reencrypted.length} under key ${r.primaryKey}${r.reencrypted.length ? `: ${r.reencrypted.join(', ')}` : ''}; ${r.alreadyCurrent.length} already current`,
          ...r.failed.map((f) => ctx.paint.bad(`FAILED ${f.organization}: ${f.reason}`)),
          'key ids in use:',
          table(
            Object.entries(r.keysInUse).map(([key, organizations]) => ({ key, organizations })),
            ['key', 'organizations'],
          ),
        ].join('\n'),
      );
      if (r.failed.length > 0) process.exitCode = EXIT.FAILED;
    });
}
