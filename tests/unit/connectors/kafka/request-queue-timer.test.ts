import { installRequestQueueTimerFix, kafkajsRequestQueue } from '../../../../connectors/kafka/request-queue-timer';

/** kafkajs's own RequestQueue (the class its broker connections use), with the fix installed. */
type Queue = {
  pending: unknown[];
  inflight: Map<number, unknown>;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  throttledUntil: number;
  push(r: { entry: Record<string, unknown>; expectResponse: boolean; sendRequest: () => void }): void;
  fulfillRequest(r: { correlationId: number; payload: Buffer; size: number }): void;
  maybeThrottle(ms: number): void;
  destroy(): void;
};

const silent = { debug: () => undefined, warn: () => undefined, error: () => undefined, info: () => undefined };

const queues: Queue[] = [];

function newQueue(maxInFlightRequests: number): Queue {
  const RequestQueue = kafkajsRequestQueue() as unknown as new (o: Record<string, unknown>) => Queue;
  const queue = new RequestQueue({
    maxInFlightRequests,
    requestTimeout: 30_000,
    enforceRequestTimeout: false,
    clientId: 'request-queue-timer-test',
    broker: 'localhost:0',
    logger: silent,
  });
  queues.push(queue);
  return queue;
}

function request(queue: Queue, correlationId: number, sent: number[]): Promise<unknown> {
  return new Promise((resolve, reject) =>
    queue.push({
      entry: { correlationId, resolve, reject, apiKey: 3, apiName: 'Metadata', apiVersion: 0 },
      expectResponse: true,
      sendRequest: () => sent.push(correlationId),
    }),
  );
}

const answer = (queue: Queue, correlationId: number): void =>
  queue.fulfillRequest({ correlationId, payload: Buffer.alloc(0), size: 0 });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('kafkajs request queue: the pending-requests check', () => {
  beforeAll(() => installRequestQueueTimerFix());
  afterEach(() => queues.splice(0).forEach((q) => q.destroy()));

  it('is not armed once every request is answered (kafkajs 2.2.4 re-armed it every millisecond)', async () => {
    const queue = newQueue(1);
    const sent: number[] = [];
    const first = request(queue, 1, sent);
    const second = request(queue, 2, sent); // over the in-flight bound: waits
    expect(queue.pending).toHaveLength(1);
    expect(queue.throttleCheckTimeoutId).not.toBeNull();
    answer(queue, 1);
    await first;
    expect(sent).toEqual([1, 2]); // the answer sent the waiting request at once
    answer(queue, 2);
    await second;
    await sleep(30);
    expect(queue.pending).toHaveLength(0);
    expect(queue.throttleCheckTimeoutId).toBeNull();
  });

  it('still sends a request held by a client-side throttle when the throttle ends', async () => {
    const queue = newQueue(10);
    const sent: number[] = [];
    queue.maybeThrottle(60);
    const held = request(queue, 7, sent);
    expect(sent).toEqual([]);
    await sleep(120);
    expect(sent).toEqual([7]);
    answer(queue, 7);
    await held;
    await sleep(30);
    expect(queue.throttleCheckTimeoutId).toBeNull();
  });

  it('is installed once, however often it is asked', () => {
    const RequestQueue = kafkajsRequestQueue();
    const patched = RequestQueue.prototype.scheduleCheckPendingRequests;
    installRequestQueueTimerFix();
    expect(RequestQueue.prototype.scheduleCheckPendingRequests).toBe(patched);
  });
});
