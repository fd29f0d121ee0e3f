import { randomBytes } from 'node:crypto';
import { Partitioners, type PartitionMetadata } from 'kafkajs';
import { javaCompatiblePartitioner, murmur2, partitionOfKey } from '../../../../connectors/kafka/partitioner';

const metadata = (n: number, down: number[] = []): PartitionMetadata[] =>
  Array.from({ length: n }, (_, i) => ({
    partitionId: i,
    leader: down.includes(i) ? -1 : 0,
    replicas: [0],
    isr: [0],
    offlineReplicas: [],
    partitionErrorCode: 0,
  }));

describe('javaCompatiblePartitioner', () => {
  it("gives Kafka's own murmur2 values (the Java client's UtilsTest vectors)", () => {
    const vectors: Array<[string, number]> = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [key, want] of vectors) expect([key, murmur2(Buffer.from(key))]).toEqual([key, want]);
  });

  it("puts every keyed record where kafkajs's DefaultPartitioner puts it", () => {
    const ours = javaCompatiblePartitioner();
    const theirs = Partitioners.DefaultPartitioner();
    const differ: string[] = [];
    for (let i = 0; i < 3000; i++) {
      // Every length from 0 to 99 (each tail length), random bytes, as Buffer and as text.
      const bytes = randomBytes(i % 100);
      const keys: Array<Buffer | string> = [bytes, `org-${i % 7}:PFA-${i}-${bytes.toString('hex').slice(0, i % 13)}`];
      for (const key of keys)
        for (const n of [1, 3, 6, 12, 50]) {
          const args = { topic: 't', partitionMetadata: metadata(n), message: { key, value: null } };
          if (ours(args) !== theirs(args)) differ.push(`${key.toString('hex')} over ${n}`);
        }
    }
    expect(differ).toEqual([]);
  });

  it('keeps a partition the record names, and a key to its partition even when that one has no leader', () => {
    const p = javaCompatiblePartitioner();
    expect(p({ topic: 't', partitionMetadata: metadata(6), message: { key: 'k', value: null, partition: 4 } })).toBe(4);
    const at = partitionOfKey('org-1:PFA-9', 6);
    expect(p({ topic: 't', partitionMetadata: metadata(6, [at]), message: { key: 'org-1:PFA-9', value: null } })).toBe(
      at,
    );
  });

  it('sends records without a key round robin over the partitions that have a leader', () => {
    const p = javaCompatiblePartitioner();
    const seen = new Map<number, number>();
    for (let i = 0; i < 400; i++) {
      const at = p({ topic: 't', partitionMetadata: metadata(5, [1, 3]), message: { key: null, value: null } });
      seen.set(at, (seen.get(at) ?? 0) + 1);
    }
    expect([...seen.keys()].sort()).toEqual([0, 2, 4]);
    for (const n of seen.values()) expect(n).toBeGreaterThanOrEqual(133);
    // None available: still a partition of the topic.
    const none = p({ topic: 'u', partitionMetadata: metadata(3, [0, 1, 2]), message: { key: null, value: null } });
    expect(none).toBeGreaterThanOrEqual(0);
    expect(none).toBeLessThan(3);
  });
});
