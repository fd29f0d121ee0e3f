import { PartitionOffsets } from '../../../streams/offsets';

describe('PartitionOffsets', () => {
  it('when offsets finish in order, then the commit is one past the last done', () => {
    const p = new PartitionOffsets();
    ['10', '11', '12'].forEach((o) => p.track(o));
    p.markDone('10');
    p.markDone('11');
    expect(p.takeCommittable()).toBe('12');
    expect(p.inFlight()).toBe(1);
  });

  it('when a later offset finishes before an earlier one, then nothing past the earlier one is committed', () => {
    const p = new PartitionOffsets();
    ['5', '6', '7'].forEach((o) => p.track(o));
    p.markDone('7');
    p.markDone('6');
    expect(p.takeCommittable()).toBeNull();
    p.markDone('5');
    expect(p.takeCommittable()).toBe('8');
    expect(p.inFlight()).toBe(0);
  });

  it('when nothing new is done, then takeCommittable returns null and lastTaken keeps the previous commit', () => {
    const p = new PartitionOffsets();
    p.track('0');
    p.markDone('0');
    expect(p.takeCommittable()).toBe('1');
    expect(p.takeCommittable()).toBeNull();
    expect(p.lastTaken()).toBe('1');
  });

  it('when an offset is tracked twice (redelivery), then it counts once', () => {
    const p = new PartitionOffsets();
    p.track('3');
    p.track('3');
    p.track('2');
    expect(p.inFlight()).toBe(1);
  });

  it('when offsets exceed 2^53, then they stay exact', () => {
    const p = new PartitionOffsets();
    p.track('9007199254740993');
    p.markDone('9007199254740993');
    expect(p.takeCommittable()).toBe('9007199254740994');
  });

  it('when thousands of offsets complete, then the tracker compacts and still commits correctly', () => {
    const p = new PartitionOffsets();
    for (let i = 0; i < 5000; i++) p.track(String(i));
    for (let i = 4999; i >= 0; i--) p.markDone(String(i));
    expect(p.takeCommittable()).toBe('5000');
    expect(p.inFlight()).toBe(0);
  });
});
