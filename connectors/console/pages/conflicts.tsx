/**
 * The conflict queue: filters in the URL (organization, PFA, field, author, age), newest first, j/k
 * to move between rows.
 */
import type { ConflictRow } from '../../postgres/conflicts';
import { Time } from '../components';
import { Layout } from '../layout';
import type { View } from '../session';

export interface QueueFilters {
  organization?: string;
  pfa?: string;
  field?: string;
  author?: string;
  age?: string;
  status: string;
}

export const AGES: Record<string, { label: string; seconds: number }> = {
  '1h': { label: 'older than 1 hour', seconds: 3600 },
  '24h': { label: 'older than 24 hours', seconds: 86_400 },
  '7d': { label: 'older than 7 days', seconds: 604_800 },
};

export function ConflictQueuePage(props: {
  view: View;
  items: ConflictRow[];
  f: QueueFilters;
  orgs: string[];
  nextHref?: string;
}): JSX.Element {
  const { view, f } = props;
  return (
    <Layout view={view} title="Conflicts" active="conflicts">
      <h1>Conflicts</h1>
      <form method="get" action="/console/conflicts" class="filters">
        <label for="f-org">Organization</label>
        <select id="f-org" name="organization">
          <option value="" selected={!f.organization}>
            all mine
          </option>
          {props.orgs.map((o) => (
            <option value={o} selected={o === f.organization} safe>
              {o}
            </option>
          ))}
        </select>
        <label for="f-pfa">PFA</label>
        <input id="f-pfa" name="pfa" value={f.pfa ?? ''} maxlength="200" size="12" />
        <label for="f-field">Field</label>
        <input id="f-field" name="field" value={f.field ?? ''} maxlength="64" size="12" />
        <label for="f-author">Author</label>
        <input id="f-author" name="author" value={f.author ?? ''} maxlength="200" size="12" />
        <label for="f-age">Age</label>
        <select id="f-age" name="age">
          <option value="" selected={!f.age}>
            any
          </option>
          {Object.entries(AGES).map(([k, a]) => (
            <option value={k} selected={k === f.age} safe>
              {a.label}
            </option>
          ))}
        </select>
        <label for="f-status">Status</label>
        <select id="f-status" name="status">
          {['open', 'resolved', 'superseded'].map((s) => (
            <option value={s} selected={s === f.status} safe>
              {s}
            </option>
          ))}
        </select>
        <button type="submit" class="button small">
          Filter
        </button>
      </form>
      <p class="why">Keyboard: j and k move between conflicts, Enter opens one.</p>
      {props.items.length === 0 ? (
        <p class="notice notice-info">No conflict matches these filters.</p>
      ) : (
        <table class="queue" data-queue="conflicts">
          <caption
            safe
          >{`${props.items.length}${props.nextHref ? '+' : ''} ${f.status} conflicts, newest first`}</caption>
          <thead>
            <tr>
              <th scope="col">PFA</th>
              <th scope="col">organization</th>
              <th scope="col">fields in conflict</th>
              <th scope="col">author</th>
              <th scope="col">detected</th>
            </tr>
          </thead>
          <tbody hx-disable>
            {props.items.map((c) => (
              <tr id={`conflict-${c.id}`}>
                <th scope="row">
                  <a class="row-link" href={`/console/conflicts/${c.id}`} safe>
                    {c.pfaId}
                  </a>
                </th>
                <td safe>{c.organizationId}</td>
                <td safe>{c.fields.map((x) => x.field).join(', ')}</td>
                <td safe>{c.modification.userId}</td>
                <td>
                  <Time at={new Date(c.createdAt)} view={view} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {props.nextHref ? (
        <p>
          <a href={props.nextHref} rel="next">
            Older conflicts
          </a>
        </p>
      ) : (
        ''
      )}
    </Layout>
  );
}
