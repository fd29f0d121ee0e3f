/**
 * The check room: for claimed edits, loads what the decision needs (the organization and its
 * PEMS client, perm_Sync of each user, the mirror's record, the base versions, this sink's own
 * earlier writes, write intents a stopped instance left) and decides, before any PEMS call,
 * which edits are rejected (streams/precheck.ts). The rest go on with their context to the
 * lanes; the PEMS-side checks happen in the write room against the freshest record.
 */
import type { Knex } from 'knex';
import { pfaKey } from '../../streams/grouping';
import type { Outcome } from '../../streams/outcomes';
import type { PfaRecord } from '../../streams/pfa-record';
import { precheck } from '../../streams/precheck';
import { loadBaseVersions, loadMirrors, loadOwnWrites, loadWriteIntents } from '../postgres/sink-store';
import { permissionKey, type SyncContext } from './context';
import type { LaneContext, LaneItem, WriteIntent } from './work';

export type Checked = { item: LaneItem; rejected: Outcome } | { item: LaneItem; rejected: null; ctx: LaneContext };

export class Check {
  constructor(private readonly opts: { db: Knex; context: SyncContext }) {}

  /** Write-ahead intents left for modifications that were claimed again from 'syncing' (resumed). */
  intents(resumedIds: readonly string[]): Promise<WriteIntent[]> {
    return loadWriteIntents(this.opts.db, resumedIds);
  }

  /** Loads and decides for each live item, in order. Throws only while loading (nothing decided yet). */
  async check(live: readonly LaneItem[], intents: readonly WriteIntent[]): Promise<Checked[]> {
    const { db, context } = this.opts;
    const mods = live.map((w) => w.modification);
    const orgs = await context.organizations([...new Set(mods.map((m) => m.organizationId))]);
    const permitted = await context.syncPermissions(
      mods.map((m) => ({ userId: m.userId, organizationId: m.organizationId })),
    );
    const pfas = [...new Map(mods.map((m) => [pfaKey(m.organizationId, m.pfaId), m])).values()];
    const mirrors = await loadMirrors(db, pfas);
    // An edit made on the version the mirror holds has that record as its base: only the others
    // read the history (most edits, and a whole backlog's, are made on the current version).
    const history = await loadBaseVersions(
      db,
      mods.filter((m) => mirrors.get(pfaKey(m.organizationId, m.pfaId))?.version !== m.baseVersion),
    );
    for (const [key, mirror] of mirrors) {
      const versions = history.get(key) ?? new Map<number, PfaRecord>();
      versions.set(mirror.version, mirror);
      history.set(key, versions);
    }
    const ownWrites = await loadOwnWrites(db, mods);
    return live.map((item): Checked => {
      const m = item.modification;
      const org = orgs.get(m.organizationId)!;
      const rejected = precheck(m, {
        syncEnabled: org.syncEnabled,
        permitted: permitted.has(permissionKey(m.userId, m.organizationId)),
      });
      if (rejected) return { item, rejected };
      const key = pfaKey(m.organizationId, m.pfaId);
      return {
        item,
        rejected: null,
        ctx: {
          org,
          mirror: mirrors.get(key) ?? null,
          history: history.get(key) ?? new Map(),
          ownWrites: ownWrites.get(key) ?? [],
          intents: intents.filter((i) => i.modificationIds.includes(m.id)),
        },
      };
    });
  }
}
