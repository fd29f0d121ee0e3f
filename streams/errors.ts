/**
 * One base error for the whole project: a stable prefixed `code`, an explicit `retriable`
 * flag (never retriable unless said so), a native `cause`, and enumerable fields so it
 * survives JSON (dead-letter headers, audit rows, logs).
 * Modelled on platformatic/kafka src/errors.ts.
 */
export interface PemsSyncErrorOptions {
  retriable?: boolean;
  cause?: unknown;
  /** Extra, JSON-safe context (field names, versions, HTTP status...). Never secrets. */
  details?: Record<string, unknown>;
}

export class PemsSyncError extends Error {
  readonly code: string;
  readonly retriable: boolean;
  readonly details: Record<string, unknown>;

  constructor(code: string, message: string, options: PemsSyncErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code.startsWith('PEMS_SYNC_') ? code : `PEMS_SYNC_${code}`;
    this.retriable = options.retriable ?? false;
    this.details = options.details ?? {};
    // Make message enumerable too, so JSON.stringify(err) carries everything a reader needs.
    Object.defineProperty(this, 'message', { value: message, enumerable: true, writable: true });
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      retriable: this.retriable,
      details: this.details,
      cause: this.cause instanceof Error ? { name: this.cause.name, message: this.cause.message } : this.cause,
    };
  }
}

/** Configuration that cannot start the process; `key` names the offending setting. */
export class ConfigError extends PemsSyncError {
  constructor(readonly key: string, message: string) {
    super('CONFIG_INVALID', `config ${key}: ${message}`, { details: { key } });
  }
}
