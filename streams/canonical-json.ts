/**
 * Canonical JSON: object keys sorted (UTF-16 order), no whitespace, arrays in order, undefined
 * members dropped. Two equal JSON values give the same text whatever their key order, so a
 * value stored as jsonb (which reorders keys) hashes the same when read back. Pure.
 */
export function canonicalJson(v: unknown): string {
  if (v === undefined) return 'null';
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(v as Record<string, unknown>)
    .filter(([, x]) => x !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
}
