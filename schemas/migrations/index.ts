import type { Knex } from 'knex';
import * as core from './001_core';
import * as outcomes from './002_outcomes';
import * as controlApi from './003_control_api';
import * as readSide from './004_read_side';
import * as sinkOutbox from './005_sink_outbox';
import * as deadLetterDedupe from './006_dead_letter_dedupe';
import * as writeIntent from './007_write_intent';
import * as claimLease from './008_claim_lease';
import * as captureBounds from './009_capture_bounds';
import * as auditKeyed from './010_audit_keyed';
import * as appRole from './011_app_role';
import * as consoleSession from './012_console_session';
import * as consoleReadIndexes from './013_console_read_indexes';
import * as writeIntentLookup from './014_write_intent_lookup';
import * as modificationStatusIndex from './015_modification_status_index';
import * as auditHeadOnce from './017_audit_head_once';
import * as auditHeadPerStatement from './019_audit_head_per_statement';

/** Migrations in order. Listed in code (not discovered on disk) so ts, js and jest all load them alike. */
const migrations: Array<readonly [string, Knex.Migration]> = [
  ['001_core', core],
  ['002_outcomes', outcomes],
  ['003_control_api', controlApi],
  ['004_read_side', readSide],
  ['005_sink_outbox', sinkOutbox],
  ['006_dead_letter_dedupe', deadLetterDedupe],
  ['007_write_intent', writeIntent],
  ['008_claim_lease', claimLease],
  ['009_capture_bounds', captureBounds],
  ['010_audit_keyed', auditKeyed],
  ['011_app_role', appRole],
  ['012_console_session', consoleSession],
  ['013_console_read_indexes', consoleReadIndexes],
  ['014_write_intent_lookup', writeIntentLookup],
  ['015_modification_status_index', modificationStatusIndex],
  ['017_audit_head_once', auditHeadOnce],
  ['019_audit_head_per_statement', auditHeadPerStatement],
];

export const MIGRATION_NAMES: readonly string[] = migrations.map((m) => m[0]);

export const migrationSource: Knex.MigrationSource<readonly [string, Knex.Migration]> = {
  getMigrations: async () => migrations,
  getMigrationName: (m) => m[0],
  getMigration: async (m) => m[1],
};
