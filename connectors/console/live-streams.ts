/**
 * The console's open live streams (server-sent events), so the server's close can end them:
 * fastify's close() waits for every open response, and a stream never ends by itself.
 *
 * A stream whose request was already in its pre-handlers when close() began registers after the
 * ends were called; it is ended at once, instead of holding close() open forever.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

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

/** What a live stream's tick may do. */
export interface LiveTick {
  /** Writes one event; data of several lines goes as several data: lines. */
  send(event: string, data: string, id?: string): void;
  /** Ends the stream (for example: the session ended). */
  end(): void;
  /** The browser went away or the server is closing: write nothing more. */
  readonly stopped: boolean;
}

export interface LiveStreamOptions {
  intervalMs: number;
  /** One round: read and send what changed. Runs again intervalMs after it settles. */
  tick(t: LiveTick): Promise<void>;
  /** A tick threw: log it, tell the browser if it should know; the stream goes on. */
  failed(err: unknown, t: LiveTick): void;
}

/**
 * Serves a server-sent event stream on a hijacked reply: the headers, the browser's retry
 * interval, one tick at a time, and the end when the browser leaves, the tick ends it, or the
 * server closes (streams).
 */
export function serveLiveStream(
  req: FastifyRequest,
  reply: FastifyReply,
  streams: LiveStreams,
  opts: LiveStreamOptions,
): void {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.write('retry: 2000\n\n');
  let timer: NodeJS.Timeout | undefined;
  const t: LiveTick = {
    stopped: false,
    send(event, data, id) {
      if (t.stopped) return;
      const lines = data.split('\n').map((l) => `data: ${l}`);
      res.write(`${id === undefined ? '' : `id: ${id}\n`}event: ${event}\n${lines.join('\n')}\n\n`);
    },
    end() {
      stop();
      res.end();
    },
  };
  const stop = (): void => {
    (t as { stopped: boolean }).stopped = true;
    if (timer) clearTimeout(timer);
    streams.delete(t.end);
  };
  streams.add(t.end);
  req.raw.on('close', stop);
  const round = async (): Promise<void> => {
    if (t.stopped) return;
    try {
      await opts.tick(t);
    } catch (err) {
      opts.failed(err, t);
    }
    if (!t.stopped) timer = setTimeout(() => void round(), opts.intervalMs);
  };
  void round();
}
