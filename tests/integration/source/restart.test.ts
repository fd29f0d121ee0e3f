import { readSide, eventually, historyVersions, readTopic, type ReadSideFixture } from './harness';

/** Killing the source mid-pass and restarting it neither skips nor loses a page. */
describe('read side: restarts', () => {
  let f: ReadSideFixture;

  beforeEach(async () => {
    f = await readSide('SRCR');
  });

  afterEach(async () => {
    await f.close();
  });

  const rawOfOrg = async (): Promise<string[]> =>
    (await readTopic(f.kafka, f.admin, f.rawTopic)).map((m) => JSON.parse(m.value!.toString()).record.pfaId as string);

  it('when the source crashes between producing page 2 of 3 and storing its cursor, then the restart re-produces that page and the mirror has every record once', async () => {
    const ids = f.sim.control.seed({ organization: f.org, count: 25 });
    const crashing = f.poller({
      pageSize: 10,
      hooks: {
        afterProduce: ({ page }) => {
          if (page === 2) throw new Error('injected crash after produce, before the cursor');
        },
      },
    });
    const [crashed] = await crashing.runOnce();
    expect(crashed).toMatchObject({
      pages: 2,
      records: 20,
      completed: false,
      error: { message: expect.stringContaining('injected crash') },
    });
    await crashing.stop();
    const stored = await f.db('pems_source_cursor').where({ organization_id: f.org }).first();
    // Page 1's cursor is stored, page 2's is not; the full load is still under way.
    expect(stored).toMatchObject({ mode: 'full_load', records_loaded: 10 });
    expect(stored.cursor).not.toBeNull();
    expect(stored.full_load_completed_at).toBeNull();
    expect(stored.last_error).toMatchObject({ message: expect.stringContaining('injected crash') });

    const restarted = f.poller({ pageSize: 10 });
    const [resumed] = await restarted.runOnce();
    expect(resumed).toMatchObject({ pages: 2, records: 15, completed: true });
    const done = await f.db('pems_source_cursor').where({ organization_id: f.org }).first();
    expect(done).toMatchObject({ mode: 'incremental', cursor: null, records_loaded: 25, last_error: null });

    // Raw topic: page 2 twice (at least once), nothing missing.
    const raw = await rawOfOrg();
    expect(raw).toHaveLength(35);
    expect(new Set(raw)).toEqual(new Set(ids));

    await f.mirror();
    await eventually(
      async () => Number((await f.db('pfa_mirror').where({ organization_id: f.org }).count({ n: '*' }))[0]!.n) === 25,
      30_000,
      '25 mirrored',
    );
    // The duplicates reached the mirror stream too; give it the time to handle all 35.
    await eventually(
      async () => /pems_sync_mirror_records_total\{outcome="ignore_duplicate"\} 10/.test(await f.registry.metrics()),
      30_000,
      'duplicates handled',
    );
    const history = await historyVersions(f.db, f.org);
    expect(history).toHaveLength(25);
    expect(new Set(history.map((h) => h.pfa_id))).toEqual(new Set(ids));
    for (const id of ids) {
      expect((await f.db('pfa_mirror').where({ organization_id: f.org, pfa_id: id }).first('version')).version).toBe(
        f.sim.control.getRecord(id)!.version,
      );
    }
  });

  it('when the source is stopped after page 1 of 3, then a new instance resumes at page 2 and produces every record exactly once', async () => {
    const ids = f.sim.control.seed({ organization: f.org, count: 25 });
    const first = f.poller({
      pageSize: 10,
      hooks: {
        afterProduce: ({ page }) => {
          // A clean stop (SIGTERM) while page 1 is in flight: not awaited here, stop waits for this very round.
          if (page === 1) void first.stop();
        },
      },
    });
    const [stopped] = await first.runOnce();
    expect(stopped).toMatchObject({ pages: 1, records: 10, completed: false });
    expect(stopped!.error).toBeUndefined();
    await first.stop();
    expect(await f.db('pems_source_cursor').where({ organization_id: f.org }).first()).toMatchObject({
      mode: 'full_load',
      records_loaded: 10,
    });

    const second = f.poller({ pageSize: 10 });
    const [resumed] = await second.runOnce();
    expect(resumed).toMatchObject({ pages: 2, records: 15, completed: true });
    const raw = await rawOfOrg();
    expect(raw.sort()).toEqual([...ids].sort());

    await f.mirror();
    await eventually(async () => (await historyVersions(f.db, f.org)).length === 25, 30_000, '25 history rows');
    expect(Number((await f.db('pfa_mirror').where({ organization_id: f.org }).count({ n: '*' }))[0]!.n)).toBe(25);
  });

  it('when the poll loop runs, then it polls at the interval and stop() ends it cleanly', async () => {
    const [id] = f.sim.control.seed({ organization: f.org, count: 1 }) as [string];
    await f.mirror();
    const loop = f.poller({ pollIntervalMs: 200 });
    await loop.start();
    const edited = f.sim.control.editAsPemsUser(id, { notes: 'while the loop runs' }, 'jdoe');
    await eventually(
      async () => {
        const r = await f.db('pfa_mirror').where({ organization_id: f.org, pfa_id: id }).first('version');
        return r?.version === edited.version;
      },
      30_000,
      'the edit through the loop',
    );
    const stop = loop.stop();
    // Hung promises are the usual shutdown failure: bound it.
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error('stop hung')), 10_000);
    });
    try {
      await expect(Promise.race([stop, hung])).resolves.toBeUndefined();
    } finally {
      clearTimeout(timer);
    }
    expect(loop.stop()).toBe(stop);
  });
});
