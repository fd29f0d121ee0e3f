/**
 * Outbound webhooks for operators: Slack-compatible JSON ({text, blocks}) for new dead letters
 * and "PEMS unreachable" notifications (notification rows with user_id null). Delivery is at
 * least once: a row is delivered when every URL it goes to answered 2xx; a failure retries all
 * of them after a jittered, capped backoff (streams/retry backoffDelay) until maxAttempts.
 *
 * Hostile text (issue 13, item 9): PFA ids, reasons and error codes come from users and PEMS.
 * Every value is escaped for Slack (&, <, > as entities, so `<!channel>` or `<url|label>` is
 * shown, never acted on). Redirects are never followed (a 3xx is a failed delivery: following
 * one would re-post the body wherever the answer points). URLs are scoped: `ORG=https://…`
 * receives only organization ORG's notifications; a bare URL is the service operators' and
 * receives every organization's.
 */
import type { Knex } from 'knex';
import { ConfigError } from '../../streams/errors';
import { backoffDelay, type BackoffPolicy } from '../../streams/retry';
import {
  claimOperatorNotifications,
  markNotificationDelivered,
  markNotificationDeliveryFailed,
  type OperatorNotification,
} from '../postgres/notifications';

import { OPERATOR_NOTIFICATION_KINDS } from '../../streams/notifications';

export const OPERATOR_KINDS = OPERATOR_NOTIFICATION_KINDS;

export interface SlackMessage {
  text: string;
  blocks?: Array<Record<string, unknown>>;
}

/** Slack's own escaping of message text: only &, < and > are control characters. */
export function slackEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function str(v: unknown): string | undefined {
  const s = typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined;
  return s === undefined ? undefined : slackEscape(s);
}

export interface WebhookTargets {
  /** Every organization's notifications (the service operators). */
  all: string[];
  /** Only this organization's. */
  byOrganization: Map<string, string[]>;
}

const SCOPED = /^([A-Za-z0-9_.:-]{1,64})=(.+)$/;

/** Parses controlApi.webhookUrls entries: `https://…` or `ORG=https://…`. Errors never print the URL (it carries a token). */
export function parseWebhookTargets(entries: readonly string[]): WebhookTargets {
  const targets: WebhookTargets = { all: [], byOrganization: new Map() };
  entries.forEach((entry, i) => {
    const m = SCOPED.exec(entry);
    const url = m ? m[2]! : entry;
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ConfigError('controlApi.webhookUrls', `item ${i} is not a URL (use https://… or ORG=https://…)`);
    }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')
      throw new ConfigError('controlApi.webhookUrls', `item ${i} must be http(s)`);
    if (m) targets.byOrganization.set(m[1]!, [...(targets.byOrganization.get(m[1]!) ?? []), url]);
    else targets.all.push(url);
  });
  return targets;
}

export function urlsFor(targets: WebhookTargets, organizationId: string): string[] {
  return [...targets.all, ...(targets.byOrganization.get(organizationId) ?? [])];
}

/** The message for one operator notification. Pure. Never includes record values (they may be confidential). */
export function webhookMessage(
  n: Pick<OperatorNotification, 'id' | 'organizationId' | 'kind' | 'payload' | 'createdAt'>,
): SlackMessage {
  const p = n.payload ?? {};
  const org = slackEscape(n.organizationId);
  let text: string;
  if (n.kind === 'dead_letter') {
    const what = [str(p.pfaId) && `PFA ${str(p.pfaId)}`, str(p.errorCode) && `(${str(p.errorCode)})`]
      .filter(Boolean)
      .join(' ');
    text = `pems-sync: new dead letter in ${org}${what ? `: ${what}` : ''}${str(p.reason) ? ` — ${str(p.reason)}` : ''}`;
  } else if (n.kind === 'pems_unreachable') {
    text = `pems-sync: PEMS is unreachable for ${org}${str(p.reason) ? ` — ${str(p.reason)}` : ''}`;
  } else {
    text = `pems-sync: ${slackEscape(n.kind)} in ${org}`;
  }
  const fields = [
    { type: 'mrkdwn', text: `*Organization*\n${org}` },
    { type: 'mrkdwn', text: `*Kind*\n${slackEscape(n.kind)}` },
    { type: 'mrkdwn', text: `*When*\n${slackEscape(String(n.createdAt))}` },
    ...(str(p.deadLetterId) ? [{ type: 'mrkdwn', text: `*Dead letter*\n${str(p.deadLetterId)}` }] : []),
  ];
  return {
    text,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text } },
      { type: 'section', fields },
    ],
  };
}

export interface DispatcherOptions {
  db: Knex;
  /** controlApi.webhookUrls entries: `https://…` (every organization) or `ORG=https://…` (that one only). */
  urls: readonly string[];
  /** Poll interval, ms. Default 5000. */
  pollIntervalMs?: number;
  /** Backoff between tries of one notification. Default delays [5000, 30000, 120000] ms, jitter 0.2, cap 15 min. */
  backoff?: BackoffPolicy;
  /** Tries before a notification is given up (left undelivered with its last error). Default 8. */
  maxAttempts?: number;
  /** Timeout of one webhook POST, ms. Default 5000. */
  timeoutMs?: number;
  /** Rows claimed per poll. Default 20. */
  batchSize?: number;
  /** Only these organizations (tests; several dispatchers sharing a database). Default all. */
  organizationIds?: readonly string[];
  /** Injected for tests. */
  fetch?: typeof fetch;
  onError?: (err: unknown) => void;
}

export class WebhookDispatcher {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private closing: Promise<void> | undefined;

  private readonly targets: WebhookTargets;

  constructor(private readonly opts: DispatcherOptions) {
    this.targets = parseWebhookTargets(opts.urls);
  }

  /** Organizations whose notifications go somewhere: all (when a bare URL exists) or the scoped ones. */
  private claimable(): readonly string[] | undefined {
    if (this.targets.all.length > 0) return this.opts.organizationIds;
    const scoped = [...this.targets.byOrganization.keys()];
    return this.opts.organizationIds ? this.opts.organizationIds.filter((o) => scoped.includes(o)) : scoped;
  }

  start(): void {
    if (this.opts.urls.length === 0 || this.timer || this.stopped) return;
    const tick = (): void => {
      this.running = this.pollOnce()
        .then(() => undefined)
        .catch((err) => this.opts.onError?.(err))
        .finally(() => {
          this.running = undefined;
          if (!this.stopped) this.timer = setTimeout(tick, this.opts.pollIntervalMs ?? 5000);
        });
    };
    this.timer = setTimeout(tick, 0);
  }

  /** One round: claim due notifications, deliver each, record the outcome. Returns how many were delivered. */
  async pollOnce(): Promise<{ delivered: number; failed: number }> {
    const timeoutMs = this.opts.timeoutMs ?? 5000;
    const organizationIds = this.claimable();
    if (organizationIds !== undefined && organizationIds.length === 0) return { delivered: 0, failed: 0 };
    const rows = await claimOperatorNotifications(this.opts.db, {
      kinds: OPERATOR_KINDS,
      limit: this.opts.batchSize ?? 20,
      // The lease outlives the worst-case delivery of the batch.
      leaseMs: timeoutMs * this.opts.urls.length * (this.opts.batchSize ?? 20) + 60_000,
      maxAttempts: this.opts.maxAttempts ?? 8,
      organizationIds,
    });
    let delivered = 0;
    let failed = 0;
    for (const n of rows) {
      const body = JSON.stringify(webhookMessage(n));
      const errors: string[] = [];
      for (const url of urlsFor(this.targets, n.organizationId)) {
        try {
          const res = await (this.opts.fetch ?? fetch)(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body,
            // Never follow: a 3xx would have the body re-posted wherever it points.
            redirect: 'manual',
            signal: AbortSignal.timeout(timeoutMs),
          });
          if (res.status >= 300 && res.status < 400) errors.push(`HTTP ${res.status} (redirects are not followed)`);
          else if (res.status < 200 || res.status >= 300) errors.push(`HTTP ${res.status}`);
          await res.body?.cancel().catch(() => undefined);
        } catch (err) {
          errors.push(
            (err as Error).name === 'TimeoutError' ? `timeout after ${timeoutMs} ms` : (err as Error).message,
          );
        }
      }
      if (errors.length === 0) {
        await markNotificationDelivered(this.opts.db, n.id);
        delivered += 1;
      } else {
        const policy = this.opts.backoff ?? { delaysMs: [5000, 30000, 120000], jitter: 0.2, maxDelayMs: 900_000 };
        // URLs are secrets (they carry tokens): errors name the status, never the URL.
        await markNotificationDeliveryFailed(
          this.opts.db,
          n.id,
          errors.join('; '),
          backoffDelay(n.deliveryAttempts + 1, policy),
        );
        failed += 1;
      }
    }
    return { delivered, failed };
  }

  /** Idempotent: stops polling and waits for the round in flight. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.stopped = true;
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      await this.running;
    })();
    return this.closing;
  }
}
