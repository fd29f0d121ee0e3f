/**
 * GET /status reflects what the real sink did (issue 5, "Sync status"): counts, open conflicts,
 * last success, commit-to-PEMS latency over the last hour, PEMS health and the sink group's lag.
 * The latency figures are only checked for presence and order, never against a time budget
 * (timing goals belong in benchmarks, never in pass/fail tests).
 */
import { createE2eWorld, type E2eWorld } from './harness';

describe('e2e: sync status after the sink worked', () => {
  let world: E2eWorld;

  beforeEach(async () => {
    world = await createE2eWorld({ records: 4 });
    await world.startSink();
  });
  afterEach(async () => {
    world?.sim.control.clearFaults();
    await world?.close();
  });

  it('when edits were synced and one conflicted, then status shows the synced count, the open conflict, the last success and p50/p95 latency', async () => {
    const empty = await world.request(world.reader, 'GET', `/status?organization=${world.org}`);
    expect(empty.statusCode).toBe(200);
    expect(empty.json()).toMatchObject({
      organizationId: world.org,
      counts: { queued: 0, inFlight: 0, synced: 0, failed: 0, rejected: 0, conflictsOpen: 0, deadLettersOpen: 0 },
      lastSuccessAt: null,
      latencyLastHour: { samples: 0, p50Seconds: null, p95Seconds: null },
      pemsHealth: { status: 'up', httpStatus: 200 },
      consumerLag: { status: 'ok', groupId: world.config.kafka.groupId, topic: world.config.topics.cdc },
    });

    const [a, b, c] = world.records;
    const synced = [
      await world.commit({ pfaId: a!.pfaId, delta: { notes: 'status one' } }),
      await world.commit({ pfaId: b!.pfaId, delta: { notes: 'status two' } }),
      await world.commit({ pfaId: c!.pfaId, delta: { notes: 'status three' } }),
    ];
    const d = world.records[3]!;
    world.sim.control.editAsPemsUser(d.pfaId, { notes: 'PEMS got there first' });
    const conflicted = await world.commit({ pfaId: d.pfaId, delta: { notes: 'ours' }, baseVersion: d.version });
    const rows = await world.waitForOutcome([...synced, conflicted]);
    expect(rows.map((r) => r.sync_status)).toEqual(['synced', 'synced', 'synced', 'conflict']);

    const res = await world.request(world.reader, 'GET', `/status?organization=${world.org}`);
    expect(res.statusCode).toBe(200);
    const s = res.json();
    expect(s.counts).toEqual({
      queued: 0,
      inFlight: 0,
      synced: 3,
      failed: 0,
      rejected: 0,
      conflictsOpen: 1,
      deadLettersOpen: 0,
    });
    const last = rows.slice(0, 3).map((r) => new Date(r.synced_at).getTime());
    expect(s.lastSuccessAt).toBe(new Date(Math.max(...last)).toISOString());
    expect(s.latencyLastHour.samples).toBe(3);
    expect(typeof s.latencyLastHour.p50Seconds).toBe('number');
    expect(typeof s.latencyLastHour.p95Seconds).toBe('number');
    expect(s.latencyLastHour.p50Seconds).toBeGreaterThan(0);
    expect(s.latencyLastHour.p95Seconds).toBeGreaterThanOrEqual(s.latencyLastHour.p50Seconds);
    // The figures are the ones the rows give (committed_at → synced_at).
    const lat = rows
      .slice(0, 3)
      .map((r) => (new Date(r.synced_at).getTime() - new Date(r.committed_at).getTime()) / 1000)
      .sort((x, y) => x - y);
    expect(s.latencyLastHour.p50Seconds).toBeCloseTo(lat[1]!, 2);
    expect(s.pemsHealth).toMatchObject({ status: 'up', httpStatus: 200 });
    expect(s.consumerLag.status).toBe('ok');
    expect(s.consumerLag.total).toBeGreaterThanOrEqual(0);

    // PEMS health follows PEMS: /health answering 503 shows as down.
    world.sim.control.setFaults({ errorRates: { 503: 1 }, endpoints: ['GET /health'] });
    const down = await world.request(world.reader, 'GET', `/status?organization=${world.org}`);
    expect(down.json().pemsHealth).toMatchObject({ status: 'down', httpStatus: 503 });
  });
});
