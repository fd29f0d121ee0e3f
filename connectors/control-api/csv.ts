/**
 * CSV per RFC 4180: a field holding a comma, a quote, CR or LF is quoted, quotes doubled;
 * records end with CRLF.
 *
 * Formula injection (OWASP "CSV Injection"): a text cell starting with = + - @, a tab or a CR
 * is run as a formula by spreadsheet programs, and PFA ids, actors and reasons are chosen by
 * users. Such a cell is prefixed with a single quote (the spreadsheet convention for "this is
 * text") and quoted, so it displays as what was recorded. A cell that starts with a quote mark
 * is prefixed too, so the rule reverses without ambiguity: a text cell starting with a quote
 * mark is the original value with one quote mark in front. Numbers, booleans and JSON objects (which start with { or [)
 * are not text a user chose at the start of a cell and are left as they are.
 */
const FORMULA_START = /^[=+\-@\t\r']/;

export function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  const isText = typeof value === 'string';
  const raw = isText ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
  const neutralised = isText && FORMULA_START.test(raw);
  const s = neutralised ? `'${raw}` : raw;
  return neutralised || /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvRow(values: readonly unknown[]): string {
  return `${values.map(csvField).join(',')}\r\n`;
}
