/**
 * The project's PEMS contract (schemas/openapi/pems-api.json) as a checker of answers: given the
 * operation, the status and the body an answer had, say whether the document allows it.
 */
import Ajv2020 from 'ajv/dist/2020';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const PEMS_OPENAPI_PATH = join(__dirname, '../../../schemas/openapi/pems-api.json');

interface Doc {
  paths: Record<string, Record<string, { responses?: Record<string, unknown> } | unknown>>;
  components: { responses: Record<string, unknown>; schemas: Record<string, unknown> };
}

export const pemsOpenApi = JSON.parse(readFileSync(PEMS_OPENAPI_PATH, 'utf8')) as Doc;

const DOC_ID = 'pems-api.json';
const ajv = new Ajv2020({ strict: false, allErrors: true });
ajv.addFormat(
  'date-time',
  (s: string) =>
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(s) && !Number.isNaN(Date.parse(s)),
);
ajv.addSchema(pemsOpenApi, DOC_ID);

const pointer = (...parts: string[]): string => parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

/** The JSON pointer of the response schema the document gives (path, method, status); throws when it gives none. */
function responseSchemaRef(path: string, method: string, status: number): string {
  const op = pemsOpenApi.paths[path]?.[method] as { responses?: Record<string, { $ref?: string }> } | undefined;
  if (!op) throw new Error(`the PEMS contract has no operation ${method.toUpperCase()} ${path}`);
  const response = op.responses?.[String(status)];
  if (!response)
    throw new Error(`the PEMS contract does not allow status ${status} for ${method.toUpperCase()} ${path}`);
  if (response.$ref) {
    const name = response.$ref.split('/').pop() as string;
    return `${DOC_ID}#/${pointer('components', 'responses', name, 'content', 'application/json', 'schema')}`;
  }
  return `${DOC_ID}#/${pointer('paths', path, method, 'responses', String(status), 'content', 'application/json', 'schema')}`;
}

/** Errors of an answer against the contract; empty when it conforms. */
export function contractErrors(path: string, method: string, status: number, body: unknown): string[] {
  const validate = ajv.getSchema(responseSchemaRef(path, method, status));
  if (!validate) throw new Error(`no schema for ${method.toUpperCase()} ${path} ${status}`);
  if (validate(body)) return [];
  return (validate.errors ?? []).map(
    (e) => `${e.instancePath || '(body)'} ${e.message ?? ''} ${JSON.stringify(e.params)}`,
  );
}

/** Errors of a value against one of the document's component schemas. */
export function schemaErrors(name: string, value: unknown): string[] {
  const validate = ajv.getSchema(`${DOC_ID}#/${pointer('components', 'schemas', name)}`);
  if (!validate) throw new Error(`the PEMS contract has no schema ${name}`);
  if (validate(value)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '(value)'} ${e.message ?? ''}`);
}
