/**
 * What every route of the control API (and the console's) is given: the database, the config,
 * lazily connected Kafka clients, the export slots, and the authenticated caller of a request.
 * Routes import this file, never server.ts, which registers them (no import circle).
 */
import type { FastifyRequest } from 'fastify';
import type { Admin, Kafka } from 'kafkajs';
import type { IdempotentProducer } from '../kafka/idempotent-producer';
import type { Knex } from 'knex';
import type { Config } from '../../schemas/config';
import type { Caller } from './auth';
import { unauthorized } from './errors';
import type { ExportSlots } from './export-slots';

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller | null;
  }
  interface FastifyContextConfig {
    /** No bearer token needed (the OpenAPI document, liveness). */
    public?: boolean;
  }
}

export interface RouteContext {
  db: Knex;
  config: Config;
  pemsHealthTimeoutMs: number;
  kafkaTimeoutMs: number;
  /** Lazily connected Kafka clients, or undefined without Kafka. */
  producer(): Promise<IdempotentProducer> | undefined;
  admin(): Promise<Admin> | undefined;
  /** Concurrent audit exports (export-slots.ts). */
  exports: ExportSlots;
  /** The Kafka client, when there is one (audit checkpoints). */
  kafka?: Kafka;
}

/** The authenticated caller of a non-public route. */
export function callerOf(req: FastifyRequest): Caller {
  if (!req.caller) throw unauthorized('a bearer token is required');
  return req.caller;
}
