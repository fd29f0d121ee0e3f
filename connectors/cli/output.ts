/**
 * How the CLI talks: exit codes scripts can rely on, tables or --json, colours only on a
 * terminal (and never with NO_COLOR), and a progress bar on stderr that only draws on a TTY.
 */
import { PemsSyncError } from '../../streams/errors';

/** Exit codes of every `pems-sync` command (also in `pems-sync --help` and the README). */
export const EXIT = {
  OK: 0,
  /** The command ran and found a problem: a check failed, drift, a broken audit chain. */
  FAILED: 1,
  /** Bad arguments or input (unknown option, bad URL, no credential given). */
  USAGE: 2,
  /** A setting is missing or invalid (names the variable). */
  CONFIG: 3,
  /** The organization, user, conflict or dead letter does not exist. */
  NOT_FOUND: 4,
  /** A service could not be reached: Postgres, Kafka, Connect, the registry, PEMS or the control API. */
  UNAVAILABLE: 5,
  /** Refused: unsafe now (e.g. the connector is running), not allowed (401/403), or a state conflict (409). */
  REFUSED: 6,
} as const;

export const EXIT_CODES_HELP = `Exit codes:
  0  done
  1  the command ran and found a problem (check failed, drift, broken audit chain)
  2  bad arguments or input
  3  a setting is missing or invalid (the message names the variable)
  4  not found (organization, user, conflict, dead letter...)
  5  a service could not be reached (Postgres, Kafka, Connect, registry, PEMS, control API)
  6  refused: unsafe right now, not allowed, or a state conflict`;

export class CliError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

export const usage = (message: string): CliError => new CliError(EXIT.USAGE, message);
export const notFound = (message: string): CliError => new CliError(EXIT.NOT_FOUND, message);
export const refused = (message: string): CliError => new CliError(EXIT.REFUSED, message);
export const unavailable = (message: string): CliError => new CliError(EXIT.UNAVAILABLE, message);

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'KafkaJSConnectionError',
  'KafkaJSNumberOfRetriesExceeded',
]);

/** The exit code an error stands for. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof CliError) return err.exitCode;
  if (err instanceof PemsSyncError && err.code === 'PEMS_SYNC_CONFIG_INVALID') return EXIT.CONFIG;
  if (err instanceof PemsSyncError && err.code.endsWith('_NO_ORGANIZATION')) return EXIT.NOT_FOUND;
  if (err instanceof PemsSyncError && err.code === 'PEMS_SYNC_PEMS_TRANSIENT') return EXIT.UNAVAILABLE;
  const e = err as { code?: unknown; name?: unknown; cause?: { code?: unknown } };
  if (
    NETWORK_CODES.has(String(e?.code)) ||
    NETWORK_CODES.has(String(e?.name)) ||
    NETWORK_CODES.has(String(e?.cause?.code))
  )
    return EXIT.UNAVAILABLE;
  if (err instanceof AggregateError && err.errors.some((x) => exitCodeOf(x) === EXIT.UNAVAILABLE))
    return EXIT.UNAVAILABLE;
  return EXIT.FAILED;
}

export interface CliIo {
  stdout: { write(s: string): unknown; isTTY?: boolean };
  stderr: { write(s: string): unknown; isTTY?: boolean };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

export function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env };
}

export interface Painter {
  ok(s: string): string;
  bad(s: string): string;
  warn(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

/** ANSI colours only when the stream is a terminal and NO_COLOR is unset (https://no-color.org). */
export function painter(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): Painter {
  const on = stream.isTTY === true && (env.NO_COLOR ?? '') === '' && env.TERM !== 'dumb';
  const wrap = (code: string) => (s: string) => (on ? `\u001b[${code}m${s}\u001b[0m` : s);
  return { ok: wrap('32'), bad: wrap('31'), warn: wrap('33'), dim: wrap('2'), bold: wrap('1') };
}

/**
 * Control characters of user-made strings are shown escaped, so a value cannot move the cursor or
 * recolour the terminal.
 */
export function printable(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = v instanceof Date ? v.toISOString() : typeof v === 'object' ? JSON.stringify(v) : String(v);
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A plain-text table: a header row and aligned columns. */
export function table(rows: ReadonlyArray<Record<string, unknown>>, columns: readonly string[]): string {
  const cells = rows.map((r) => columns.map((c) => printable(r[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const line = (vals: readonly string[]): string =>
    vals
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(columns), ...cells.map(line)].join('\n');
}

/** `key  value` lines for one object. */
export function details(obj: Record<string, unknown>): string {
  const keys = Object.keys(obj);
  const w = Math.max(0, ...keys.map((k) => k.length));
  return keys.map((k) => `${k.padEnd(w)}  ${printable(obj[k])}`).join('\n');
}

export function writeJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * A progress bar on stderr, redrawn at most every 100 ms, only on a terminal (a pipe or a CI log
 * gets one line at the end instead). Without a total it shows the count and the rate.
 */
export class Progress {
  private done = 0;

  get count(): number {
    return this.done;
  }

  private lastDraw = 0;
  private readonly started = Date.now();
  private readonly tty: boolean;

  constructor(
    private readonly io: CliIo,
    private readonly label: string,
    private total: number | null = null,
  ) {
    this.tty = io.stderr.isTTY === true;
  }

  setTotal(total: number | null): void {
    this.total = total;
  }

  tick(by = 1): void {
    this.done += by;
    const now = Date.now();
    if (this.tty && now - this.lastDraw >= 100) {
      this.lastDraw = now;
      this.io.stderr.write(`\r${this.render()}`);
    }
  }

  render(): string {
    const secs = Math.max(0.001, (Date.now() - this.started) / 1000);
    const rate = `${Math.round(this.done / secs)}/s`;
    if (this.total === null || this.total <= 0) return `${this.label} ${this.done} (${rate})`;
    const frac = Math.min(1, this.done / this.total);
    const width = 30;
    const filled = Math.round(frac * width);
    return `${this.label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${this.done}/${this.total} ${Math.round(frac * 100)}% (${rate})`;
  }

  finish(): void {
    this.io.stderr.write(this.tty ? `\r${this.render()}\n` : `${this.render()}\n`);
  }
}
