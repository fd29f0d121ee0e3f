/**
 * JSON-schema fragments of the control API's inputs. Every object schema is closed
 * (additionalProperties: false), so an unknown field or query parameter is a 400 naming it,
 * and every id has a shape: an injection string never reaches a query.
 */
import { UUID_PATTERN } from './pagination';

export const ORG_ID = {
  type: 'string',
  pattern: '^[A-Za-z0-9_.-]{1,64}$',
  description: 'PEMS organization code',
} as const;
export const PFA_ID = { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$', description: 'PFA record id' } as const;
export const UUID = { type: 'string', pattern: UUID_PATTERN } as const;
export const USER_ID = { type: 'string', pattern: '^[A-Za-z0-9_.@:-]{1,200}$', description: 'app_user id' } as const;
/** A bigint id: decimal digits, at most int8's maximum (format int8, input-guard.ts). */
export const BIGINT_ID = { type: 'string', pattern: '^[0-9]{1,19}$', format: 'int8' } as const;
export const EVENT_TYPE = { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,100}$' } as const;
/** RFC 3339; year 0000 does not exist in Postgres (or the Gregorian calendar). */
export const DATE_TIME = { type: 'string', format: 'date-time', pattern: '^(?!0000-)' } as const;
export const LIMIT = { type: 'integer', minimum: 1, maximum: 500, default: 50 } as const;
export const CURSOR = {
  type: 'string',
  maxLength: 512,
  pattern: '^[A-Za-z0-9_-]+$',
  description: 'nextCursor of the previous page',
} as const;
export const REASON = { type: 'string', minLength: 1, maxLength: 2000 } as const;

export function closed(properties: Record<string, unknown>, required: string[] = []): Record<string, unknown> {
  return { type: 'object', properties, required, additionalProperties: false };
}

export const ERROR_BODY = {
  type: 'object',
  properties: {
    error: { type: 'string', description: 'stable short code, e.g. NOT_FOUND, VALIDATION_FAILED, FOUR_EYES_REQUIRED' },
    code: { type: 'string' },
    message: { type: 'string' },
    fieldErrors: {
      type: 'array',
      items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } } },
    },
  },
  required: ['error', 'message'],
} as const;
