import type { Knex } from 'knex';

/**
 * One dead letter per poison event, however many sink instances (or shards) read it: a poison
 * event has no modification to claim, so the database is the referee.
 */
export async function up(knex: Knex): Promise<void> {
  // Duplicates written before this rule (two readers of one poison event): keep the first.
  await knex.raw(
    `DELETE FROM dead_letter d USING dead_letter e
      WHERE d.modification_id IS NULL AND e.modification_id IS NULL
        AND d.source_topic = e.source_topic AND d.source_partition = e.source_partition AND d.source_offset = e.source_offset
        AND (d.created_at, d.id::text) > (e.created_at, e.id::text)`,
  );
  await knex.raw(
    `CREATE UNIQUE INDEX dead_letter_poison_once ON dead_letter (source_topic, source_partition, source_offset) WHERE modification_id IS NULL`,
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS dead_letter_poison_once');
}
