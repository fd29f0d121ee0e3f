/**
 * The local stack's monitoring services as tests use them (deploy/local/stack.sh starts them;
 * deploy/local/env.sh sets the variables): scrape targets and extra rule files for the real
 * Prometheus, Mailpit's HTTP API (the real SMTP server Alertmanager sends to) and the local
 * Slack-compatible receiver.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

const state = process.env.PEMS_SYNC_STATE ?? '/tmp/pems-sync';
export const monitoringEnv = {
  prometheusUrl: process.env.PROMETHEUS_URL ?? 'http://127.0.0.1:9090',
  alertmanagerUrl: process.env.ALERTMANAGER_URL ?? 'http://127.0.0.1:9095',
  mailpitUrl: process.env.MAILPIT_URL ?? 'http://127.0.0.1:8025',
  slackUrl: process.env.SLACK_RECEIVER_URL ?? 'http://127.0.0.1:8027',
  targetsDir: process.env.PROMETHEUS_TARGETS_DIR ?? join(state, 'prometheus/targets'),
  rulesDir: process.env.PROMETHEUS_RULES_DIR ?? join(state, 'prometheus/rules.d'),
  runbookBase: process.env.PEMS_SYNC_RUNBOOK_BASE_URL ?? 'https://git.example.com/pems-sync/blob/main/README.md',
};

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns a value (not undefined); throws with `what` after timeoutMs. */
export async function eventually<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
  everyMs = 500,
): Promise<T> {
  const start = Date.now();
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() - start > timeoutMs)
      throw new Error(`${what}: not seen within ${timeoutMs} ms${lastErr ? ` (last error: ${String(lastErr)})` : ''}`);
    await sleep(everyMs);
  }
}

/** A port nobody listens on right now (bound to 0, read back, released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** Makes Prometheus scrape 127.0.0.1:<port> (file_sd target file); the result removes it. */
export function addScrapeTarget(name: string, port: number, labels: Record<string, string>): () => void {
  mkdirSync(monitoringEnv.targetsDir, { recursive: true });
  const file = join(monitoringEnv.targetsDir, `${name}.json`);
  writeFileSync(file, JSON.stringify([{ targets: [`127.0.0.1:${port}`], labels }]));
  return () => rmSync(file, { force: true });
}

/** Waits until Prometheus has scraped 127.0.0.1:<port> successfully. */
export async function waitForTargetUp(port: number, timeoutMs = 30000): Promise<void> {
  await eventually(`Prometheus scraping 127.0.0.1:${port}`, timeoutMs, async () => {
    const r = await getJson<{ data: { activeTargets: Array<{ scrapeUrl: string; health: string }> } }>(
      `${monitoringEnv.prometheusUrl}/api/v1/targets?state=active`,
    );
    return r.data.activeTargets.some((t) => t.scrapeUrl.includes(`127.0.0.1:${port}/`) && t.health === 'up')
      ? true
      : undefined;
  });
}

async function reloadPrometheus(): Promise<void> {
  const res = await fetch(`${monitoringEnv.prometheusUrl}/-/reload`, { method: 'POST' });
  if (!res.ok) throw new Error(`Prometheus reload: ${res.status} ${await res.text()}`);
}

/** Adds a rule file (YAML text) to Prometheus and waits until `group` is loaded; the result removes it. */
export async function addRuleFile(name: string, text: string, group: string): Promise<() => Promise<void>> {
  mkdirSync(monitoringEnv.rulesDir, { recursive: true });
  const file = join(monitoringEnv.rulesDir, `${name}.yml`);
  writeFileSync(file, text);
  await reloadPrometheus();
  await eventually(`Prometheus loading rule group ${group}`, 20000, async () => {
    const r = await getJson<{ data: { groups: Array<{ name: string }> } }>(
      `${monitoringEnv.prometheusUrl}/api/v1/rules`,
    );
    return r.data.groups.some((g) => g.name === group) ? true : undefined;
  });
  return async () => {
    rmSync(file, { force: true });
    await reloadPrometheus();
  };
}

/** One value of an instant query, or undefined when the result is empty. */
export async function queryValue(expr: string): Promise<number | undefined> {
  const r = await getJson<{ data: { result: Array<{ value: [number, string] }> } }>(
    `${monitoringEnv.prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`,
  );
  const v = r.data.result[0]?.value[1];
  return v === undefined ? undefined : Number(v);
}

export interface MailSummary {
  ID: string;
  Subject: string;
  To: Array<{ Address: string }>;
  Created: string;
}
export interface Mail extends MailSummary {
  HTML: string;
  Text: string;
}

/** Mailpit messages whose subject contains `text`, newest first. */
export async function mailsWithSubject(text: string): Promise<MailSummary[]> {
  const r = await getJson<{ messages: MailSummary[] }>(
    `${monitoringEnv.mailpitUrl}/api/v1/search?query=${encodeURIComponent(`subject:"${text}"`)}`,
  );
  return r.messages.filter((m) => m.Subject.includes(text));
}

export const mail = (id: string): Promise<Mail> => getJson<Mail>(`${monitoringEnv.mailpitUrl}/api/v1/message/${id}`);

export interface SlackMessage {
  receivedAt: string;
  path: string;
  body: { channel?: string; attachments?: Array<{ title?: string; text?: string; color?: string }> };
}

export const slackMessages = (): Promise<SlackMessage[]> =>
  getJson<SlackMessage[]>(`${monitoringEnv.slackUrl}/messages`);

export interface AlertmanagerAlert {
  labels: Record<string, string>;
  status: { state: string; inhibitedBy: string[]; silencedBy: string[] };
}

/** Sends alerts to Alertmanager the way Prometheus does (POST /api/v2/alerts). */
export async function postAlerts(
  alerts: Array<{ labels: Record<string, string>; annotations?: Record<string, string>; endsAt?: string }>,
): Promise<void> {
  const res = await fetch(`${monitoringEnv.alertmanagerUrl}/api/v2/alerts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(alerts),
  });
  if (!res.ok) throw new Error(`POST /api/v2/alerts: ${res.status} ${await res.text()}`);
}

/** Alertmanager's view of the alerts matching `filter` (e.g. organization="RIO"), inhibited ones included. */
export const alertmanagerAlerts = (filter: string): Promise<AlertmanagerAlert[]> =>
  getJson<AlertmanagerAlert[]>(`${monitoringEnv.alertmanagerUrl}/api/v2/alerts?filter=${encodeURIComponent(filter)}`);
