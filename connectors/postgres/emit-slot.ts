/**
 * The emitter's slot: the lowest free Postgres advisory lock of a namespace (the sink's consumer
 * group), held on one pooled connection for the process's life. The slot number is the emitter's
 * Kafka transactional id, so a restarted process takes its predecessor's id and fences it
 * (connectors/sink/emit.ts).
 */
import type { Knex } from 'knex';

export interface EmitSlot {
  /** The pooled connection that holds the lock. */
  connection: unknown;
  n: number;
}

/** Takes the lowest free slot below `maxSlots`, or null when every one is held. */
export async function takeEmitSlot(db: Knex, namespace: string, maxSlots: number): Promise<EmitSlot | null> {
  const connection = await db.client.acquireConnection();
  try {
    for (let n = 0; n < maxSlots; n++) {
      const r = await db
        .raw('SELECT pg_try_advisory_lock(hashtext(?), ?) AS ok', [namespace, n])
        .connection(connection);
      if ((r.rows as Array<{ ok: boolean }>)[0]?.ok) return { connection, n };
    }
  } catch (err) {
    await db.client.releaseConnection(connection);
    throw err;
  }
  await db.client.releaseConnection(connection);
  return null;
}

/**
 * Gives the slot up (best effort on the unlock: a closed connection holds no lock) and returns
 * its connection to the pool.
 */
export async function releaseEmitSlot(db: Knex, slot: EmitSlot): Promise<void> {
  await db
    .raw('SELECT pg_advisory_unlock_all()')
    .connection(slot.connection)
    .catch(() => undefined);
  await db.client.releaseConnection(slot.connection);
}
