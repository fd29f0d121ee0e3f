/**
 * Regression (issue 15): an organization whose PEMS settings were unusable (an http:// URL, a
 * credential that does not decrypt) failed its edits silently; after fixing the row one waited
 * out a 30 s organization cache and replayed every dead letter by hand. Now: one warning naming
 * the organization and the setting, /status says misconfigured, the fix made with the CLI is
 * used by the very next edit, and one command replays the failed ones.
 */
import { Writable } from 'node:stream';
import { createLogger } from '../../connectors/observability/logger';
import { startSink, type Sink } from '../../connectors/sink';
import { createE2eWorld, type E2eWorld } from '../e2e/harness';
import { JWT_SECRET } from '../integration/control-api/harness';
import { cli } from '../support/cli';

jest.setTimeout(180_000);

describe('regression: a misconfigured organization is loud, visible, and recoverable in one command', () => {
  let world: E2eWorld;
  let sink: Sink;
  const lines: Array<Record<string, unknown>> = [];
  let env: Record<string, string>;
  let failedIds: string[] = [];

  beforeAll(async () => {
    world = await createE2eWorld({ records: 4 });
    const sinkLog = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l));
        done();
      },
    });
    sink = await startSink(world.config, {
      clientOverrides: { ca: world.sim.cert },
      logger: createLogger('warn', {}, sinkLog),
    });
    for (const t0 = Date.now(); !sink.task.ready().ready; await new Promise((r) => setTimeout(r, 100))) {
      if (Date.now() - t0 > 30_000) throw new Error('sink did not join its group');
    }
    env = {
      PEMS_SYNC_CREDENTIAL_KEYS: world.config.pems.credentialKeys,
      PEMS_SYNC_JWT_SECRET: JWT_SECRET,
      PEMS_SYNC_API_URL: world.apiUrl,
    };
  });
  afterAll(async () => {
    await sink?.close();
    await world?.close();
  });

  it('when the URL turns http://, then edits fail with the reason, the sink warns once naming organization and setting, and status says misconfigured', async () => {
    const goodUrl = world.sim.url;
    await world
      .db('organization')
      .where({ id: world.org })
      .update({ pems_base_url: goodUrl.replace('https:', 'http:') });
    const ids = [
      await world.commit({ pfaId: world.records[0]!.pfaId, delta: { notes: 'first' } }),
      await world.commit({ pfaId: world.records[1]!.pfaId, delta: { notes: 'second' } }),
    ];
    failedIds = ids;
    const rows = await world.waitForOutcome(ids);
    for (const r of rows) {
      expect(r.sync_status).toBe('failed');
      expect(r.sync_error).toMatchObject({ code: 'PEMS_SYNC_ORGANIZATION_NOT_CONFIGURED' });
      expect(r.sync_error.message).toContain('pems.allowInsecureHttp');
    }
    const warnings = lines.filter((l) => l.level === 'warn' && l.organization === world.org);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ setting: 'pems.allowInsecureHttp' });
    expect(String(warnings[0]!.msg)).toContain(`organization ${world.org} is misconfigured (pems.allowInsecureHttp)`);

    const status = await cli(['status', '--organization', world.org, '--as', world.reader, '--json'], env);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout).pemsHealth).toMatchObject({
      status: 'misconfigured',
      setting: 'pems.allowInsecureHttp',
    });
    const text = await cli(['status', '--organization', world.org, '--as', world.reader], env);
    expect(text.stdout).toMatch(/PEMS\s+misconfigured: pems.allowInsecureHttp/);
  });

  it('when the URL is fixed with the CLI, then the next edit syncs at once, and dlq replay --all retries the failed ones', async () => {
    // The CLI itself refuses the bad URL...
    const bad = await cli(['org', 'update', world.org, '--pems-url', world.sim.url.replace('https:', 'http:')], env);
    expect(bad.code).toBe(2);
    // ...and sets the good one.
    expect((await cli(['org', 'update', world.org, '--pems-url', world.sim.url], env)).code).toBe(0);
    const next = await world.commit({ pfaId: world.records[2]!.pfaId, delta: { notes: 'after the fix' } });
    const [row] = await world.waitForOutcome([next]);
    expect(row!.sync_status).toBe('synced');

    const replay = await cli(
      ['dlq', 'replay', '--organization', world.org, '--all', '--as', world.admin1, '--reason', 'URL fixed', '--json'],
      env,
    );
    expect(replay.code).toBe(0);
    expect(JSON.parse(replay.stdout)).toMatchObject({ replayed: 2, refused: 0 });
    const outcomes = await world.waitForOutcome(failedIds);
    expect(outcomes.map((o) => o.sync_status)).toEqual(['synced', 'synced']);
    const open = await cli(['dlq', 'list', '--organization', world.org, '--as', world.reader, '--json'], env);
    expect(JSON.parse(open.stdout)).toEqual([]);
  });
});
