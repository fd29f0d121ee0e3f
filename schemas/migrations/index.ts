import type { Knex } from 'knex';
import * as core from './001_core';
import * as outcomes from './002_outcomes';

/** Migrations in order. Listed in code (not discovered on disk) so ts, js and jest all load them alike. */
const migrations: Array<readonly [string, Knex.Migration]> = [
  ['001_core', core],
  ['002_outcomes', outcomes],
];

export const migrationSource: Knex.MigrationSource<readonly [string, Knex.Migration]> = {
  getMigrations: async () => migrations,
  getMigrationName: (m) => m[0],
  getMigration: async (m) => m[1],
};
