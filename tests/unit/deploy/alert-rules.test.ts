/**
 * The alert rules, checked by the real promtool (Debian's `prometheus` package): the file is
 * valid (`promtool check rules`), its unit tests pass (`promtool test rules`), and every alert
 * has at least one case in the unit tests where it fires and one where it must not, a severity
 * Alertmanager routes, a summary naming the organization and a runbook link to a README section
 * that exists.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';

const repo = join(__dirname, '..', '..', '..');
const rulesPath = join(repo, 'deploy/helm/pems-sync/files/pems-sync.rules.yml');
const testsPath = join(repo, 'deploy/prometheus/pems-sync.rules.test.yml');

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface UnitTests {
  tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }> }>;
}

const rules = (parse(readFileSync(rulesPath, 'utf8')) as { groups: Array<{ rules: Rule[] }> }).groups.flatMap(
  (g) => g.rules,
);
const unit = parse(readFileSync(testsPath, 'utf8')) as UnitTests;

function promtool(...args: string[]): { status: number | null; output: string } {
  const r = spawnSync('promtool', args, { cwd: repo, encoding: 'utf8' });
  if (r.error) throw new Error(`promtool could not run (apt-get install prometheus): ${r.error.message}`);
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe('alert rules', () => {
  it('pass promtool check rules', () => {
    const r = promtool('check', 'rules', rulesPath);
    expect(r.output).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(r.status).toBe(0);
  });

  it('pass their promtool unit tests', () => {
    const r = promtool('test', 'rules', testsPath);
    expect(r.output).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });

  it('fail the unit tests when a rule changes (the tests look at the rules)', () => {
    // The same tests against a copy whose PemsUnreachable waits 10 minutes instead of 3.
    const dir = mkdtempSync(join(tmpdir(), 'pems-sync-rules-'));
    const changed = readFileSync(rulesPath, 'utf8').replace(/(alert: PemsUnreachable[\s\S]*?for: )3m/, '$110m');
    writeFileSync(join(dir, 'rules.yml'), changed);
    writeFileSync(
      join(dir, 'tests.yml'),
      readFileSync(testsPath, 'utf8').replace('../helm/pems-sync/files/pems-sync.rules.yml', 'rules.yml'),
    );
    const r = promtool('test', 'rules', join(dir, 'tests.yml'));
    expect(r.status).not.toBe(0);
    expect(r.output).toContain('alertname: PemsUnreachable');
  });

  it.each(rules.map((r) => [r.alert, r] as const))(
    '%s: severity, organization, runbook, a firing and a silent unit test',
    (name, rule) => {
      expect(['critical', 'warning']).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary).toContain('{{ $labels.organization }}');
      const runbook = rule.annotations?.runbook_url ?? '';
      expect(runbook).toBe(`{{ $externalLabels.runbook_base }}#runbook-${name.toLowerCase()}`);
      // The README section the link points at (GitHub's anchor of "### Runbook: <Alert>").
      expect(readFileSync(join(repo, 'README.md'), 'utf8')).toContain(`### Runbook: ${name}\n`);
      const cases = unit.tests.flatMap((t) => t.alert_rule_test ?? []).filter((c) => c.alertname === name);
      expect(cases.some((c) => c.exp_alerts.length > 0)).toBe(true);
      expect(cases.some((c) => c.exp_alerts.length === 0)).toBe(true);
    },
  );
});
