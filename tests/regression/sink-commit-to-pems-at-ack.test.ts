/**
 * Regression (issue 16): `pems_sync_commit_to_pems_seconds` ("from the modification commit to
 * PEMS accepting it") was observed in the recorder's onDurable, after the record transaction and
 * the emit of the result records: a slow emit counted as time to PEMS, and an outcome not yet
 * emitted was not counted at all.
 *
 * Fix (connectors/sink/index.ts): observed in the lanes' onOutcome, at PEMS's answer, before
 * the outcome is recorded.
 *
 * The emit is held on purpose: PEMS_SYNC_TEST_EMIT_PAUSE_FILE makes the sink write a file and
 * wait 5 s after the result records are committed to Kafka, before the outcome is durable; the
 * metric is read inside that window.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createWorld, type World } from '../support/world';
import { spawnSinkProcess, type SinkProcess } from '../support/sink-process';

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

async function commitToPemsCount(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = /^pems_sync_commit_to_pems_seconds_count(?:\{[^}]*\})? (\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
}

describe('regression: commit→PEMS is observed at PEMS’s acknowledgement, not after the record and the emit', () => {
  let world: World;
  let caFile: string;
  let sink: SinkProcess | null = null;

  beforeAll(async () => {
    world = await createWorld({ records: 1 });
    caFile = join(mkdtempSync(join(tmpdir(), 'pems-sync-ack-')), 'sim.pem');
    writeFileSync(caFile, world.sim.cert!);
  });

  afterAll(async () => {
    await sink?.kill();
    await world.close();
  });

  it('when PEMS accepted an edit whose result records are still being emitted, then the histogram already counts it', async () => {
    const port = await freePort();
    const pauseFile = join(mkdtempSync(join(tmpdir(), 'pems-sync-ack-pause-')), 'produced');
    sink = spawnSinkProcess({
      ...world.sinkEnv(caFile),
      PEMS_SYNC_HTTP_PORT: String(port),
      PEMS_SYNC_TEST_EMIT_PAUSE_FILE: pauseFile,
    });
    await world.commit({ pfaId: world.records[0]!.pfaId, delta: { notes: 'observed at the answer' } });

    const started = Date.now();
    while (!existsSync(pauseFile)) {
      if (Date.now() - started > 60_000) throw new Error('the sink never reached the emit of the result record');
      await new Promise((r) => setTimeout(r, 20));
    }
    // PEMS applied the write; the outcome is not durable yet (the emit waits 5 s on the file).
    expect(world.sim.control.writeLog().writes).toHaveLength(1);
    expect(await commitToPemsCount(port)).toBe(1);
  });
});
