/**
 * Hostile request shapes the simulator must survive (issue 13, item 12): bad percent-encoding
 * in a path (`%E0%A4%A`, `%zz`) and bodies nested so deep that hashing them for idempotency
 * (a recursive canonical JSON) would exhaust the stack. Pure.
 */

/** Deepest nesting a request body may have: real bodies are 4 levels deep. */
export const MAX_BODY_DEPTH = 32;

/** The percent-decoded segment, or undefined when its encoding is broken. */
export function decodePathSegment(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

/** True when `value` nests objects/arrays deeper than `max` levels; iterative, so any depth is safe to check. */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth > max) return true;
    for (const child of Object.values(v as Record<string, unknown>)) stack.push([child, depth + 1]);
  }
  return false;
}
