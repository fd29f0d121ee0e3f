/**
 * The status screen's last hour without aggregating the whole hour on every request: minutes
 * that are over are read once and kept (per set of organizations, in this process), and only the
 * newest LIVE_MINUTES minutes are read on each request. A minute counts as over one full minute
 * after it ended, so outcomes the sink records a little late still land in it. A minute once
 * kept shows what was recorded by then: an edit whose outcome changes later (a failed edit
 * replayed and applied) is counted again in the minute of its new outcome, as it happened.
 */
import type { Knex } from 'knex';
import { readMinutes, type MinuteRow, type OrgMinuteRow } from '../postgres/console-status';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** The current minute and the one before it are read on every request. */
const LIVE_MINUTES = 2;
/** Sets of organizations kept at most (each viewer's set, and single organizations). */
const MAX_KEPT = 200;

export interface LastHour {
  overall: MinuteRow[];
  byOrg: OrgMinuteRow[];
}

interface Kept {
  /** Minutes before this (ms since epoch, a minute boundary) are kept; newer ones are read live. */
  until: number;
  overall: MinuteRow[];
  byOrg: OrgMinuteRow[];
}

export class LastHourRollup {
  private readonly kept = new Map<string, Kept>();
  private readonly reading = new Map<string, Promise<Kept>>();

  constructor(private readonly db: Knex) {}

  async read(organizationIds: readonly string[], now: Date = new Date()): Promise<LastHour> {
    if (organizationIds.length === 0) return { overall: [], byOrg: [] };
    const orgs = [...new Set(organizationIds)].sort();
    const liveFrom = Math.floor(now.getTime() / MINUTE) * MINUTE - (LIVE_MINUTES - 1) * MINUTE;
    const hourFrom = Math.floor((now.getTime() - HOUR) / MINUTE) * MINUTE;
    const [closed, live] = await Promise.all([
      this.closed(orgs, hourFrom, liveFrom),
      readMinutes(this.db, orgs, new Date(liveFrom), null),
    ]);
    const inHour = <T extends { minute: Date }>(rows: T[]): T[] => rows.filter((r) => r.minute.getTime() >= hourFrom);
    return { overall: [...inHour(closed.overall), ...live.overall], byOrg: [...inHour(closed.byOrg), ...live.byOrg] };
  }

  /** The minutes [hourFrom, liveFrom), from what is kept plus what has ended since. */
  private async closed(orgs: string[], hourFrom: number, liveFrom: number): Promise<Kept> {
    const key = orgs.join('\u0000');
    const have = this.kept.get(key);
    if (have && have.until === liveFrom) return have;
    const pending = this.reading.get(key);
    if (pending) return pending;
    const from = have && have.until >= hourFrom && have.until < liveFrom ? have.until : hourFrom;
    const reading = readMinutes(this.db, orgs, new Date(from), new Date(liveFrom))
      .then((added) => {
        const keep = <T extends { minute: Date }>(old: T[], more: T[]): T[] =>
          [...(from === have?.until ? old : []), ...more].filter((r) => r.minute.getTime() >= hourFrom);
        const next: Kept = {
          until: liveFrom,
          overall: keep(have?.overall ?? [], added.overall),
          byOrg: keep(have?.byOrg ?? [], added.byOrg),
        };
        this.kept.delete(key);
        this.kept.set(key, next);
        while (this.kept.size > MAX_KEPT) this.kept.delete(this.kept.keys().next().value!);
        return next;
      })
      .finally(() => this.reading.delete(key));
    this.reading.set(key, reading);
    return reading;
  }
}
