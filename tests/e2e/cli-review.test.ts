/**
 * The CLI's reads and actions over the control API, end to end (sink, control API, simulator):
 * a conflict listed, shown and resolved; a rollback requested and approved by a second
 * administrator (the requester's own approval refused, exit 6); the audit trail queried,
 * verified and exported; results and dead letters followed with `results tail`.
 */
import { createE2eWorld, type E2eWorld } from './harness';
import { JWT_SECRET } from '../integration/control-api/harness';
import { cli } from '../support/cli';

jest.setTimeout(240_000);

describe('e2e: pems-sync over the control API', () => {
  let world: E2eWorld;
  let env: Record<string, string>;

  beforeAll(async () => {
    world = await createE2eWorld({ records: 4 });
    await world.startSink();
    env = {
      PEMS_SYNC_JWT_SECRET: JWT_SECRET,
      PEMS_SYNC_API_URL: world.apiUrl,
      PEMS_SYNC_RESULT_TOPIC: world.topics.results,
      PEMS_SYNC_DLQ_TOPIC: world.topics.deadLetters,
    };
  });
  afterAll(async () => {
    await world?.close();
  });

  it('when an edit collides with a PEMS user, then conflicts list/show name it and resolve --use local writes it', async () => {
    const rec = world.records[0]!;
    world.sim.control.editAsPemsUser(rec.pfaId, { notes: 'PEMS planner' });
    const id = await world.commit({ pfaId: rec.pfaId, delta: { notes: 'Vanguard planner' }, baseVersion: rec.version });
    expect((await world.waitForOutcome([id]))[0]!.sync_status).toBe('conflict');
    const list = await cli(['conflicts', 'list', '--organization', world.org, '--as', world.user, '--json'], env);
    expect(list.code).toBe(0);
    const [conflict] = JSON.parse(list.stdout);
    expect(conflict).toMatchObject({ pfaId: rec.pfaId, status: 'open' });
    const show = await cli(['conflicts', 'show', conflict.id, '--as', world.user], env);
    expect(show.stdout).toMatch(/notes\s+.*Vanguard planner\s+PEMS planner/);
    expect((await cli(['conflicts', 'resolve', conflict.id, '--use', 'sideways', '--as', world.user], env)).code).toBe(
      2,
    );
    expect((await cli(['conflicts', 'resolve', conflict.id, '--use', 'local', '--as', world.reader], env)).code).toBe(
      6,
    );
    const resolved = await cli(
      ['conflicts', 'resolve', conflict.id, '--use', 'local', '--reason', 'ours is newer', '--as', world.user],
      env,
    );
    expect(resolved.code).toBe(0);
    for (
      const t0 = Date.now();
      world.sim.control.getRecord(rec.pfaId)!.notes !== 'Vanguard planner';
      await new Promise((r) => setTimeout(r, 200))
    ) {
      if (Date.now() - t0 > 30_000) throw new Error('the resolution did not reach PEMS');
    }
  });

  it('when a rollback is requested, then the requester cannot approve it (6) and a second administrator can', async () => {
    const rec = world.records[1]!;
    const first = await world.commit({ pfaId: rec.pfaId, delta: { notes: 'first plan' } });
    await world.waitForOutcome([first]);
    const second = await world.commit({ pfaId: rec.pfaId, delta: { notes: 'second plan' } });
    await world.waitForOutcome([second]);
    const req = await cli(
      [
        'rollback',
        'request',
        '-o',
        world.org,
        '--pfa',
        rec.pfaId,
        '--version',
        String(rec.version + 1),
        '--reason',
        'mistake',
        '--as',
        world.admin1,
        '--json',
      ],
      env,
    );
    expect(req.code).toBe(0);
    const { id } = JSON.parse(req.stdout);
    const self = await cli(['rollback', 'approve', id, '--as', world.admin1], env);
    expect(self.code).toBe(6);
    expect(self.stderr).toContain('403');
    const pending = await cli(
      ['rollback', 'list', '-o', world.org, '--status', 'pending', '--as', world.admin2, '--json'],
      env,
    );
    expect(JSON.parse(pending.stdout).map((r: { id: string }) => r.id)).toContain(id);
    const ok = await cli(['rollback', 'approve', id, '--reason', 'checked', '--as', world.admin2], env);
    expect(ok.code).toBe(0);
    for (
      const t0 = Date.now();
      world.sim.control.getRecord(rec.pfaId)!.notes !== 'first plan';
      await new Promise((r) => setTimeout(r, 200))
    ) {
      if (Date.now() - t0 > 30_000) throw new Error('the rollback did not reach PEMS');
    }
  });

  it('when the audit trail is queried, verified and exported, then the CLI shows the entries and the chain verifies', async () => {
    const q = await cli(
      ['audit', 'query', '-o', world.org, '--event', 'conflict.resolved', '--as', world.reader, '--json'],
      env,
    );
    expect(q.code).toBe(0);
    expect(JSON.parse(q.stdout).length).toBeGreaterThanOrEqual(1);
    const v = await cli(['audit', 'verify', '-o', world.org, '--as', world.reader, '--json'], env);
    expect(v.code).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ ok: true });
    const csv = await cli(['audit', 'export', '-o', world.org, '--format', 'csv', '--as', world.reader], env);
    expect(csv.code).toBe(0);
    expect(csv.stdout.split('\n')[0]).toContain('eventType');
    expect(csv.stdout.split('\n').length).toBeGreaterThan(3);
  });

  it('when results are tailed, then they are decoded through the registry and filtered by organization, PFA and outcome', async () => {
    const rec = world.records[2]!;
    const bad = await world.commit({
      pfaId: rec.pfaId,
      delta: { forecastStart: '2027-03-01', forecastEnd: '2026-01-01' },
    });
    await world.waitForOutcome([bad]);
    const r = await cli(
      [
        'results',
        'tail',
        '--from-beginning',
        '-o',
        world.org,
        '--pfa',
        rec.pfaId,
        '--outcome',
        'REJECTED',
        '--max',
        '1',
        '--idle-timeout',
        '30',
        '--json',
      ],
      env,
    );
    expect(r.code).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      topic: 'result',
      organizationId: world.org,
      pfaId: rec.pfaId,
      modificationId: bad,
      outcome: 'REJECTED',
    });
    expect(lines[0].code).toMatch(/^PEMS_SYNC_/);
    const synced = await cli(
      ['results', 'tail', '--from-beginning', '-o', world.org, '--outcome', 'SYNCED', '--idle-timeout', '5', '--json'],
      env,
    );
    const all = synced.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(all.length).toBeGreaterThanOrEqual(3);
    expect(all.every((l) => l.outcome === 'SYNCED' && l.organizationId === world.org)).toBe(true);
  });
});
