/**
 * One base error for the whole project: a stable `code` from the closed list ERROR_CODES
 * (written out in full, never prefixed at run time, so grepping a code finds every use), an explicit `retriable`
 * flag (never retriable unless said so), a native `cause`, and enumerable fields so it
 * survives JSON (dead-letter headers, audit rows, logs).
 * Modelled on platformatic/kafka src/errors.ts.
 */
/** Why a person's action was refused (ActionRefusedError `reason`, connectors/postgres); the API's `error`. */
export const ACTION_REFUSALS = {
  NOT_FOUND: 'PEMS_SYNC_ACTION_NOT_FOUND',
  CONFLICT_NOT_OPEN: 'PEMS_SYNC_ACTION_CONFLICT_NOT_OPEN',
  DEAD_LETTER_NOT_OPEN: 'PEMS_SYNC_ACTION_DEAD_LETTER_NOT_OPEN',
  FOUR_EYES_REQUIRED: 'PEMS_SYNC_ACTION_FOUR_EYES_REQUIRED',
  KAFKA_UNAVAILABLE: 'PEMS_SYNC_ACTION_KAFKA_UNAVAILABLE',
  MODIFICATION_MISSING: 'PEMS_SYNC_ACTION_MODIFICATION_MISSING',
  MODIFICATION_NOT_IN_CONFLICT: 'PEMS_SYNC_ACTION_MODIFICATION_NOT_IN_CONFLICT',
  MODIFICATION_NOT_REPLAYABLE: 'PEMS_SYNC_ACTION_MODIFICATION_NOT_REPLAYABLE',
  NOTHING_TO_ROLL_BACK: 'PEMS_SYNC_ACTION_NOTHING_TO_ROLL_BACK',
  PREVIEW_MISMATCH: 'PEMS_SYNC_ACTION_PREVIEW_MISMATCH',
  RESOLUTION_INVALID: 'PEMS_SYNC_ACTION_RESOLUTION_INVALID',
  ROLLBACK_NOT_PENDING: 'PEMS_SYNC_ACTION_ROLLBACK_NOT_PENDING',
  ROLLBACK_STALE: 'PEMS_SYNC_ACTION_ROLLBACK_STALE',
  VALIDATION_FAILED: 'PEMS_SYNC_ACTION_VALIDATION_FAILED',
} as const;
export type ActionRefusal = keyof typeof ACTION_REFUSALS;

/**
 * The control API's answers (`error` in the body, the full code in `code`): its own refusals and
 * every action refusal it passes on (connectors/control-api/errors.ts toApiError).
 */
export const API_ERRORS = {
  BAD_CURSOR: 'PEMS_SYNC_API_BAD_CURSOR',
  BAD_FILTER: 'PEMS_SYNC_API_BAD_FILTER',
  BAD_FORMAT: 'PEMS_SYNC_API_BAD_FORMAT',
  BAD_REQUEST: 'PEMS_SYNC_API_BAD_REQUEST',
  BAD_THEME: 'PEMS_SYNC_API_BAD_THEME',
  BAD_TIME_ZONE: 'PEMS_SYNC_API_BAD_TIME_ZONE',
  BAD_VERSION: 'PEMS_SYNC_API_BAD_VERSION',
  CSRF: 'PEMS_SYNC_API_CSRF',
  EXPORT_BUSY: 'PEMS_SYNC_API_EXPORT_BUSY',
  FORBIDDEN: 'PEMS_SYNC_API_FORBIDDEN',
  INTERNAL: 'PEMS_SYNC_API_INTERNAL',
  NOTHING_SELECTED: 'PEMS_SYNC_API_NOTHING_SELECTED',
  TOO_MANY: 'PEMS_SYNC_API_TOO_MANY',
  UNAUTHORIZED: 'PEMS_SYNC_API_UNAUTHORIZED',
  NOT_FOUND: 'PEMS_SYNC_API_NOT_FOUND',
  CONFLICT_NOT_OPEN: 'PEMS_SYNC_API_CONFLICT_NOT_OPEN',
  DEAD_LETTER_NOT_OPEN: 'PEMS_SYNC_API_DEAD_LETTER_NOT_OPEN',
  FOUR_EYES_REQUIRED: 'PEMS_SYNC_API_FOUR_EYES_REQUIRED',
  KAFKA_UNAVAILABLE: 'PEMS_SYNC_API_KAFKA_UNAVAILABLE',
  MODIFICATION_MISSING: 'PEMS_SYNC_API_MODIFICATION_MISSING',
  MODIFICATION_NOT_IN_CONFLICT: 'PEMS_SYNC_API_MODIFICATION_NOT_IN_CONFLICT',
  MODIFICATION_NOT_REPLAYABLE: 'PEMS_SYNC_API_MODIFICATION_NOT_REPLAYABLE',
  NOTHING_TO_ROLL_BACK: 'PEMS_SYNC_API_NOTHING_TO_ROLL_BACK',
  PREVIEW_MISMATCH: 'PEMS_SYNC_API_PREVIEW_MISMATCH',
  RESOLUTION_INVALID: 'PEMS_SYNC_API_RESOLUTION_INVALID',
  ROLLBACK_NOT_PENDING: 'PEMS_SYNC_API_ROLLBACK_NOT_PENDING',
  ROLLBACK_STALE: 'PEMS_SYNC_API_ROLLBACK_STALE',
  VALIDATION_FAILED: 'PEMS_SYNC_API_VALIDATION_FAILED',
} as const satisfies Record<string, `PEMS_SYNC_API_${string}`> & Record<ActionRefusal, string>;
export type ApiErrorName = keyof typeof API_ERRORS;

/** Every error code pems-sync raises or records (errors, outcomes' error codes, dead-letter reasons). */
export const ERROR_CODES = [
  'PEMS_SYNC_CONFIG_INVALID',
  'PEMS_SYNC_CREDENTIAL_INVALID',
  // PEMS's answers (connectors/pems/errors.ts)
  'PEMS_SYNC_PEMS_REJECTED',
  'PEMS_SYNC_PEMS_UNAUTHORIZED',
  'PEMS_SYNC_PEMS_NOT_FOUND',
  'PEMS_SYNC_PEMS_CONFLICT',
  'PEMS_SYNC_PEMS_RATE_LIMITED',
  'PEMS_SYNC_PEMS_TRANSIENT',
  'PEMS_SYNC_PEMS_UNEXPECTED',
  'PEMS_SYNC_RATE_LIMITER_UNAVAILABLE',
  // the sink's outcomes
  'PEMS_SYNC_RETRIES_EXHAUSTED',
  'PEMS_SYNC_INTENT_STORE_UNAVAILABLE',
  'PEMS_SYNC_ORGANIZATION_NOT_CONFIGURED',
  'PEMS_SYNC_PERMISSION_DENIED',
  'PEMS_SYNC_SYNC_DISABLED',
  'PEMS_SYNC_VALIDATION_FAILED',
  'PEMS_SYNC_VERSION_CONFLICT',
  'PEMS_SYNC_UNEXPECTED',
  'PEMS_SYNC_POISON_EVENT',
  // the read side
  'PEMS_SYNC_SOURCE_CURSOR_MISSING',
  'PEMS_SYNC_SOURCE_POLL_FAILED',
  'PEMS_SYNC_MIRROR_RECORD_INVALID',
  'PEMS_SYNC_MIRROR_RECORD_UNWRITABLE',
  // reconcile
  'PEMS_SYNC_RECONCILE_NO_ORGANIZATION',
  'PEMS_SYNC_RECONCILE_NO_CREDENTIAL',
  // people's actions and the control API
  'PEMS_SYNC_RESOLUTION_INVALID',
  ...Object.values(ACTION_REFUSALS),
  ...Object.values(API_ERRORS),
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

const KNOWN_CODES: ReadonlySet<string> = new Set(ERROR_CODES);

/** Whether a string is one of pems-sync's codes (a code read back from a row or a header). */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && KNOWN_CODES.has(code);
}

export interface PemsSyncErrorOptions {
  retriable?: boolean;
  cause?: unknown;
  /** Extra, JSON-safe context (field names, versions, HTTP status...). Never secrets. */
  details?: Record<string, unknown>;
}

export class PemsSyncError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: PemsSyncErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
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
  constructor(
    readonly key: string,
    message: string,
  ) {
    super('PEMS_SYNC_CONFIG_INVALID', `config ${key}: ${message}`, { details: { key } });
  }
}

/**
 * The one cause-chain walker: the error and its `cause` links, outermost first; stops at a cycle,
 * at a missing cause, and after `maxDepth` links (default 16).
 */
export function causeChain(err: unknown, maxDepth = 16): unknown[] {
  const chain: unknown[] = [];
  const seen = new Set<unknown>();
  let cur: unknown = err;
  while (cur !== undefined && cur !== null && !seen.has(cur) && chain.length < maxDepth) {
    chain.push(cur);
    seen.add(cur);
    cur = typeof cur === 'object' ? (cur as { cause?: unknown }).cause : undefined;
  }
  return chain;
}
