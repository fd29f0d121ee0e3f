/**
 * GET /status: what the sync is doing for one organization. Counts and latency come from
 * pfa_modification; PEMS health is a short GET of the organization's PEMS /health; consumer
 * lag compares the sink group's committed offsets with the CDC topic's end offsets (the
 * topic is shared by all organizations, so lag is the sink's, not the organization's).
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';
import axios from 'axios';
import type { FastifyInstance } from 'fastify';
import { closed, ORG_ID } from '../schemas';
import { callerOf, type RouteContext } from '../route-context';
import { organizationPemsProblem } from '../../pems/organization-check';
import { readSyncStatus, type OrganizationPems } from '../../postgres/status';

export interface PemsHealth {
  status: 'up' | 'down' | 'misconfigured';
  /** With 'misconfigured': the setting to fix (pems_base_url, pems_credential_encrypted, pems.allowedHosts...). */
  setting?: string;
  httpStatus?: number;
  latencyMs?: number;
  reason?: string;
}

export type { OrganizationPems } from '../../postgres/status';

export interface ConsumerLag {
  status: 'ok' | 'unknown';
  groupId: string;
  topic: string;
  total?: number;
  partitions?: Array<{ partition: number; committed: string; end: string; lag: number }>;
  reason?: string;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export interface StatusProbes {
  pemsHealth(org: OrganizationPems | undefined): Promise<PemsHealth>;
  consumerLag(): Promise<ConsumerLag>;
}

/** The PEMS health probe and the sink group's lag, shared by GET /status and the console's status screen. */
export function createStatusProbes(ctx: RouteContext): StatusProbes {
  let agent: https.Agent | undefined;
  const httpsAgent = (): https.Agent => {
    agent ??= new https.Agent({
      ca: ctx.config.pems.caFile ? readFileSync(ctx.config.pems.caFile) : undefined,
      keepAlive: false,
    });
    return agent;
  };

  /**
   * A summarized PEMS state for readers: the organization's configuration first (the same rules
   * as the PEMS client: https, pems.allowedHosts, a credential that decrypts for this
   * organization), then /health. Network failures are one 'unreachable' reason whatever their
   * cause, so /status is no port scanner; operators find details in the sink's log.
   */
  async function pemsHealth(org: OrganizationPems | undefined): Promise<PemsHealth> {
    const problem = organizationPemsProblem(org, ctx.config);
    if (problem) return { status: 'misconfigured', setting: problem.setting, reason: problem.reason };
    const baseUrl = org!.pems_base_url!;
    const started = Date.now();
    try {
      const res = await axios.get(`${baseUrl.replace(/\/+$/, '')}/health`, {
        timeout: ctx.pemsHealthTimeoutMs,
        httpsAgent: httpsAgent(),
        validateStatus: () => true,
        maxRedirects: 0,
      });
      if (res.status === 200) return { status: 'up', httpStatus: 200, latencyMs: Date.now() - started };
      return {
        status: 'down',
        httpStatus: res.status,
        reason: `PEMS /health answered ${res.status}`,
        latencyMs: Date.now() - started,
      };
    } catch {
      return {
        status: 'down',
        reason: 'PEMS could not be reached (no answer within the timeout, or the connection failed)',
        latencyMs: Date.now() - started,
      };
    }
  }

  async function consumerLag(): Promise<ConsumerLag> {
    const groupId = ctx.config.kafka.groupId;
    const topic = ctx.config.topics.cdc;
    const adminP = ctx.admin();
    if (!adminP) return { status: 'unknown', groupId, topic, reason: 'Kafka is not configured for this API' };
    try {
      const admin = await withTimeout(adminP, ctx.kafkaTimeoutMs, 'Kafka admin connect');
      const [ends, committed] = await withTimeout(
        Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })]),
        ctx.kafkaTimeoutMs,
        'Kafka offsets',
      );
      const byPartition = new Map(
        (committed.find((t) => t.topic === topic)?.partitions ?? []).map((p) => [p.partition, p.offset]),
      );
      const partitions = ends
        .map((e) => {
          const c = byPartition.get(e.partition) ?? '-1';
          // No committed offset yet: everything from the log start is still to do.
          const from = BigInt(c) < 0n ? BigInt(e.low) : BigInt(c);
          const lag = BigInt(e.high) - from;
          return { partition: e.partition, committed: c, end: e.high, lag: Number(lag > 0n ? lag : 0n) };
        })
        .sort((a, b) => a.partition - b.partition);
      return { status: 'ok', groupId, topic, total: partitions.reduce((s, p) => s + p.lag, 0), partitions };
    } catch (err) {
      return { status: 'unknown', groupId, topic, reason: (err as Error).message };
    }
  }
  return { pemsHealth, consumerLag };
}

export function registerStatusRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { pemsHealth, consumerLag } = createStatusProbes(ctx);

  app.get(
    '/status',
    {
      schema: {
        summary: 'sync status of an organization',
        description:
          'Counts: queued (committed or queued, not yet picked up), inFlight (syncing), synced, failed, rejected, conflictsOpen, ' +
          'deadLettersOpen; lastSuccessAt (latest synced_at); latency p50/p95 of committed_at → synced_at over the last hour, seconds; ' +
          "PEMS health summarized: up, down (with a reason that names no address) or misconfigured (naming the setting: base URL, allowlist, credential); the sink consumer group's lag on the CDC topic.",
        tags: ['status'],
        rights: 'membership',
        querystring: closed({ organization: ORG_ID }, ['organization']),
      } as Record<string, unknown>,
    },
    async (req) => {
      const caller = callerOf(req);
      const { organization } = req.query as { organization: string };
      caller.scope(organization);
      const { counts, lastSuccessAt, latencyLastHour, org } = await readSyncStatus(ctx.db, organization);
      const [pems, lag] = await Promise.all([pemsHealth(org), consumerLag()]);
      return {
        organizationId: organization,
        counts,
        lastSuccessAt,
        latencyLastHour,
        pemsHealth: pems,
        consumerLag: lag,
      };
    },
  );
}
