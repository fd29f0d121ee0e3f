/**
 * `pems-sync`, the operator's command line (the package's bin): onboarding an organization
 * end to end and looking around. One file per command group; every command has --help with
 * examples, every read has --json, and the exit codes are those of ./output.ts.
 *
 * Settings come from the environment, exactly as for the other processes (schemas/config.ts).
 */
import { Command, CommanderError } from 'commander';
import { CliContext } from './context';
import { registerConnectorCommands } from './connector';
import { registerOrg } from './org';
import { registerTopics } from './topics';
import { registerUsers } from './users';
import { registerDlq } from './dlq';
import { registerStatus } from './status';
import { registerCredentials } from './credentials';
import { registerReconcile } from './reconcile';
import { registerConflicts } from './conflicts';
import { registerRollback } from './rollback';
import { registerAudit } from './audit';
import { registerResults } from './results';
import { CliError, EXIT, EXIT_CODES_HELP, exitCodeOf, processIo, type CliIo } from './output';

export function buildProgram(ctx: CliContext): Command {
  const program = new Command('pems-sync')
    .description('pems-sync operator CLI: connect organizations to PEMS, and look at what the sync is doing')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({
      writeOut: (s) => void ctx.io.stdout.write(s),
      writeErr: (s) => void ctx.io.stderr.write(s),
    })
    .exitOverride()
    .addHelpText(
      'after',
      `
Settings come from the environment like every pems-sync process (npx tsx schemas/config.ts --markdown
lists them): PEMS_SYNC_DATABASE_URL, PEMS_SYNC_CREDENTIAL_KEYS, PEMS_SYNC_KAFKA_BROKERS, ...

${EXIT_CODES_HELP}

Examples:
  pems-sync org add RIO --name "Rio" --pems-url https://pems.example.com/api/pems --tenant PEMS --credential-file rio.key
  pems-sync org check RIO
  pems-sync org list --json`,
    );
  registerOrg(program, ctx);
  registerUsers(program, ctx);
  registerTopics(program, ctx);
  registerConnectorCommands(program, ctx);
  registerStatus(program, ctx);
  registerDlq(program, ctx);
  registerConflicts(program, ctx);
  registerRollback(program, ctx);
  registerAudit(program, ctx);
  registerResults(program, ctx);
  registerCredentials(program, ctx);
  registerReconcile(program, ctx);
  // Every subcommand reports usage errors through the same output and exit code.
  const apply = (c: Command): void => {
    c.exitOverride().configureOutput({
      writeOut: (s) => void ctx.io.stdout.write(s),
      writeErr: (s) => void ctx.io.stderr.write(s),
    });
    c.commands.forEach(apply);
  };
  program.commands.forEach(apply);
  return program;
}

/** Runs one command line (argv without node and script); resolves with the exit code. */
export async function run(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const ctx = new CliContext(io);
  process.exitCode = undefined;
  try {
    await buildProgram(ctx).parseAsync([...argv], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here too, with code 0.
      return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    const code = exitCodeOf(err);
    const message = err instanceof CliError ? err.message : err instanceof Error ? err.message : String(err);
    io.stderr.write(`${ctx.errPaint.bad('pems-sync:')} ${message}\n`);
    return code;
  } finally {
    process.exitCode = undefined;
    await ctx.close();
  }
}

if (require.main === module) {
  void run(process.argv.slice(2)).then((code) => process.exit(code));
}
