/**
 * A network fault between a kafkajs client and the real broker: the broker handles a request,
 * and its answer never reaches the client. kafkajs's own sockets (its default socket factory)
 * carry the bytes; this factory reads the Kafka framing on them (a 4-byte size, then the request
 * header: api key, api version, correlation id; answers: the correlation id) to find the answer
 * to a produce request, and closes the connection instead of delivering it. While `refuse` is
 * on, every new connection goes to a closed port, as if the broker were down.
 *
 * Nothing of Kafka is mocked: the broker stores the batch. Only its answer is lost.
 */
import net from 'node:net';
import type { ISocketFactory } from 'kafkajs';

const PRODUCE = 0;

export interface LostAnswers {
  socketFactory: ISocketFactory;
  /**
   * Lose the answer to the next produce request (counts up); with thenRefuse, `refuse` turns on
   * as it is lost, so kafkajs's retries find the broker down.
   */
  loseNextProduceAnswer(opts?: { thenRefuse?: boolean }): void;
  /** New connections fail (ECONNREFUSED) while true. */
  refuse: boolean;
  /** Produce answers lost so far. */
  readonly lost: number;
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** Reads whole Kafka frames (size-prefixed) out of a byte stream. */
class Frames {
  private pending = Buffer.alloc(0);
  push(chunk: Buffer): Buffer[] {
    this.pending = Buffer.concat([this.pending, chunk]);
    const out: Buffer[] = [];
    while (this.pending.length >= 4) {
      const size = this.pending.readInt32BE(0);
      if (this.pending.length < 4 + size) break;
      out.push(this.pending.subarray(0, 4 + size));
      this.pending = this.pending.subarray(4 + size);
    }
    return out;
  }
}

export async function lostAnswers(): Promise<LostAnswers> {
  const refusedPort = await closedPort();
  let armed = 0;
  let lost = 0;
  let refuseOnLoss = false;
  const state: LostAnswers = {
    refuse: false,
    get lost() {
      return lost;
    },
    loseNextProduceAnswer: (opts = {}) => {
      armed++;
      refuseOnLoss = opts.thenRefuse ?? false;
    },
    socketFactory: ({ host, port, onConnect }) => {
      const socket = state.refuse
        ? net.connect({ host: '127.0.0.1', port: refusedPort }, onConnect)
        : net.connect({ host, port }, onConnect);
      socket.setKeepAlive(true, 60_000);
      const apiKeyOf = new Map<number, number>();
      const outgoing = new Frames();
      const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
      socket.write = ((data: unknown, ...rest: unknown[]) => {
        if (Buffer.isBuffer(data)) {
          for (const f of outgoing.push(data)) apiKeyOf.set(f.readInt32BE(8), f.readInt16BE(4));
        }
        return write(data, ...rest);
      }) as typeof socket.write;
      const on = socket.on.bind(socket);
      socket.on = ((event: string, listener: (...args: unknown[]) => void) => {
        if (event !== 'data') return on(event, listener);
        const incoming = new Frames();
        return on('data', (chunk: Buffer) => {
          for (const f of incoming.push(chunk)) {
            if (socket.destroyed) return;
            if (armed > 0 && apiKeyOf.get(f.readInt32BE(4)) === PRODUCE) {
              armed--;
              lost++;
              if (refuseOnLoss) state.refuse = true;
              socket.destroy(Object.assign(new Error('read ECONNRESET (the answer was lost)'), { code: 'ECONNRESET' }));
              return;
            }
            listener(f);
          }
        });
      }) as typeof socket.on;
      return socket;
    },
  };
  return state;
}
