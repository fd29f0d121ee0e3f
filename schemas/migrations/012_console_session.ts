import type { Knex } from 'knex';

/**
 * Console sessions: a browser signs in once (a control API token, or a demo user when local
 * sign-in is enabled) and then holds only an opaque random cookie. The table keeps its SHA-256,
 * never the cookie itself, with the user, the CSRF token of the session's forms and the expiry;
 * signing out deletes the row, so a copied cookie dies with it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('console_session', (t) => {
    t.text('id_hash').primary().comment('hex SHA-256 of the session cookie value');
    t.text('user_id').notNullable().references('app_user.id').onDelete('CASCADE');
    t.text('csrf_token').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.index(['expires_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('console_session');
}
