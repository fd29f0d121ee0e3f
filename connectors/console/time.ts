/** Absolute and relative times as the console writes them (server side; console.js keeps the relative part current). */

const formatters = new Map<string, Intl.DateTimeFormat>();

/** "2026-12-01 10:42:07 UTC" in the viewer's time zone. */
export function absoluteTime(d: Date, timeZone: string): string {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('sv-SE', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hour12: false,
    });
    formatters.set(timeZone, f);
  }
  return `${f.format(d)} ${timeZone}`;
}

/** "HH:MM" in the viewer's time zone (banners: "unreachable since 10:42"). */
export function clockTime(d: Date, timeZone: string): string {
  return absoluteTime(d, timeZone).slice(11, 16);
}

/** "12 s", "3 min", "2 h 5 min", "3 d": a duration in words, for ages and lags. */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 === 0 ? `${h} h` : `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d`;
}

/** "3 min ago" / "in 20 s" relative to now. */
export function relativeTime(d: Date, now: Date): string {
  const diff = (d.getTime() - now.getTime()) / 1000;
  if (Math.abs(diff) < 1) return 'just now';
  return diff < 0 ? `${duration(-diff)} ago` : `in ${duration(diff)}`;
}
