/**
 * The console's open live streams (server-sent events), so the server's close can end them:
 * fastify's close() waits for every open response, and a stream never ends by itself.
 *
 * A stream whose request was already in its pre-handlers when close() began registers after the
 * ends were called; it is ended at once, instead of holding close() open forever.
 */
export class LiveStreams {
  private readonly open = new Set<() => void>();
  private closing = false;

  /** Registers a stream's end function; when the server is already closing, calls it now. */
  add(end: () => void): void {
    if (this.closing) {
      end();
      return;
    }
    this.open.add(end);
  }

  delete(end: () => void): void {
    this.open.delete(end);
  }

  get size(): number {
    return this.open.size;
  }

  /** Ends every open stream, and every stream registered from now on. */
  endAll(): void {
    this.closing = true;
    for (const end of [...this.open]) end();
  }
}
