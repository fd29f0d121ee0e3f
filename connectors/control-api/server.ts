/**
 * The control API for people: conflicts, rollbacks, dead letters, the audit trail, sync status
 * and notifications. `buildControlApi` returns the Fastify instance (tests use inject or
 * listen on port 0); connectors/control-api/main.ts runs it as its own process.
 *
 * People's actions never call PEMS: they become committed modifications that flow through CDC
 * and the sink like any edit (README, "Layout").
 */
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifySchemaValidationError,
  type RouteOptions,
} from 'fastify';
import type { Kafka, Admin } from 'kafkajs';
import { IdempotentProducer } from '../kafka/idempotent-producer';
import type { Knex } from 'knex';
import { checkProductionSecrets, type Config } from '../../schemas/config';
import { createLogger } from '../observability/logger';
import { createTokenVerifier, loadCaller, type TokenVerifier } from './auth';
import type { RouteContext } from './route-context';
import { ExportSlots } from './export-slots';
import { guardRequestText, isDataException, isInt8 } from './input-guard';
import { readiness } from './readiness';
import { ApiError, toApiError, unauthorized } from './errors';
import { buildOpenApi, type RecordedRoute } from './openapi';
import { registerAuditRoutes } from './routes/audit';
import { registerConflictRoutes } from './routes/conflicts';
import { registerDeadLetterRoutes } from './routes/dead-letters';
import { registerNotificationRoutes } from './routes/notifications';
import { registerRollbackRoutes } from './routes/rollbacks';
import { registerStatusRoutes } from './routes/status';
import { registerConsole } from '../console';

export interface ControlApiOptions {
  db: Knex;
  config: Config;
  /** Needed to replay poison events (produce to topics.cdc) and to report consumer lag. */
  kafka?: Kafka;
  /** Overrides the verifier built from controlApi.jwtSecret / jwksUrl (tests with other keys). */
  verifyToken?: TokenVerifier;
  /** Timeout of the PEMS /health probe of GET /status, ms. Default 2000. */
  pemsHealthTimeoutMs?: number;
  /** Timeout of the Kafka offset look-ups of GET /status, ms. Default 5000. */
  kafkaTimeoutMs?: number;
  /** Fastify logger option (tests: false); default: the project's logger (observability/logger) at config log.level. */
  logger?: boolean | Record<string, unknown>;
}

export function buildControlApi(opts: ControlApiOptions): FastifyInstance {
  checkProductionSecrets(opts.config);
  const verify =
    opts.verifyToken ??
    createTokenVerifier({
      jwtSecret: opts.config.controlApi.jwtSecret,
      jwksUrl: opts.config.controlApi.jwksUrl,
      issuer: opts.config.controlApi.jwtIssuer,
      audience: opts.config.controlApi.jwtAudience,
      maxAgeSeconds: opts.config.controlApi.jwtMaxAgeSeconds,
      environment: opts.config.deployment.environment as 'production' | 'development',
    });
  const app = Fastify({
    // One log format for every process: the project's pino (ISO time, level names, redaction paths).
    ...(opts.logger !== undefined
      ? { logger: opts.logger }
      : { loggerInstance: createLogger(opts.config.log.level, { component: 'control-api' }) as FastifyBaseLogger }),
    bodyLimit: 1_048_576,
    // Fastify strips unknown properties by default; the contract is to refuse them, naming the field.
    ajv: {
      customOptions: {
        removeAdditional: false,
        coerceTypes: 'array',
        useDefaults: true,
        allErrors: false,
        formats: { int8: isInt8 },
      },
    },
  });

  let producer: Promise<IdempotentProducer> | undefined;
  let admin: Promise<Admin> | undefined;
  const ctx: RouteContext = {
    db: opts.db,
    config: opts.config,
    pemsHealthTimeoutMs: opts.pemsHealthTimeoutMs ?? 2000,
    kafkaTimeoutMs: opts.kafkaTimeoutMs ?? 5000,
    kafka: opts.kafka,
    exports: new ExportSlots({
      maxTotal: opts.config.controlApi.exportMaxConcurrent,
      maxPerCaller: opts.config.controlApi.exportMaxPerCaller,
    }),
    producer: () => {
      if (!opts.kafka) return undefined;
      producer ??= (async () => {
        // Idempotent producer: a retried send never duplicates the replayed event; replaced after a
        // failed send (../kafka/idempotent-producer.ts). murmur2 like Kafka Connect's Java producer,
        // so a replayed event lands on the partition Debezium uses for the same key.
        const p = new IdempotentProducer(opts.kafka!);
        await p.connect();
        return p;
      })().catch((err) => {
        producer = undefined;
        throw err;
      });
      return producer;
    },
    admin: () => {
      if (!opts.kafka) return undefined;
      admin ??= (async () => {
        const a = opts.kafka!.admin();
        await a.connect();
        return a;
      })().catch((err) => {
        admin = undefined;
        throw err;
      });
      return admin;
    },
  };

  const routes: RecordedRoute[] = [];
  app.addHook('onRoute', (r: RouteOptions) => {
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    // The console's pages are not part of the API contract (connectors/console).
    if (r.config?.console) return;
    for (const m of methods)
      if (m !== 'HEAD')
        routes.push({
          method: m,
          url: r.url,
          schema: r.schema as RecordedRoute['schema'],
          public: r.config?.public === true,
        });
  });

  app.decorateRequest('caller', null);
  app.addHook('onRequest', async (req) => {
    if (req.routeOptions.config?.public) return;
    if (!req.routeOptions.url) return; // unknown route: the 404 handler answers
    const header = req.headers.authorization;
    const m = typeof header === 'string' ? /^Bearer ([A-Za-z0-9_\-.=]+)$/.exec(header) : null;
    if (!m) throw unauthorized('a bearer token is required');
    const { sub } = await verify(m[1]!);
    req.caller = await loadCaller(opts.db, sub);
  });
  // After schema validation: text Postgres cannot store is a 400 naming the field (input-guard.ts).
  app.addHook('preHandler', async (req) => {
    guardRequestText({ querystring: req.query, params: req.params, body: req.body });
  });

  app.setErrorHandler(
    (
      err: Error & {
        validation?: Array<Partial<FastifySchemaValidationError>>;
        validationContext?: string;
        statusCode?: number;
        code?: string;
      },
      req,
      reply,
    ) => {
      if (err.validation) {
        const where = err.validationContext ?? 'request';
        const fieldErrors = err.validation.map((v) => {
          const path = String(v.instancePath ?? '')
            .replace(/^\//, '')
            .replace(/\//g, '.');
          if (v.keyword === 'additionalProperties') {
            const field = [path, v.params?.additionalProperty].filter(Boolean).join('.');
            return { field, message: `unknown field '${field}' in ${where}` };
          }
          if (v.keyword === 'required') {
            const field = [path, v.params?.missingProperty].filter(Boolean).join('.');
            return { field, message: `${where} needs '${field}'` };
          }
          return { field: path || where, message: `${where}${path ? ` ${path}` : ''} ${v.message ?? 'is invalid'}` };
        });
        return reply.code(400).send({
          error: 'VALIDATION_FAILED',
          code: 'PEMS_SYNC_API_VALIDATION_FAILED',
          message: fieldErrors.map((f) => f.message).join('; '),
          fieldErrors,
        });
      }
      const api = toApiError(err);
      if (api) {
        if (api.statusCode >= 500) req.log.error({ err }, 'control API error');
        return reply.code(api.statusCode).send(api.body());
      }
      // Last net: a value Postgres refuses as data (SQLSTATE 22…) is the caller's input, not our fault.
      if (isDataException(err)) {
        return reply.code(400).send({
          error: 'VALIDATION_FAILED',
          code: 'PEMS_SYNC_API_VALIDATION_FAILED',
          message: `a value in the request cannot be used: ${err.message}`,
          fieldErrors: [{ field: 'request', message: err.message }],
        });
      }
      // Fastify's own 4xx (bad JSON, wrong content type, body too large).
      if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
        return reply
          .code(err.statusCode)
          .send({ error: 'BAD_REQUEST', code: err.code ?? 'PEMS_SYNC_API_BAD_REQUEST', message: err.message });
      }
      req.log.error({ err }, 'control API error');
      return reply.code(500).send({ error: 'INTERNAL', code: 'PEMS_SYNC_API_INTERNAL', message: 'internal error' });
    },
  );
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send(new ApiError(404, 'NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`).body());
  });

  app.get(
    '/healthz',
    { config: { public: true }, schema: { summary: 'liveness', tags: ['meta'] } as Record<string, unknown> },
    async () => ({ status: 'ok' }),
  );
  app.get(
    '/readyz',
    {
      config: { public: true },
      schema: {
        summary: 'readiness: 503 while the database is unreachable or its pool saturated (requests would wait)',
        tags: ['meta'],
      } as Record<string, unknown>,
    },
    async (_req, reply) => {
      const r = await readiness(ctx);
      return reply.code(r.ready ? 200 : 503).send({ status: r.ready ? 'ready' : 'not ready', checks: r.checks });
    },
  );
  app.get(
    '/openapi.json',
    {
      config: { public: true },
      schema: { summary: 'this OpenAPI document', tags: ['meta'] } as Record<string, unknown>,
    },
    async () => buildOpenApi(routes),
  );

  registerConflictRoutes(app, ctx);
  registerRollbackRoutes(app, ctx);
  registerDeadLetterRoutes(app, ctx);
  registerAuditRoutes(app, ctx);
  registerStatusRoutes(app, ctx);
  registerNotificationRoutes(app, ctx);
  if (opts.config.console.enabled) registerConsole(app, ctx, verify);

  app.addHook('onClose', async () => {
    // Keep going past a failing step: a stuck producer must not keep the admin open.
    const p = producer;
    const a = admin;
    producer = undefined;
    admin = undefined;
    await Promise.allSettled([p?.then((x) => x.disconnect()), a?.then((x) => x.disconnect())]);
  });
  return app;
}
