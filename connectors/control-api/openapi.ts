/**
 * The OpenAPI 3.1 document, generated from the route schemas Fastify validates with, so the
 * document cannot drift from what the API enforces. A copy is kept in the repository at
 * schemas/openapi/control-api.json (a test checks the served document equals it):
 *
 *   npx tsx connectors/control-api/openapi.ts --write
 */
import { ERROR_BODY } from './schemas';

export interface RecordedRoute {
  method: string;
  url: string;
  public: boolean;
  schema?: {
    summary?: string;
    description?: string;
    tags?: string[];
    params?: { properties?: Record<string, unknown>; required?: string[] };
    querystring?: { properties?: Record<string, unknown>; required?: string[] };
    body?: Record<string, unknown>;
    /** Documentation only (not used for serialization): status → {description, content type → schema}. */
    produces?: string[];
    rights?: string;
  };
}

const ERRORS: Record<string, string> = {
  '400': 'invalid input (unknown field, bad id shape, bad value); fieldErrors names the field',
  '401': 'missing or invalid bearer token',
  '403': 'the caller lacks the right (perm_Sync, admin) or four-eyes refused',
  '404': "not found, or not in one of the caller's organizations",
  '409': 'the resource is not in a state that allows this action',
};

function parameters(
  where: 'path' | 'query',
  s: { properties?: Record<string, unknown>; required?: string[] } | undefined,
): unknown[] {
  if (!s?.properties) return [];
  return Object.entries(s.properties).map(([name, schema]) => {
    const { description, ...rest } = schema as Record<string, unknown>;
    return {
      name,
      in: where,
      required: where === 'path' || (s.required ?? []).includes(name),
      ...(description ? { description } : {}),
      schema: rest,
    };
  });
}

export function buildOpenApi(routes: readonly RecordedRoute[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const sorted = [...routes].sort((a, b) =>
    a.url === b.url ? a.method.localeCompare(b.method) : a.url.localeCompare(b.url),
  );
  for (const r of sorted) {
    const path = r.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const s = r.schema ?? {};
    const produces = s.produces ?? ['application/json'];
    const op: Record<string, unknown> = {
      operationId: `${r.method.toLowerCase()}${path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      ...(s.summary ? { summary: s.summary } : {}),
      ...(s.description || s.rights
        ? { description: [s.description, s.rights ? `Rights: ${s.rights}.` : undefined].filter(Boolean).join('\n\n') }
        : {}),
      ...(s.tags ? { tags: s.tags } : {}),
      parameters: [...parameters('path', s.params), ...parameters('query', s.querystring)],
      ...(s.body ? { requestBody: { required: true, content: { 'application/json': { schema: s.body } } } } : {}),
      responses: {
        '200': { description: 'success', content: Object.fromEntries(produces.map((p) => [p, {}])) },
        ...(r.public
          ? {}
          : Object.fromEntries(
              Object.entries(ERRORS).map(([code, description]) => [
                code,
                { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
              ]),
            )),
      },
      ...(r.public ? { security: [] } : {}),
    };
    paths[path] ??= {};
    paths[path]![r.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'pems-sync control API',
      version: '1',
      description:
        'Conflicts, rollbacks, dead letters, the audit trail, sync status and notifications for people. ' +
        'Every action becomes a committed modification that flows through CDC and the sink to PEMS. ' +
        "Every query is scoped to the caller's organizations; reads need membership, actions perm_Sync, rollback approval admin.",
    },
    security: [{ bearerAuth: [] }],
    components: {
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      schemas: { Error: ERROR_BODY },
    },
    paths,
  };
}
