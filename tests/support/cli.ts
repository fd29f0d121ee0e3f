/** Runs `npx pems-sync` (or a README shell block) as an operator would: its own process, its own environment. */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const REPO = join(__dirname, '..', '..');

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** A bash script run in the repository with `env` on top of this process's environment. */
export function runShell(
  script: string,
  env: Record<string, string>,
  input?: string,
  timeoutMs = 240_000,
): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-euo', 'pipefail', '-c', script], {
      cwd: REPO,
      env: { ...process.env, ...env, NO_COLOR: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timed out after ${timeoutMs} ms:\n${script}\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}

/** `npx pems-sync ARGS...` with each argument quoted for bash. */
export function cli(args: readonly string[], env: Record<string, string>, input?: string): Promise<Ran> {
  const quoted = args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return runShell(`npx pems-sync ${quoted}`, env, input);
}

/** The first ```bash block after the README heading `heading`, as written. */
export function readmeBlock(heading: string): string {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const at = readme.indexOf(`\n${heading}\n`);
  if (at < 0) throw new Error(`README has no section '${heading}'`);
  const m = /```bash\n([\s\S]*?)```/.exec(readme.slice(at));
  if (!m) throw new Error(`README section '${heading}' has no bash block`);
  return m[1]!;
}
