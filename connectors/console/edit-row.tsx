/** One edit and where it is, in words with times (search results; the "My edits" screen reuses it). */
import type { EditRow } from '../postgres/console-edits';
import type { SendingProgress } from '../../streams/sending-progress';
import { Time } from './components';
import type { View } from './session';

/** An edit with, while it is being sent, its place in the retry schedule. */
export type ShownEdit = EditRow & { sending?: SendingProgress | null };

function Sending({ e, view }: { e: ShownEdit; view: View }): JSX.Element {
  const p = e.sending;
  if (!p) {
    return (
      <span>
        sending to PEMS (claimed <Time at={e.updatedAt} view={view} />)
      </span>
    );
  }
  return (
    <span class="sending">
      <span safe>{`sending to PEMS (attempt ${p.attempt}, sent`}</span> <Time at={p.lastSentAt} view={view} />
      {p.overdue ? (
        <span>; no answer yet: the sink is waiting for PEMS, and waiting spends no attempt)</span>
      ) : p.nextRetryAt ? (
        <span>
          {', next retry at '}
          <Time at={p.nextRetryAt} view={view} />
          <span safe>{`${p.jitterMs > 0 ? ` ± ${Math.round(p.jitterMs / 1000)} s` : ''} if it fails)`}</span>
        </span>
      ) : (
        <span>; the last attempt: if it fails an operator is told)</span>
      )}
    </span>
  );
}

function Where({ e, view }: { e: ShownEdit; view: View }): JSX.Element {
  switch (e.syncStatus) {
    case 'committed':
    case 'queued':
      return <span>committed, waiting for the sink</span>;
    case 'syncing':
      return <Sending e={e} view={view} />;
    case 'synced':
      return (
        <span>
          <span safe>{`applied as PEMS version ${e.pemsVersionAfter ?? '?'}`}</span>{' '}
          {e.syncedAt ? <Time at={e.syncedAt} view={view} /> : ''}
        </span>
      );
    case 'conflict':
      return <span safe>{`conflict: PEMS changed the record after version ${e.baseVersion}; it needs a person`}</span>;
    case 'rejected': {
      const fe = e.syncError?.fieldErrors ?? [];
      return (
        <span>
          rejected{' '}
          {fe.length > 0 ? (
            <ul class="field-errors">
              {fe.map((f) => (
                <li safe>{`${f.field}: ${f.message}`}</li>
              ))}
            </ul>
          ) : (
            <span safe>{`(${e.syncError?.message ?? 'no reason recorded'})`}</span>
          )}
        </span>
      );
    }
    case 'failed':
      return <span safe>{`failed: an operator is on it (${e.syncError?.message ?? 'no reason recorded'})`}</span>;
    case 'superseded':
      return <span>superseded by a later resolution or rollback</span>;
    default:
      return <span safe>{e.syncStatus}</span>;
  }
}

export function EditsTable({ edits, view, caption }: { edits: ShownEdit[]; view: View; caption: string }): JSX.Element {
  return (
    <table class="edits">
      <caption safe>{caption}</caption>
      <thead>
        <tr>
          <th scope="col">PFA</th>
          <th scope="col">organization</th>
          <th scope="col">by</th>
          <th scope="col">change</th>
          <th scope="col">committed</th>
          <th scope="col">where it is</th>
        </tr>
      </thead>
      <tbody hx-disable>
        {edits.map((e) => (
          <tr id={`edit-${e.id}`} data-status={e.syncStatus}>
            <th scope="row">
              <a href={`/console/records/${encodeURIComponent(e.organizationId)}/${encodeURIComponent(e.pfaId)}`} safe>
                {e.pfaId}
              </a>
              <br />
              <code class="id" safe>
                {e.id}
              </code>
            </th>
            <td safe>{e.organizationId}</td>
            <td safe>{e.userId}</td>
            <td>
              <code class="delta" safe>
                {e.operation === 'delete' ? 'delete' : JSON.stringify(e.delta)}
              </code>
            </td>
            <td>{e.committedAt ? <Time at={e.committedAt} view={view} /> : 'not committed'}</td>
            <td>
              <Where e={e} view={view} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
