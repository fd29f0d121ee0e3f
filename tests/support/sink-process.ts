/**
 * The sink as its own process, as it runs in production, so tests and benchmarks can kill it
 * for real and read its memory. Started as node with tsx's loader, not through the tsx CLI:
 * the CLI runs the script in a second process that a SIGKILL of the CLI would leave running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface SinkProcess {
  child: ChildProcess;
  /** Peak resident set (VmHWM) seen so far, MiB. */
  peakRssMiB(): number;
  /** SIGTERM and wait for the exit (graceful stop). */
  stop(): Promise<void>;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>;
  exited(): Promise<void>;
}

export interface SinkProcessOptions {
  /** Run the compiled sink (dist/, `npm run build`), as deployed: no TypeScript loader in the process. */
  built?: boolean;
  /** Node's own flags, e.g. the heap bound the Helm chart and compose file give the sink. */
  nodeArgs?: readonly string[];
  /** Append the process's stdout and stderr to this file instead of the test's own output. */
  outputFile?: string;
}

export function spawnSinkProcess(env: Record<string, string>, opts: SinkProcessOptions = {}): SinkProcess {
  const main = opts.built
    ? [join(__dirname, '../../dist/connectors/sink/main.js')]
    : ['--import', 'tsx', join(__dirname, '../../connectors/sink/main.ts')];
  const out = opts.outputFile ? openSync(opts.outputFile, 'a') : 'inherit';
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), ...main], {
    env: { ...process.env, KAFKAJS_NO_PARTITIONER_WARNING: '1', ...env },
    stdio: ['ignore', out, out],
  });
  if (typeof out === 'number') closeSync(out); // the child has its own copy
  let peakKiB = 0;
  const sample = setInterval(() => {
    try {
      const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) peakKiB = Math.max(peakKiB, Number(m[1]));
    } catch {
      /* exited */
    }
  }, 200);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  void exited.then(() => clearInterval(sample));
  const signal = async (sig: NodeJS.Signals): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    await exited;
  };
  return {
    child,
    peakRssMiB: () => Math.round(peakKiB / 1024),
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
    exited: () => exited,
  };
}
