/** Global search: a PFA id or a modification id, within the viewer's organizations. */
import { EditsTable, type ShownEdit } from '../edit-row';
import { Layout } from '../layout';
import type { View } from '../session';

export function SearchPage({
  view,
  q,
  edits,
  error,
}: {
  view: View;
  q: string;
  edits: ShownEdit[];
  error?: string;
}): JSX.Element {
  return (
    <Layout view={view} title="Search">
      <h1>Search</h1>
      {error ? (
        <div class="notice notice-error" role="alert">
          <p safe>{error}</p>
        </div>
      ) : edits.length === 0 ? (
        <p class="notice notice-info" safe>
          {`Nothing matches "${q}" in your organizations: no PFA with that id and no modification with that id.`}
        </p>
      ) : (
        <EditsTable edits={edits} view={view} caption={`Edits matching "${q}" (newest first)`} />
      )}
    </Layout>
  );
}
