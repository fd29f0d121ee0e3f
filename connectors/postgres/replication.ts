/** The Debezium connector's logical replication slot, for `pems-sync connector status|restart`. */
import type { Knex } from 'knex';

export interface ReplicationSlot {
  slotName: string;
  active: boolean;
  activePid: number | null;
  /** What the backend holding the slot says it is (application_name, client address). */
  holder: { applicationName: string | null; clientAddr: string | null; backendStart: string | null } | null;
  lagBytes: number | null;
}

export async function replicationSlot(db: Knex, slotName: string): Promise<ReplicationSlot | null> {
  const { rows } = await db.raw(
    `SELECT s.slot_name, s.active, s.active_pid,
            pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::bigint AS lag_bytes,
            a.application_name, a.client_addr::text AS client_addr, a.backend_start
       FROM pg_replication_slots s
       LEFT JOIN pg_stat_activity a ON a.pid = s.active_pid
      WHERE s.slot_name = ?`,
    [slotName],
  );
  const r = rows[0] as Record<string, any> | undefined;
  if (!r) return null;
  return {
    slotName: r.slot_name,
    active: Boolean(r.active),
    activePid: r.active_pid === null ? null : Number(r.active_pid),
    holder:
      r.active_pid === null
        ? null
        : {
            applicationName: r.application_name ?? null,
            clientAddr: r.client_addr ?? null,
            backendStart: r.backend_start ? new Date(r.backend_start).toISOString() : null,
          },
    lagBytes: r.lag_bytes === null ? null : Number(r.lag_bytes),
  };
}

/**
 * Terminates the backend holding `slotName`, but only if it is still `expectedPid` (a backend
 * that took the slot meanwhile is left alone). True when terminated.
 */
export async function terminateSlotHolder(db: Knex, slotName: string, expectedPid: number): Promise<boolean> {
  const { rows } = await db.raw(
    `SELECT pg_terminate_backend(active_pid) AS done FROM pg_replication_slots WHERE slot_name = ? AND active_pid = ?`,
    [slotName, expectedPid],
  );
  return Boolean((rows[0] as { done?: boolean } | undefined)?.done);
}
