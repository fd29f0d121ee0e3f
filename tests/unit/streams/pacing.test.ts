import { pacedCeiling, pacingGapMs } from '../../../streams/pacing';

describe('pacing of PEMS requests', () => {
  it('when nothing is in use, then a paced request leaves at once', () => {
    expect(pacingGapMs(0, 9, 1010, 'linear')).toBe(0);
    expect(pacingGapMs(0, 9, 1010, 'quadratic')).toBe(0);
  });

  it('when the window is full, then the gap is an even spread of the window over the ceiling', () => {
    expect(pacingGapMs(9, 9, 1010, 'linear')).toBeCloseTo(1010 / 9, 6);
    expect(pacingGapMs(9, 9, 1010, 'quadratic')).toBeCloseTo(1010 / 9, 6);
    expect(pacingGapMs(12, 9, 1010, 'linear')).toBeCloseTo(1010 / 9, 6); // never more than the even gap
  });

  it('when half the window is in use, then linear waits half the even gap and quadratic a quarter', () => {
    expect(pacingGapMs(5, 10, 1000, 'linear')).toBeCloseTo(50, 6);
    expect(pacingGapMs(5, 10, 1000, 'quadratic')).toBeCloseTo(25, 6);
  });

  it('when pacing is off, then there is never a gap', () => {
    expect(pacingGapMs(9, 9, 1010, 'off')).toBe(0);
  });

  it('when headroom is kept, then paced requests may use that many fewer tokens, never fewer than one', () => {
    expect(pacedCeiling(10, 1)).toBe(9);
    expect(pacedCeiling(10, 0)).toBe(10);
    expect(pacedCeiling(1, 3)).toBe(1);
  });
});
