/**
 * CSV per RFC 4180: a field holding a comma, a quote, CR or LF is quoted, quotes doubled;
 * records end with CRLF. Values are never altered otherwise (no formula "defusing": the export
 * is evidence, and a leading '=' is part of what was recorded).
 */
export function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  const s = typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvRow(values: readonly unknown[]): string {
  return `${values.map(csvField).join(',')}\r\n`;
}
