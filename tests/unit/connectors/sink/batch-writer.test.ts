import type { BatchItem, BatchItemResult, PemsClient, RequestSlot } from '../../../../connectors/pems';
import { BatchWriter } from '../../../../connectors/sink/write';

/** A PEMS client that counts token reservations, what became of them, and the requests sent. */
function countingClient(answerMs = 5): {
  client: PemsClient;
  reserved: () => number;
  cancelled: () => number;
  requests: BatchItem[][];
} {
  let reserved = 0;
  let cancelled = 0;
  const requests: BatchItem[][] = [];
  const client = {
    organization: 'RIO',
    reserveRequest: async (): Promise<RequestSlot> => {
      reserved += 1;
      await new Promise((r) => setTimeout(r, 1));
      return { waitedMs: 0, release: async () => undefined, cancel: async () => void (cancelled += 1) };
    },
    batchUpdate: async (items: BatchItem[]): Promise<BatchItemResult[]> => {
      requests.push(items);
      await new Promise((r) => setTimeout(r, answerMs));
      return items.map(() => ({ status: 'updated' }) as never);
    },
  } as unknown as PemsClient;
  return { client, reserved: () => reserved, cancelled: () => cancelled, requests };
}

const item = (pfaId: string): BatchItem => ({ pfaId, expectedVersion: 1, changes: { notes: 'x' } }) as never;

describe('the batch writer reserves only the tokens its queue needs', () => {
  it('when one item is queued, then one token is reserved and one request sent (not one per free request slot)', async () => {
    const c = countingClient();
    const w = new BatchWriter({ maxInFlight: 4, lingerMs: 1 });
    await w.update(c.client, item('A'));
    expect(c.requests).toHaveLength(1);
    expect(c.reserved()).toBe(1);
    expect(c.cancelled()).toBe(0);
  });

  it('when 250 items are queued at once, then three tokens are reserved and every item goes in one of three requests', async () => {
    const c = countingClient();
    const w = new BatchWriter({ maxInFlight: 4, lingerMs: 1 });
    await Promise.all(Array.from({ length: 250 }, (_, i) => w.update(c.client, item(`P${i}`))));
    expect(c.requests.map((r) => r.length).sort((a, b) => b - a)).toEqual([100, 100, 50]);
    expect(c.reserved()).toBe(3);
  });

  it('when two items of one PFA are queued, then they go in two requests, one after the other, each with its token', async () => {
    const c = countingClient();
    const w = new BatchWriter({ maxInFlight: 4, lingerMs: 1 });
    await Promise.all([w.update(c.client, item('A')), w.update(c.client, item('A'))]);
    expect(c.requests.map((r) => r.length)).toEqual([1, 1]);
    expect(c.reserved()).toBe(2);
    expect(c.cancelled()).toBe(0);
  });

  it('when the write-ahead intents cannot be stored, then the token is cancelled (nothing was sent) and the items fail retriably', async () => {
    const c = countingClient();
    const w = new BatchWriter({
      lingerMs: 1,
      beforeSend: async () => {
        throw new Error('postgres down');
      },
    });
    await expect(w.update(c.client, item('A'))).rejects.toMatchObject({ code: 'PEMS_SYNC_INTENT_STORE_UNAVAILABLE' });
    expect(c.cancelled()).toBe(1);
    expect(c.requests).toHaveLength(0);
  });
});
