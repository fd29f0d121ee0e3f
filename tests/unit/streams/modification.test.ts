import { compareOffsets, comparePositions } from '../../../streams/modification';

describe('compareOffsets', () => {
  it('when offsets differ in length, then they compare numerically, not as text', () => {
    expect(compareOffsets('9', '10')).toBe(-1);
    expect(compareOffsets('10', '9')).toBe(1);
    expect(compareOffsets('42', '42')).toBe(0);
  });

  it('when offsets are beyond 2^53, then they still compare exactly', () => {
    expect(compareOffsets('9007199254740993', '9007199254740992')).toBe(1);
  });
});

describe('comparePositions', () => {
  it('when topics or partitions differ, then they order before offsets', () => {
    expect(
      comparePositions({ topic: 'a', partition: 9, offset: '9' }, { topic: 'b', partition: 0, offset: '0' }),
    ).toBeLessThan(0);
    expect(
      comparePositions({ topic: 'a', partition: 2, offset: '0' }, { topic: 'a', partition: 10, offset: '0' }),
    ).toBeLessThan(0);
    expect(
      comparePositions({ topic: 'a', partition: 1, offset: '11' }, { topic: 'a', partition: 1, offset: '2' }),
    ).toBeGreaterThan(0);
  });
});
