/**
 * Which offsets of a partition may be committed: Kafka commits "the next offset to read", so
 * the commit is one past the end of the contiguous prefix whose effects are durable (Kafka
 * Connect's SinkTask.preCommit; Debezium's JdbcSinkConnectorTask.markProcessed stores
 * offset + 1). Work finishes out of order (a retrying PFA must not hold back others), so a
 * later offset can be done before an earlier one; the commit waits for the earlier one.
 * Pure; offsets are decimal strings (int64) kept as bigint inside.
 */
export class PartitionOffsets {
  /** Offsets handed out and not yet committable, in arrival (= offset) order. */
  private readonly pending: bigint[] = [];
  private readonly done = new Set<bigint>();
  private head = 0;
  private committed: bigint | null = null;

  /** Registers offsets as they are read (ascending, as a partition delivers them). */
  track(offset: string): void {
    const o = BigInt(offset);
    const last = this.pending[this.pending.length - 1];
    if (last !== undefined && o <= last) return; // redelivered after a seek: already tracked
    this.pending.push(o);
  }

  markDone(offset: string): void {
    this.done.add(BigInt(offset));
  }

  /** Offsets read but not yet durable. */
  inFlight(): number {
    return this.pending.length - this.head;
  }

  /**
   * The offset to commit now (string), or null when nothing new is committable. Advances the
   * internal head: call commitFailed() if the commit then fails so it is offered again.
   */
  takeCommittable(): string | null {
    let next: bigint | null = null;
    while (this.head < this.pending.length && this.done.has(this.pending[this.head]!)) {
      const o = this.pending[this.head]!;
      this.done.delete(o);
      next = o + 1n;
      this.head += 1;
    }
    // Compact now and then so a long-lived partition does not grow without bound.
    if (this.head > 1024) {
      this.pending.splice(0, this.head);
      this.head = 0;
    }
    if (next === null) return null;
    this.committed = next;
    return next.toString();
  }

  /** The last offset handed out by takeCommittable (to re-offer after a failed commit). */
  lastTaken(): string | null {
    return this.committed === null ? null : this.committed.toString();
  }
}
