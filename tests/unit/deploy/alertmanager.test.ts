/**
 * deploy/alertmanager/alertmanager.yml, checked by the real amtool (Debian's
 * prometheus-alertmanager): valid, critical alerts routed to email and Slack and warnings to
 * Slack, grouped per organization, resolved notifications on every receiver, inhibitions that
 * name alerts the rules file defines, Slack text escaped, and the local stack's variant
 * (deploy/local/alertmanager-config.ts) valid too with the same routes.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { composeAlertmanagerConfig, localAlertmanagerConfig } from '../../../deploy/local/alertmanager-config';

const repo = join(__dirname, '..', '..', '..');
const configPath = join(repo, 'deploy/alertmanager/alertmanager.yml');
const text = readFileSync(configPath, 'utf8');
const config = parse(text) as Record<string, any>;
const alertNames = new Set(
  (
    parse(readFileSync(join(repo, 'deploy/helm/pems-sync/files/pems-sync.rules.yml'), 'utf8')) as {
      groups: Array<{ rules: Array<{ alert: string }> }>;
    }
  ).groups.flatMap((g) => g.rules.map((r) => r.alert)),
);

function amtool(...args: string[]): { status: number | null; output: string } {
  const r = spawnSync('amtool', args, { cwd: repo, encoding: 'utf8' });
  if (r.error) throw new Error(`amtool could not run (apt-get install prometheus-alertmanager): ${r.error.message}`);
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

const receiverOf = (file: string, ...labels: string[]): string =>
  amtool('config', 'routes', 'test', `--config.file=${file}`, ...labels)
    .output.split('\n')
    .filter((l) => !l.startsWith('Warning'))
    .join('\n');

describe('Alertmanager config', () => {
  it('passes amtool check-config', () => {
    const r = amtool('check-config', configPath);
    expect(r.output).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });

  it('routes critical alerts to email and Slack, warnings to Slack', () => {
    expect(receiverOf(configPath, 'severity=critical', 'organization=RIO', 'alertname=PemsUnreachable')).toBe(
      'email-and-slack',
    );
    expect(receiverOf(configPath, 'severity=warning', 'organization=RIO', 'alertname=PemsSyncEditsStale')).toBe(
      'slack',
    );
    const receivers = Object.fromEntries((config.receivers as Array<Record<string, any>>).map((r) => [r.name, r]));
    expect(receivers['email-and-slack'].email_configs).toHaveLength(1);
    expect(receivers['email-and-slack'].slack_configs).toHaveLength(1);
    expect(receivers.slack.email_configs).toBeUndefined();
  });

  it('groups per organization and sends resolved notifications on every path', () => {
    expect(config.route.group_by).toEqual(['organization']);
    for (const r of config.receivers as Array<Record<string, any>>) {
      for (const c of [...(r.email_configs ?? []), ...(r.slack_configs ?? [])]) expect(c.send_resolved).toBe(true);
    }
  });

  it('inhibits the alerts PEMS being down causes, for the same organization only, naming alerts that exist', () => {
    const rules = config.inhibit_rules as Array<{
      source_matchers: string[];
      target_matchers: string[];
      equal: string[];
    }>;
    const pems = rules.find((r) => r.source_matchers.includes('alertname="PemsUnreachable"'));
    expect(pems?.equal).toEqual(['organization']);
    const targets = /alertname=~"([^"]+)"/.exec(pems!.target_matchers[0]!)![1]!.split('|');
    expect(targets).toEqual(
      expect.arrayContaining(['PemsSyncFailuresHigh', 'PemsSyncFailures', 'PemsSyncNoOutcome', 'PemsSyncEditsStale']),
    );
    expect(targets).not.toContain('PemsUnreachable');
    for (const r of rules) {
      expect(alertNames).toContain(/alertname="([^"]+)"/.exec(r.source_matchers[0]!)![1]);
      for (const t of /alertname=~"([^"]+)"/.exec(r.target_matchers[0]!)![1]!.split('|'))
        expect(alertNames).toContain(t);
    }
  });

  it('escapes Slack markup in user-made strings', () => {
    const r = amtool(
      'template',
      'render',
      `--template.glob=${join(repo, 'deploy/alertmanager/templates/*.tmpl')}`,
      '--template.text={{ template "pems-sync.slack.escape" "<!channel> R&D" }}',
    );
    expect(r.output).toBe('&lt;!channel&gt; R&amp;D');
  });

  it('local stack variant: valid, same routes, SMTP to Mailpit and Slack to the local receiver', () => {
    const local = localAlertmanagerConfig(text, {
      smtpPort: 2525,
      slackPort: 2626,
      templatesDir: join(repo, 'deploy/alertmanager/templates'),
    });
    const dir = mkdtempSync(join(tmpdir(), 'pems-sync-am-'));
    const file = join(dir, 'alertmanager.yml');
    writeFileSync(file, stringify(local));
    expect(amtool('check-config', file).status).toBe(0);
    expect(local.global.smtp_smarthost).toBe('127.0.0.1:2525');
    expect(local.global.slack_api_url).toBe('http://127.0.0.1:2626/services/local');
    expect(local.route.routes).toEqual(config.route.routes);
    expect(local.inhibit_rules).toEqual(config.inhibit_rules);
    expect(receiverOf(file, 'severity=critical', 'organization=RIO')).toBe('email-and-slack');
  });

  it('docker compose variant is generated from the same file and up to date', () => {
    expect(readFileSync(join(repo, 'deploy/alertmanager/alertmanager.compose.yml'), 'utf8')).toBe(
      composeAlertmanagerConfig(text),
    );
    expect(amtool('check-config', join(repo, 'deploy/alertmanager/alertmanager.compose.yml')).status).toBe(0);
  });
});
