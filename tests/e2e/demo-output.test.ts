/**
 * `npm run demo`'s own output (issue 15): only its progress and summary, no stray log lines
 * (kafkajs "The coordinator is loading" appeared in the middle of the progress display), no
 * masked password in a hint, and closing hints that work when pasted, as printed.
 */
import { runShell } from '../support/cli';

jest.setTimeout(300_000);

describe('demo output', () => {
  it('when the demo runs, then it prints no log lines, and every closing hint runs as printed', async () => {
    const demo = await runShell('KAFKAJS_NO_PARTITIONER_WARNING=1 npx --no-install tsx deploy/local/demo.ts', {
      DEMO_RECORDS: '30',
      DEMO_EDITS: '60',
    });
    if (demo.code !== 0) throw new Error(`demo failed (${demo.code}):\n${demo.stdout}\n${demo.stderr}`);
    const lines = `${demo.stdout}\n${demo.stderr}`.split(/\r|\n/).filter((l) => l.trim() !== '');
    expect(lines.filter((l) => l.trimStart().startsWith('{'))).toEqual([]);
    expect(lines.filter((l) => /kafkajs|coordinator is loading/i.test(l))).toEqual([]);
    expect(demo.stdout).not.toContain('***');
    expect(demo.stdout).toContain('summary');

    const at = lines.findIndex((l) => l.startsWith('look around'));
    expect(at).toBeGreaterThan(0);
    const hints = lines
      .slice(at + 1)
      .filter((l) => l.startsWith('  '))
      .map((l) => l.trim());
    expect(hints).toContain('source deploy/local/env.sh');
    expect(hints.some((h) => h.startsWith('npx pems-sync org show RIO'))).toBe(true);
    // Pasted as printed, in a shell of their own at the repository root.
    const pasted = await runShell(hints.join('\n'), {});
    if (pasted.code !== 0) throw new Error(`hints failed (${pasted.code}):\n${pasted.stdout}\n${pasted.stderr}`);
    expect(pasted.stdout).toMatch(/sync_status\s+\|\s+count/);
    expect(pasted.stdout).toMatch(/sync\s+enabled/);
    expect(pasted.stdout).toMatch(/connector\s+pems-sync-pfa-modification: RUNNING/);
  });
});
