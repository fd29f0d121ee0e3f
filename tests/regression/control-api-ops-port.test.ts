/**
 * Regression (found by issue 17's dashboard check): the control API process served nothing on
 * its ops port (PEMS_SYNC_HTTP_PORT), although the README says every process serves /healthz,
 * /readyz and /metrics there and the Helm chart probes the control API's pods on that port — so
 * they could never become ready, and Prometheus had nothing to scrape. The process now runs the
 * shared ops server there.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { testEnv } from '../support/env';
import { eventually, freePort } from '../support/monitoring';

jest.setTimeout(90_000);

describe('control API process: ops port', () => {
  let child: ChildProcess | undefined;
  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  });

  it('answers /healthz, /readyz and /metrics on PEMS_SYNC_HTTP_PORT, the port the chart probes', async () => {
    const [ops, api] = [await freePort(), await freePort()];
    child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '../../connectors/control-api/main.ts')], {
      env: {
        ...process.env,
        DATABASE_URL: testEnv.databaseUrl,
        KAFKA_BROKERS: testEnv.kafkaBrokers.join(','),
        PEMS_SYNC_JWT_SECRET: 'ops-port-regression-secret-32-characters!',
        PEMS_SYNC_API_PORT: String(api),
        PEMS_SYNC_HTTP_PORT: String(ops),
        PEMS_SYNC_LOG_LEVEL: 'error',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const health = await eventually(
      'GET /healthz on the ops port',
      60_000,
      async () => (await fetch(`http://127.0.0.1:${ops}/healthz`)).status,
    );
    expect(health).toBe(200);
    expect((await fetch(`http://127.0.0.1:${ops}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`http://127.0.0.1:${ops}/metrics`)).text();
    expect(metrics).toContain('# TYPE pems_sync_oldest_unsynced_edit_age_seconds gauge');
    expect(metrics).toContain('pems_sync_ready 1');
  });
});
