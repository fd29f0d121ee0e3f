/**
 * One field's problem, wherever it is found: PEMS's rules checked here (streams/validation),
 * PEMS's own 400 answer (connectors/pems), an outcome's error and the API's `fieldErrors`.
 * `code` says which rule when this project checked it; PEMS's answers carry field and message only.
 */
export interface FieldError {
  field: string;
  message: string;
  code?: FieldRule;
}

/** The rules a field can break (schemas/openapi/pems-api.json: VALIDATION_FAILED, FIELD_NOT_EDITABLE). */
export type FieldRule = 'VALIDATION_FAILED' | 'FIELD_NOT_EDITABLE';
