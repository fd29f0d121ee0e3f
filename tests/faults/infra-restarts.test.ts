/**
 * The shared infrastructure stopped and restarted under load (issue 7): the Kafka broker,
 * Postgres, Kafka Connect with Debezium, and Redis (the PEMS rate limit all instances share).
 * Each is stopped with deploy/local/stack.sh (the same script that started it), kept down while
 * Vanguard users and PEMS users go on editing, then started again and waited for. The sink runs
 * as its own process and is expected to ride the restart out by itself (no supervisor restarts
 * it here): a dead sink fails the scenario.
 *
 * These scenarios stop services every other suite uses, so they must run alone (jest --runInBand,
 * as `npm run test:faults` does) and always start the service again, even when they fail.
 */
import { freePort } from '../support/monitoring';
import { stackService as stack, type StackService as Service } from '../support/stack';
import {
  createFaultWorld,
  expectPromisesKept,
  judge,
  pick,
  runWorkload,
  sleep,
  type FaultWorld,
  type Verdict,
  type WorkloadStats,
} from './harness';

/**
 * Runs a workload across an outage of one service: edits before, while it is down and after it
 * is back. Returns the combined workload and the measured times.
 */
async function acrossOutage(
  fw: FaultWorld,
  service: Service,
  opts: { how: 'stop' | 'kill'; downMs: number },
): Promise<{ workload: WorkloadStats; stopMs: number; startMs: number }> {
  const signal = { stop: false };
  const workload = runWorkload(fw, {
    durationMs: 10 * 60_000,
    intervalMs: 150,
    signal,
    tolerateCommitErrors: service === 'postgres',
  });
  let stopMs: number;
  let startMs: number;
  try {
    await sleep(pick(8000, 5000));
    stopMs = await stack(opts.how, service);
    await sleep(opts.downMs);
  } finally {
    startMs = await stack('start', service);
  }
  await sleep(pick(10_000, 5000));
  signal.stop = true;
  return { workload: await workload, stopMs, startMs };
}

/**
 * One scenario: a fault world with the read side and a sink process, a workload across the
 * service's outage, then the judge. The sink must still be running at the end.
 */
async function restartUnderLoad(
  scenario: string,
  service: Service,
  opts: { how: 'stop' | 'kill'; downMs: number },
): Promise<{ v: Verdict; workload: WorkloadStats; sinkExitCode: number | null }> {
  const fw = await createFaultWorld({ records: 30, users: 5 });
  try {
    await fw.startReadSide();
    const opsPort = await freePort();
    const sink = fw.spawnSink({ PEMS_SYNC_RETRY_DELAYS_MS: '200,500,1000', PEMS_SYNC_HTTP_PORT: String(opsPort) });
    // The outage must hit a sink that is running, not one still starting: on a loaded machine
    // a fixed sleep could kill Postgres before the sink had connected (a start-up failure is
    // the orchestrator's to restart, not what these scenarios are about).
    await untilReady(opsPort, sink);
    const r = await acrossOutage(fw, service, opts);
    const v = await judge(fw, scenario, {
      workload: r.workload,
      extra: { how: opts.how, downMs: opts.downMs, stopMs: r.stopMs, startMs: r.startMs },
    });
    return { v, workload: r.workload, sinkExitCode: sink.exitCode };
  } finally {
    await fw.close();
  }
}

/** Waits until the sink's /readyz answers 200 (connected, in the consumer group), at most 120 s. */
async function untilReady(port: number, sink: { exitCode: number | null }): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (sink.exitCode !== null) throw new Error(`the sink exited with ${sink.exitCode} before it was ready`);
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return;
    await sleep(250);
  }
  throw new Error('the sink was not ready within 120 s');
}

/** The sink rode the restart out by itself, and the suite's four promises hold. */
function expectRiddenOut(r: { v: Verdict; sinkExitCode: number | null }): void {
  expect(r.sinkExitCode).toBeNull();
  expectPromisesKept(r.v);
  expect(r.v.byStatus.synced ?? 0).toBeGreaterThan(0);
}

describe('faults: Kafka, Postgres, Kafka Connect and Redis restarted under load', () => {
  it('when the Kafka broker is stopped and started again, then the sink and the read side reconnect and nothing is lost or written twice', async () => {
    expectRiddenOut(await restartUnderLoad('kafka-restart', 'kafka', { how: 'stop', downMs: pick(30_000, 10_000) }));
  });

  it('when Postgres crashes (immediate shutdown) and comes back, then the sink resumes, Debezium catches up and nothing is lost or written twice', async () => {
    const r = await restartUnderLoad('postgres-restart', 'postgres', { how: 'kill', downMs: pick(15_000, 5000) });
    expectRiddenOut(r);
    expect(r.workload.commitErrors).toBeGreaterThan(0); // Postgres really was down while users edited
    expect(r.v.byStatus.failed ?? 0).toBe(0); // a database outage spends no PEMS attempt
  });

  it('when Redis (the shared rate limit) is stopped and started again, then writes wait for it without spending attempts: nothing fails, nothing is dead-lettered', async () => {
    const r = await restartUnderLoad('redis-restart', 'redis', { how: 'stop', downMs: pick(30_000, 8000) });
    expectRiddenOut(r);
    expect(r.v.byStatus.failed ?? 0).toBe(0);
  });

  // kill -9: Debezium's last offsets may not be flushed, so it may read some changes again.
  it('when Kafka Connect is killed and restarted, then Debezium resumes from its stored offsets and nothing is lost or written twice', async () => {
    expectRiddenOut(await restartUnderLoad('connect-restart', 'connect', { how: 'kill', downMs: pick(20_000, 5000) }));
  });
});
