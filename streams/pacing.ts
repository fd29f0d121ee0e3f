/**
 * Pacing of PEMS requests per credential (shared by every instance that uses it). The limiter
 * allows `limit` requests per window; sent as soon as a token is free, a busy sink spends all of
 * them in a burst and then waits most of a window with nothing to send (issue 16: commit→PEMS
 * p50 0.32 s at 100 commits/s). Pacing spaces the batch writer's requests instead: the more of
 * the window's tokens are in use, the longer the gap after the previous paced request, up to an
 * even spread (window / ceiling) when the window is full, so that at a high rate every request
 * leaves about one even gap after the last and carries everything queued meanwhile, while at a
 * low rate (few tokens in use) a request leaves at once.
 *
 * Headroom: the batch writer may use only `limit - headroom` tokens of a window; the rest stay
 * for what cannot wait behind it (a GET after a 409, a retry, a soft delete).
 *
 * Pure: the limiter (connectors/pems/rate-limiter.ts) applies the same formula in Redis.
 */

/** How the gap grows with the tokens in use: off (a burst, then waiting), linear, quadratic. */
export const PACING_CURVES = ['off', 'linear', 'quadratic'] as const;
export type PacingCurve = (typeof PACING_CURVES)[number];

/** The exponent the limiter's script raises the window's use to (0: no pacing). */
export function pacingExponent(curve: PacingCurve): number {
  return curve === 'off' ? 0 : curve === 'linear' ? 1 : 2;
}

/** Tokens of a window the paced (batch) requests may use: at least one. */
export function pacedCeiling(limit: number, headroom: number): number {
  return Math.max(1, limit - Math.max(0, headroom));
}

/**
 * The least gap after the previous paced request, ms, with `inUse` of the window's tokens in use
 * and `ceiling` of them available to paced requests: (window / ceiling) × (inUse / ceiling)^k.
 */
export function pacingGapMs(inUse: number, ceiling: number, windowMs: number, curve: PacingCurve): number {
  const k = pacingExponent(curve);
  if (k === 0 || ceiling <= 0) return 0;
  const use = Math.min(1, Math.max(0, inUse) / ceiling);
  return (windowMs / ceiling) * use ** k;
}
