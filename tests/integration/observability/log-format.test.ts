/**
 * One log format for every process (issue 15): the sink, the read side, the control API and the
 * simulator, started as their own processes, write pino JSON with level names, ISO times, pid
 * and component, and never a secret they were given.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { REPO } from '../../support/cli';
import { uniqueId } from '../../support/env';

jest.setTimeout(120_000);

/** Starts `script`, resolves with its first stdout line (JSON), then stops it. */
function firstLogLine(
  script: string,
  env: Record<string, string>,
): Promise<{ line: Record<string, unknown>; raw: string }> {
  return new Promise((resolve, reject) => {
    // Its own process group, so stopping it stops tsx's node child too.
    const child = spawn(join(REPO, 'node_modules', '.bin', 'tsx'), [script], {
      cwd: REPO,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const stop = (signal: NodeJS.Signals): void => {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        // already gone
      }
    };
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      stop('SIGKILL');
      reject(new Error(`${script}: no log line within 60 s\nstdout: ${out}\nstderr: ${err}`));
    }, 60_000);
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      const raw = out.slice(0, nl);
      child.once('close', () => {
        try {
          resolve({ line: JSON.parse(raw) as Record<string, unknown>, raw });
        } catch {
          reject(new Error(`${script}: not JSON: ${raw}`));
        }
      });
      stop('SIGTERM');
      // A process that ignores SIGTERM is not this test's subject: make sure it goes.
      setTimeout(() => stop('SIGKILL'), 15_000).unref();
    });
    child.on('error', reject);
  });
}

describe('log format of every process', () => {
  const secret = `jwt-${randomBytes(24).toString('hex')}`;
  const keys = `l1:${randomBytes(32).toString('base64')}`;
  const common = {
    PEMS_SYNC_JWT_SECRET: secret,
    PEMS_SYNC_CREDENTIAL_KEYS: keys,
    PEMS_SYNC_HTTP_PORT: '0',
    PEMS_SYNC_LOG_LEVEL: 'info',
  };

  it.each([
    [
      'sink',
      'connectors/sink/main.ts',
      {
        PEMS_SYNC_GROUP_ID: `test-logformat-${uniqueId('g').toLowerCase()}`,
        PEMS_SYNC_ORGANIZATIONS: 'NONE-LOGFORMAT',
      },
    ],
    [
      'source',
      'connectors/source/main.ts',
      {
        PEMS_SYNC_MIRROR_GROUP_ID: `test-logformat-${uniqueId('m').toLowerCase()}`,
        PEMS_SYNC_POLL_INTERVAL_MS: '600000',
      },
    ],
    ['control-api', 'connectors/control-api/main.ts', { PEMS_SYNC_API_PORT: '0' }],
    ['pems-simulator', 'connectors/pems-simulator/main.ts', { PEMS_SIM_PORT: '0' }],
  ])(
    'when the %s starts, then its log line is pino JSON with a level name, an ISO time, pid and component, and no secret',
    async (component, script, env) => {
      const { line, raw } = await firstLogLine(script, { ...common, ...env });
      expect(line.level).toBe('info');
      expect(typeof line.time).toBe('string');
      expect(new Date(line.time as string).toISOString()).toBe(line.time);
      expect(typeof line.pid).toBe('number');
      expect(line.component).toBe(component);
      expect(typeof line.msg).toBe('string');
      expect(raw).not.toContain(secret);
      expect(raw).not.toContain(keys.split(':')[1]);
    },
  );
});
