/**
 * What every command shares: the streams, the configuration (schemas/config, from the
 * environment like every other process, read only when a command needs it) and the clients it
 * opened, closed once when the command ends.
 */
import { readFileSync } from 'node:fs';
import type { Knex } from 'knex';
import type { Kafka } from 'kafkajs';
import { createKafka } from '../kafka/client';
import { PemsClientPool, type PemsClientPoolOptions } from '../pems/pool';
import { loadConfig, type Config } from '../../schemas/config';
import { createDatabase } from '../postgres/db';
import { parseCredentialKeys, type CredentialKeyRing } from '../pems/credentials';
import { painter, writeJson, type CliIo, type Painter } from './output';

export class CliContext {
  private cfg?: Config;
  private database?: Knex;
  private adminDatabase?: Knex;
  private readonly closers: Array<() => Promise<unknown>> = [];
  readonly paint: Painter;
  readonly errPaint: Painter;

  constructor(readonly io: CliIo) {
    this.paint = painter(io.stdout, io.env);
    this.errPaint = painter(io.stderr, io.env);
  }

  get config(): Config {
    this.cfg ??= loadConfig(this.io.env);
    return this.cfg;
  }

  get db(): Knex {
    if (!this.database) {
      this.database = createDatabase({ url: this.config.database.url, poolMax: 4, applicationName: 'pems-sync-cli' });
      const db = this.database;
      this.onClose(() => db.destroy());
    }
    return this.database;
  }

  /** The owner's connection (database.adminUrl), for the one remedy the processes' role may not perform. */
  get adminDb(): Knex {
    if (!this.adminDatabase) {
      const url = this.config.database.adminUrl === '' ? this.config.database.url : this.config.database.adminUrl;
      this.adminDatabase = createDatabase({ url, poolMax: 1, applicationName: 'pems-sync-cli-admin' });
      const db = this.adminDatabase;
      this.onClose(() => db.destroy());
    }
    return this.adminDatabase;
  }

  keyRing(): CredentialKeyRing {
    return parseCredentialKeys(this.config.pems.credentialKeys);
  }

  /** The extra CA to trust for PEMS (pems.caFile), if any. */
  pemsCa(): Buffer | undefined {
    return this.config.pems.caFile ? readFileSync(this.config.pems.caFile) : undefined;
  }

  /** A Kafka client from the config; its own log lines go nowhere (errors reach the command as exceptions). */
  kafka(suffix: string): Kafka {
    return createKafka(this.config, { clientSuffix: `cli-${suffix}`, logger: null, retry: { retries: 3 } });
  }

  /**
   * PEMS clients from the config (keys required: a config error naming PEMS_SYNC_CREDENTIAL_KEYS),
   * closed when the command ends; `extra` for what one command changes (org check: no retries).
   */
  pemsClients(extra: Partial<PemsClientPoolOptions> = {}): PemsClientPool {
    const pool = PemsClientPool.fromConfig(this.config, { keyRing: this.keyRing(), ...extra });
    this.onClose(() => pool.close());
    return pool;
  }

  onClose(fn: () => Promise<unknown>): void {
    this.closers.push(fn);
  }

  out(line = ''): void {
    this.io.stdout.write(`${line}\n`);
  }

  err(line: string): void {
    this.io.stderr.write(`${line}\n`);
  }

  /** `--json`: the value as JSON; otherwise the text. */
  emit(json: boolean, value: unknown, text: () => string): void {
    if (json) writeJson(this.io, value);
    else this.out(text());
  }

  async close(): Promise<void> {
    for (const c of this.closers.reverse()) await c().catch(() => undefined);
    this.closers.length = 0;
  }
}
