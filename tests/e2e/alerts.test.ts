/**
 * Alerts reach people (issue 17), end to end on the local stack with nothing mocked but PEMS
 * (the simulator): the real sink process, scraped by the real Prometheus, which evaluates the
 * production PemsUnreachable rule (the same expression and annotations, only its `for`
 * shortened to 10 s in a rule file of the test's own) and sends to the real Alertmanager
 * running deploy/alertmanager/alertmanager.yml, which mails Mailpit over SMTP and posts to the
 * local Slack-compatible receiver.
 *
 * PEMS down ▶ the firing email (subject, organization, runbook link) and the Slack message
 * arrive, and Alertmanager inhibits a failure alert of the same organization (not another's);
 * PEMS back ▶ the resolved email (and Slack message) arrive, and the edit made during the
 * outage is synced.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { createWorld, type World } from '../support/world';
import { spawnSinkProcess, type SinkProcess } from '../support/sink-process';
import {
  addRuleFile,
  alertmanagerAlerts,
  postAlerts,
  addScrapeTarget,
  eventually,
  freePort,
  mail,
  mailsWithSubject,
  monitoringEnv,
  queryValue,
  slackMessages,
  waitForTargetUp,
} from '../support/monitoring';

jest.setTimeout(300_000);

const rulesFile = join(__dirname, '..', '..', 'deploy/helm/pems-sync/files/pems-sync.rules.yml');

/** The production PemsUnreachable rule with a 10 s `for`, in a group of the test's own. */
function shortPemsUnreachableRule(group: string): string {
  const prod = parse(readFileSync(rulesFile, 'utf8')) as { groups: Array<{ rules: Array<Record<string, unknown>> }> };
  const rule = prod.groups.flatMap((g) => g.rules).find((r) => r.alert === 'PemsUnreachable');
  if (!rule) throw new Error('PemsUnreachable is not in the rules file');
  return stringify({ groups: [{ name: group, rules: [{ ...rule, for: '10s' }] }] });
}

describe('alerts by email and Slack through Prometheus and Alertmanager', () => {
  let world: World;
  let sink: SinkProcess | undefined;
  let dir: string;
  const cleanups: Array<() => unknown> = [];

  beforeAll(async () => {
    world = await createWorld({ records: 3 });
    dir = mkdtempSync(join(tmpdir(), 'pems-sync-alerts-'));
  });

  afterAll(async () => {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
    await sink?.stop();
    await world?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('PEMS down: the alert email arrives in Mailpit and a Slack message arrives; PEMS back: the resolved email arrives', async () => {
    const org = world.org;
    const caFile = join(dir, 'sim-ca.pem');
    writeFileSync(caFile, world.sim.cert ?? '');
    const port = await freePort();
    sink = spawnSinkProcess({
      ...world.sinkEnv(caFile),
      PEMS_SYNC_HTTP_PORT: String(port),
      PEMS_SYNC_OUTAGE_THRESHOLD: '2',
      PEMS_SYNC_PROBE_INTERVAL_MS: '500',
    });

    cleanups.push(addScrapeTarget(`e2e-alerts-${org.toLowerCase()}`, port, { component: 'sink', test: 'e2e-alerts' }));
    const group = `e2e-alerts-${org.toLowerCase()}`;
    cleanups.push(await addRuleFile(group, shortPemsUnreachableRule(group), group));
    await waitForTargetUp(port, 60_000);
    const slackBefore = (await slackMessages()).length;

    // PEMS goes down; an edit makes the sink try, fail twice (transient 503s) and enter outage mode.
    world.sim.control.setFaults({ outage: { durationMs: 10 * 60_000, mode: 'error', status: 503 } });
    const pfaId = world.records[0]!.pfaId;
    const modificationId = await world.commit({ pfaId, delta: { notes: 'alert e2e' } });
    await eventually("the sink reporting the organization's PEMS unreachable", 60_000, async () =>
      (await queryValue(`pems_sync_pems_organization_reachable{organization="${org}"}`)) === 0 ? true : undefined,
    );

    const firingSubject = `[FIRING:1] pems-sync ${org}: PemsUnreachable`;
    const firing = await eventually(
      'the firing email in Mailpit',
      120_000,
      async () => (await mailsWithSubject(firingSubject))[0],
    );
    expect(firing.To.map((t) => t.Address)).toContain('pems-sync-oncall@example.com');
    const body = await mail(firing.ID);
    const runbook = `${monitoringEnv.runbookBase}#runbook-pemsunreachable`;
    for (const text of [body.HTML, body.Text]) {
      expect(text).toContain(`PEMS of organization ${org} has been unreachable for 3 minutes`);
      expect(text).toContain(`Organization: ${org}`);
      expect(text).toContain(runbook);
    }
    expect(body.HTML).toContain(`href="${runbook}"`);

    const slackFiring = await eventually('the firing Slack message', 60_000, async () =>
      (await slackMessages())
        .slice(slackBefore)
        .find((m) => m.body.attachments?.some((a) => a.title === `[FIRING] pems-sync ${org}`)),
    );
    const attachment = slackFiring.body.attachments!.find((a) => a.title === `[FIRING] pems-sync ${org}`)!;
    expect(slackFiring.body.channel).toBe('#pems-sync-alerts');
    expect(attachment.text).toContain('FIRING: PemsUnreachable');
    expect(attachment.text).toContain(`<${runbook}|runbook>`);

    // Inhibition: while PEMS is down, a "no outcome" alert of this organization is suppressed by
    // PemsUnreachable; the same alert of another organization is not.
    const other = `${org}-OTHER`;
    const noOutcome = (organization: string, endsAt?: string) => ({
      labels: { alertname: 'PemsSyncNoOutcome', severity: 'warning', organization },
      annotations: { summary: `e2e inhibition check for ${organization}` },
      ...(endsAt ? { endsAt } : {}),
    });
    await postAlerts([noOutcome(org), noOutcome(other)]);
    const mine = await eventually('the inhibited alert', 20_000, async () =>
      (await alertmanagerAlerts(`organization="${org}"`)).find((a) => a.labels.alertname === 'PemsSyncNoOutcome'),
    );
    expect(mine.status.state).toBe('suppressed');
    expect(mine.status.inhibitedBy.length).toBe(1);
    const theirs = (await alertmanagerAlerts(`organization="${other}"`)).find(
      (a) => a.labels.alertname === 'PemsSyncNoOutcome',
    );
    expect(theirs?.status).toMatchObject({ state: 'active', inhibitedBy: [] });
    await postAlerts([noOutcome(org, new Date().toISOString()), noOutcome(other, new Date().toISOString())]);

    // PEMS is back: the sink's probe succeeds, the alert resolves, the edit is written.
    world.sim.control.clearFaults();
    const resolvedSubject = `[RESOLVED] pems-sync ${org}: PemsUnreachable`;
    const resolved = await eventually(
      'the resolved email in Mailpit',
      120_000,
      async () => (await mailsWithSubject(resolvedSubject))[0],
    );
    const resolvedBody = await mail(resolved.ID);
    expect(resolvedBody.Text).toContain('RESOLVED: PemsUnreachable');
    expect(resolvedBody.Text).toContain(runbook);
    await eventually('the resolved Slack message', 60_000, async () =>
      (await slackMessages())
        .slice(slackBefore)
        .find((m) => m.body.attachments?.some((a) => a.title === `[RESOLVED] pems-sync ${org}`)),
    );
    const [outcome] = await world.waitForOutcome([modificationId], 60_000);
    expect(outcome!.sync_status).toBe('synced');
  });
});
