/**
 * Canonical JSON: object keys sorted (UTF-16 order), no whitespace, arrays in order, undefined
 * members dropped. Two equal JSON values give the same text whatever their key order, so a
 * value stored as jsonb (which reorders keys) hashes the same when read back. Pure.
 *
 * Built by concatenation over sorted keys (no entries arrays, filters or joins per level): the
 * sink signs an audit entry per modification, and this ran at 13 µs per entry (issue 16).
 */
export function canonicalJson(v: unknown): string {
  if (v === undefined) return 'null';
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) {
    let s = '[';
    for (let i = 0; i < v.length; i++) s += (i === 0 ? '' : ',') + canonicalJson(v[i]);
    return s + ']';
  }
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o).sort();
  let s = '{';
  for (const k of keys) {
    const x = o[k];
    if (x === undefined) continue;
    s += (s.length === 1 ? '' : ',') + JSON.stringify(k) + ':' + canonicalJson(x);
  }
  return s + '}';
}

/**
 * The canonical JSON of a value as it reads back once stored as JSON (jsonb): what
 * `canonicalJson(JSON.parse(JSON.stringify(v)))` gives, without the round trip. `toJSON` is
 * honoured (a Date becomes its ISO text); undefined, functions and symbols are dropped from
 * objects and are null in arrays and at the top; non-finite numbers are null. Pure.
 */
export function canonicalStoredJson(v: unknown): string {
  return stored(v) ?? 'null';
}

function stored(value: unknown): string | undefined {
  let v = value;
  if (v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function')
    v = (v as { toJSON: () => unknown }).toJSON();
  if (v === null || typeof v !== 'object') return typeof v === 'function' ? undefined : JSON.stringify(v);
  if (Array.isArray(v)) {
    let s = '[';
    for (let i = 0; i < v.length; i++) s += (i === 0 ? '' : ',') + (stored(v[i]) ?? 'null');
    return s + ']';
  }
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o).sort();
  let s = '{';
  for (const k of keys) {
    const x = stored(o[k]);
    if (x === undefined) continue;
    s += (s.length === 1 ? '' : ',') + JSON.stringify(k) + ':' + x;
  }
  return s + '}';
}
