import { PassThrough } from 'node:stream';
import type { Command } from 'commander';
import { CliContext } from '../../../../connectors/cli/context';
import { buildProgram, run } from '../../../../connectors/cli/main';
import {
  CliError,
  EXIT,
  exitCodeOf,
  painter,
  printable,
  Progress,
  table,
  type CliIo,
} from '../../../../connectors/cli/output';
import { mintToken, parseDuration } from '../../../../connectors/cli/users';
import { readCredential } from '../../../../connectors/cli/org';
import { ConfigError } from '../../../../streams/errors';
import { jwtVerify } from 'jose';

function io(
  env: NodeJS.ProcessEnv = {},
  stdinText = '',
  tty = false,
): CliIo & { out: () => string; errText: () => string } {
  let out = '';
  let err = '';
  const stdin = new PassThrough();
  stdin.end(stdinText);
  return {
    stdout: { write: (s: string) => (out += s), isTTY: tty },
    stderr: { write: (s: string) => (err += s), isTTY: tty },
    stdin,
    env,
    out: () => out,
    errText: () => err,
  };
}

function leaves(c: Command, path: string[] = []): Array<{ path: string; cmd: Command }> {
  if (c.commands.length === 0) return [{ path: path.join(' '), cmd: c }];
  return c.commands.flatMap((s) => leaves(s, [...path, s.name()]));
}

describe('pems-sync CLI', () => {
  const program = buildProgram(new CliContext(io()));
  const commands = leaves(program).filter((l) => l.path !== 'help');

  it.each(commands.map((c) => [c.path, c.cmd] as const))(
    "when '%s --help' is asked for, then it prints usage with examples and exits 0",
    async (path) => {
      const o = io();
      expect(await run([...path.split(' '), '--help'], o)).toBe(EXIT.OK);
      expect(o.out()).toContain(`Usage: pems-sync ${path}`);
      expect(o.out()).toContain('Examples:');
    },
  );

  it('when the top-level help is asked for, then it lists the exit codes', async () => {
    const o = io();
    expect(await run(['--help'], o)).toBe(0);
    for (const code of [
      '0  done',
      '2  bad arguments',
      '3  a setting',
      '4  not found',
      '5  a service could not be reached',
      '6  refused',
    ])
      expect(o.out()).toContain(code);
  });

  it('when a read command is listed, then it offers --json', () => {
    const reads = commands.filter((c) => /\b(show|list|check|status|load)$/.test(c.path));
    expect(reads.length).toBeGreaterThanOrEqual(6);
    for (const r of reads) expect(r.cmd.options.map((o) => o.long)).toContain('--json');
  });

  it('when an option is unknown or a required one is missing, then exit code 2 and a message naming it', async () => {
    const a = io();
    expect(await run(['org', 'show', 'RIO', '--bogus'], a)).toBe(EXIT.USAGE);
    expect(a.errText()).toContain("unknown option '--bogus'");
    const b = io();
    expect(await run(['org', 'add', 'RIO', '--name', 'x', '--tenant', 'T'], b)).toBe(EXIT.USAGE);
    expect(b.errText()).toContain('--pems-url');
  });

  it('when a setting is missing, then exit code 3 and the message names the variable', async () => {
    const o = io({});
    expect(await run(['org', 'list'], o)).toBe(EXIT.CONFIG);
    expect(o.errText()).toContain('PEMS_SYNC_DATABASE_URL');
  });

  it('when the organization id is not a PEMS code, then exit code 2 before anything is opened', async () => {
    const o = io({});
    expect(await run(['org', 'show', 'RIO; DROP TABLE x'], o)).toBe(EXIT.USAGE);
    expect(o.errText()).toContain('must be 1-64 letters');
  });

  it('when token mint runs against a JWKS-configured API, then it refuses with exit code 6', async () => {
    const o = io({
      PEMS_SYNC_DATABASE_URL: 'postgres://x@127.0.0.1:1/none',
      PEMS_SYNC_JWKS_URL: 'https://idp.example.com/jwks',
    });
    expect(await run(['token', 'mint', 'alice'], o)).toBe(EXIT.REFUSED);
    expect(o.errText()).toContain('JWKS');
    expect(o.out()).toBe('');
  });

  it('when a token is minted, then the control API can verify it: HS256, sub, exp after the ttl', async () => {
    const secret = 'x'.repeat(40);
    const t = await mintToken(secret, 'alice', 900);
    const { payload, protectedHeader } = await jwtVerify(t, new TextEncoder().encode(secret), {
      algorithms: ['HS256'],
    });
    expect(protectedHeader.alg).toBe('HS256');
    expect(payload.sub).toBe('alice');
    expect(payload.exp! - payload.iat!).toBe(900);
  });

  it.each([
    ['90s', 90],
    ['15m', 900],
    ['8h', 28800],
    ['7d', 604800],
  ])('when the ttl is %s, then it is %d seconds', (raw, n) => expect(parseDuration(raw)).toBe(n));

  it.each(['0s', '1w', '31d', 'soon', ''])("when the ttl is '%s', then a usage error", (raw) => {
    expect(() => parseDuration(raw)).toThrow(CliError);
  });

  it('when the credential comes from stdin with a trailing newline, then the newline is not part of it', async () => {
    const ctx = new CliContext(io({}, 'the-key\n'));
    expect((await readCredential(ctx, { credentialStdin: true }))!.reveal()).toBe('the-key');
  });

  it('when the credential is empty, has two lines, or both sources are given, then a usage error', async () => {
    await expect(readCredential(new CliContext(io({}, '\n')), { credentialStdin: true })).rejects.toThrow('empty');
    await expect(readCredential(new CliContext(io({}, 'a\nb\n')), { credentialStdin: true })).rejects.toThrow(
      'more than one line',
    );
    await expect(readCredential(new CliContext(io()), { credentialStdin: true, credentialFile: '/x' })).rejects.toThrow(
      'not both',
    );
    await expect(readCredential(new CliContext(io()), { credentialFile: '/nonexistent/key' })).rejects.toThrow(
      'no such file',
    );
  });

  it('when errors are mapped to exit codes, then config, network and CLI errors each get theirs', () => {
    expect(exitCodeOf(new ConfigError('database.url', 'is required'))).toBe(EXIT.CONFIG);
    expect(exitCodeOf(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }))).toBe(
      EXIT.UNAVAILABLE,
    );
    expect(exitCodeOf(new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })]))).toBe(
      EXIT.UNAVAILABLE,
    );
    expect(exitCodeOf(new CliError(EXIT.NOT_FOUND, 'no'))).toBe(EXIT.NOT_FOUND);
    expect(exitCodeOf(new Error('something else'))).toBe(EXIT.FAILED);
  });

  it('when output goes to a pipe or NO_COLOR is set, then no colour codes; on a terminal, colours', () => {
    expect(painter({ isTTY: false }, {}).bad('x')).toBe('x');
    expect(painter({ isTTY: true }, { NO_COLOR: '1' }).bad('x')).toBe('x');
    expect(painter({ isTTY: true }, {}).bad('x')).toBe('\u001b[31mx\u001b[0m');
  });

  it('when a table holds user-made strings with control characters, then they are escaped and columns align', () => {
    const t = table(
      [
        { id: 'A', name: 'evil\u001b[2J\nname' },
        { id: 'LONGER', name: 'ok' },
      ],
      ['id', 'name'],
    );
    expect(t).not.toContain('\u001b');
    expect(t.split('\n')).toHaveLength(3);
    expect(t).toContain('evil\\u001b[2J\\u000aname');
    expect(printable(new Date(0))).toBe('1970-01-01T00:00:00.000Z');
  });

  it('when progress runs without a terminal, then only one final line is written; on a terminal, a bar is redrawn', () => {
    const pipe = io();
    const p = new Progress(pipe, 'loading', 10);
    for (let i = 0; i < 10; i++) p.tick();
    p.finish();
    expect(pipe.errText().split('\n').filter(Boolean)).toHaveLength(1);
    expect(pipe.errText()).toContain('10/10 100%');
    const tty = io({}, '', true);
    const q = new Progress(tty, 'loading', 4);
    q.tick(2);
    q.finish();
    expect(tty.errText()).toContain('\r');
    expect(tty.errText()).toContain('[###############---------------] 2/4 50%');
  });
});
