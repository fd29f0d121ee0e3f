import { sendingProgress } from '../../../streams/sending-progress';

describe('sendingProgress: attempt n and the next retry from the claim and the latest send', () => {
  const claimedAt = new Date('2026-01-01T12:00:00Z');
  const at = (s: number): Date => new Date(claimedAt.getTime() + s * 1000);
  const base = { claimedAt, priorAttempts: 0, delaysMs: [5000, 10000, 20000], jitter: 0.2, timeoutMs: 30000 };

  it('is null before anything was sent', () => {
    expect(sendingProgress({ ...base, lastSentAt: null, now: at(1) })).toBeNull();
  });

  it('counts the retries the schedule allows before the latest send (earliest with jitter)', () => {
    expect(sendingProgress({ ...base, lastSentAt: at(0.2), now: at(1) })).toMatchObject({
      attempt: 1,
      nextRetryAt: at(5.2),
      jitterMs: 1000,
      lastAttempt: false,
      overdue: false,
    });
    // 4 s is the earliest the second try can go (5 s less 20 %)
    expect(sendingProgress({ ...base, lastSentAt: at(3.9), now: at(4) })!.attempt).toBe(1);
    expect(sendingProgress({ ...base, lastSentAt: at(4), now: at(5) })).toMatchObject({
      attempt: 2,
      nextRetryAt: at(14),
      jitterMs: 2000,
    });
    expect(sendingProgress({ ...base, lastSentAt: at(16), now: at(17) })).toMatchObject({
      attempt: 3,
      nextRetryAt: at(36),
      jitterMs: 4000,
    });
    expect(sendingProgress({ ...base, lastSentAt: at(36), now: at(37) })).toMatchObject({
      attempt: 4,
      nextRetryAt: null,
      lastAttempt: true,
    });
  });

  it("adds an earlier run's recorded attempts (a replay)", () => {
    expect(sendingProgress({ ...base, priorAttempts: 4, lastSentAt: at(0), now: at(1) })!.attempt).toBe(5);
  });

  it('says the sink is waiting when the next try is overdue by more than a timeout', () => {
    // attempt 1 sent at 0: failure known by 30 s, retry due by 30 + 5 + 1 s
    expect(sendingProgress({ ...base, lastSentAt: at(0), now: at(36) })!.overdue).toBe(false);
    expect(sendingProgress({ ...base, lastSentAt: at(0), now: at(36.5) })!.overdue).toBe(true);
    expect(sendingProgress({ ...base, lastSentAt: at(36), now: at(66.5) })!.overdue).toBe(true);
  });
});
