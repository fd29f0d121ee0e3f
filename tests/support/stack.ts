/**
 * The local stack's services as tests stop and start them: `deploy/local/stack.sh stop|kill|start
 * SERVICE` with this process's environment, so only the stack of the sourced env file (its state
 * folder and ports) is touched. Tests that stop a shared service run in band (npm test, the fault
 * suite) and start it again in a finally.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const stackScript = join(__dirname, '../../deploy/local/stack.sh');

export type StackService = 'kafka' | 'postgres' | 'connect' | 'redis';

/** Runs the stack script's action on one service; resolves with how long it took, ms. */
export async function stackService(action: 'stop' | 'kill' | 'start', service: StackService): Promise<number> {
  const t0 = Date.now();
  const { stdout } = await run('bash', [stackScript, action, service], { env: process.env, timeout: 240_000 });
  process.stdout.write(stdout);
  return Date.now() - t0;
}
