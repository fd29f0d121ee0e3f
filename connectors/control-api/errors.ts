/**
 * The control API's errors: one class with an HTTP status and a stable code, answered as
 * `{error, code, message, ...details}`. Repositories (connectors/postgres) throw
 * ActionRefusedError, which carries a kind, not a status; `toApiError` maps the two.
 */
import { API_ERRORS, PemsSyncError, type ApiErrorName } from '../../streams/errors';
import { ActionRefusedError } from '../postgres/conflicts';

export class ApiError extends PemsSyncError {
  constructor(
    readonly statusCode: number,
    /** Short code answered as `error`, e.g. NOT_FOUND; `code` is its full name in API_ERRORS. */
    readonly error: ApiErrorName,
    message: string,
    details: Record<string, unknown> = {},
  ) {
    super(API_ERRORS[error], message, { details });
  }

  body(): Record<string, unknown> {
    return { error: this.error, code: this.code, message: this.message, ...this.details };
  }
}

export const notFound = (what: string): ApiError => new ApiError(404, 'NOT_FOUND', `${what} not found`);
export const forbidden = (message: string, details: Record<string, unknown> = {}): ApiError =>
  new ApiError(403, 'FORBIDDEN', message, details);
export const unauthorized = (message: string): ApiError => new ApiError(401, 'UNAUTHORIZED', message);

const KIND_STATUS: Record<ActionRefusedError['kind'], number> = {
  not_found: 404,
  state: 409,
  invalid: 400,
  forbidden: 403,
};

/** An error thrown by a repository or the API itself, as the API answers it; undefined for anything else (a 500). */
export function toApiError(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err;
  if (err instanceof ActionRefusedError)
    return new ApiError(KIND_STATUS[err.kind], err.reason, err.message, err.details);
  return undefined;
}
