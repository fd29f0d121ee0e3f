/** Edits being sent, with their place in the sink's retry schedule (attempt n, next retry at …). */
import type { Knex } from 'knex';
import type { Config } from '../../schemas/config';
import { sendingProgress } from '../../streams/sending-progress';
import { lastSendsOf, type EditRow } from '../postgres/console-edits';
import type { ShownEdit } from './edit-row';

export async function withSending(db: Knex, config: Config, edits: EditRow[], now: Date): Promise<ShownEdit[]> {
  const syncing = edits.filter((e) => e.syncStatus === 'syncing').map((e) => e.id);
  if (syncing.length === 0) return edits;
  const sends = await lastSendsOf(db, syncing);
  return edits.map((e) =>
    e.syncStatus !== 'syncing'
      ? e
      : {
          ...e,
          sending: sendingProgress({
            claimedAt: e.updatedAt,
            lastSentAt: sends.get(e.id) ?? null,
            priorAttempts: e.attempts,
            now,
            delaysMs: config.retry.delaysMs,
            jitter: config.retry.jitter,
            timeoutMs: config.pems.timeoutMs,
          }),
        },
  );
}
