/**
 * Outbound webhooks for operators: Slack-compatible JSON ({text, blocks}) for new dead letters
 * and "PEMS unreachable" notifications (notification rows with user_id null). Delivery is at
 * least once: a row is delivered when every configured URL answered 2xx; a failure retries all
 * URLs after a jittered, capped backoff (streams/retry backoffDelay) until maxAttempts.
 */
import type { Knex } from 'knex';
import { backoffDelay, type BackoffPolicy } from '../../streams/retry';
import {
  claimOperatorNotifications,
  markNotificationDelivered,
  markNotificationDeliveryFailed,
  type OperatorNotification,
} from '../postgres/notifications';

export const OPERATOR_KINDS = ['dead_letter', 'pems_unreachable'] as const;

export interface SlackMessage {
  text: string;
  blocks?: Array<Record<string, unknown>>;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined;
}

/** The message for one operator notification. Pure. Never includes record values (they may be confidential). */
export function webhookMessage(n: Pick<OperatorNotification, 'id' | 'organizationId' | 'kind' | 'payload' | 'createdAt'>): SlackMessage {
  const p = n.payload ?? {};
  let text: string;
  if (n.kind === 'dead_letter') {
    const what = [str(p.pfaId) && `PFA ${str(p.pfaId)}`, str(p.errorCode) && `(${str(p.errorCode)})`].filter(Boolean).join(' ');
    text = `pems-sync: new dead letter in ${n.organizationId}${what ? `: ${what}` : ''}${str(p.reason) ? ` — ${str(p.reason)}` : ''}`;
  } else if (n.kind === 'pems_unreachable') {
    text = `pems-sync: PEMS is unreachable for ${n.organizationId}${str(p.reason) ? ` — ${str(p.reason)}` : ''}`;
  } else {
    text = `pems-sync: ${n.kind} in ${n.organizationId}`;
  }
  const fields = [
    { type: 'mrkdwn', text: `*Organization*\n${n.organizationId}` },
    { type: 'mrkdwn', text: `*Kind*\n${n.kind}` },
    { type: 'mrkdwn', text: `*When*\n${n.createdAt}` },
    ...(str(p.deadLetterId) ? [{ type: 'mrkdwn', text: `*Dead letter*\n${str(p.deadLetterId)}` }] : []),
  ];
  return { text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text } }, { type: 'section', fields }] };
}

export interface DispatcherOptions {
  db: Knex;
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

  constructor(private readonly opts: DispatcherOptions) {}

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
    const rows = await claimOperatorNotifications(this.opts.db, {
      kinds: OPERATOR_KINDS,
      limit: this.opts.batchSize ?? 20,
      // The lease outlives the worst-case delivery of the batch.
      leaseMs: timeoutMs * this.opts.urls.length * (this.opts.batchSize ?? 20) + 60_000,
      maxAttempts: this.opts.maxAttempts ?? 8,
      organizationIds: this.opts.organizationIds,
    });
    let delivered = 0;
    let failed = 0;
    for (const n of rows) {
      const body = JSON.stringify(webhookMessage(n));
      const errors: string[] = [];
      for (const url of this.opts.urls) {
        try {
          const res = await (this.opts.fetch ?? fetch)(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body,
            signal: AbortSignal.timeout(timeoutMs),
          });
          if (res.status < 200 || res.status >= 300) errors.push(`HTTP ${res.status}`);
          await res.body?.cancel().catch(() => undefined);
        } catch (err) {
          errors.push((err as Error).name === 'TimeoutError' ? `timeout after ${timeoutMs} ms` : (err as Error).message);
        }
      }
      if (errors.length === 0) {
        await markNotificationDelivered(this.opts.db, n.id);
        delivered += 1;
      } else {
        const policy = this.opts.backoff ?? { delaysMs: [5000, 30000, 120000], jitter: 0.2, maxDelayMs: 900_000 };
        // URLs are secrets (they carry tokens): errors name the status, never the URL.
        await markNotificationDeliveryFailed(this.opts.db, n.id, errors.join('; '), backoffDelay(n.deliveryAttempts + 1, policy));
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
