/**
 * Rollback with four eyes: pick a version ▶ the field differences ▶ request with a reason; a
 * different administrator sees the same differences and approves or rejects with a reason; the
 * requester sees approve disabled with the rule explained.
 */
import type { FieldDiff } from '../../../streams/conflicts';
import type { RollbackPreview, RollbackRequestRow } from '../../postgres/rollbacks';
import { Action, Time } from '../components';
import { Layout } from '../layout';
import type { View } from '../session';
import { showValue } from './conflict';
import { timelinePath } from './timeline';

function Diff({ changes, caption }: { changes: FieldDiff[]; caption: string }): JSX.Element {
  return (
    <table class="diff">
      <caption safe>{caption}</caption>
      <thead>
        <tr>
          <th scope="col">field</th>
          <th scope="col">PEMS now</th>
          <th scope="col">after the rollback</th>
        </tr>
      </thead>
      <tbody hx-disable>
        {changes.map((c) => (
          <tr data-field={c.field}>
            <th scope="row" safe>
              {c.field}
            </th>
            <td safe>{showValue(c.before)}</td>
            <td safe>{showValue(c.after)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function RollbackRequestPage(props: {
  view: View;
  preview: RollbackPreview;
  can: { allowed: boolean; reason?: string };
  problem?: string;
}): JSX.Element {
  const { view, preview: p } = props;
  return (
    <Layout view={view} title={`Roll back ${p.pfaId}`}>
      <h1>
        Roll back <span safe>{p.pfaId}</span> to version <span safe>{String(p.targetVersion)}</span>
      </h1>
      <p>
        <a href={timelinePath(p.organizationId, p.pfaId)}>Back to the timeline</a>
      </p>
      {props.problem ? (
        <div class="notice notice-error" role="alert">
          <p safe>{props.problem}</p>
        </div>
      ) : (
        ''
      )}
      {p.changes.length === 0 ? (
        <p
          class="notice notice-info"
          safe
        >{`PEMS already holds the values of version ${p.targetVersion}: there is nothing to roll back.`}</p>
      ) : (
        <>
          <Diff
            changes={p.changes}
            caption={`PEMS version ${p.currentVersion} now, and the values of version ${p.targetVersion}`}
          />
          <form method="post" action={`${timelinePath(p.organizationId, p.pfaId)}/rollback`} class="stack">
            <input type="hidden" name="_csrf" value={view.viewer?.csrfToken ?? ''} />
            <input type="hidden" name="version" value={String(p.targetVersion)} />
            <label for="rb-reason">Reason (required; the approver reads it)</label>
            <textarea id="rb-reason" name="reason" maxlength="1000" rows="2" required></textarea>
            <Action id="request" allowed={props.can.allowed} reason={props.can.reason} label="Request rollback" />
          </form>
        </>
      )}
    </Layout>
  );
}

export function RollbackDecisionPage(props: {
  view: View;
  r: RollbackRequestRow;
  approve: { allowed: boolean; reason?: string };
  reject: { allowed: boolean; reason?: string };
  problem?: string;
}): JSX.Element {
  const { view, r } = props;
  const pending = r.status === 'pending';
  return (
    <Layout view={view} title="Rollback request">
      <h1>
        Rollback of <span safe>{r.pfaId}</span> to version <span safe>{String(r.targetVersion)}</span>
      </h1>
      <p>
        <span safe>{`Requested by ${r.requestedBy} `}</span>
        <Time at={new Date(r.createdAt)} view={view} />
        <span
          safe
        >{`: "${r.reason}". Status: ${r.status}${r.decidedBy ? ` by ${r.decidedBy}` : ''}${r.decisionReason ? ` ("${r.decisionReason}")` : ''}.`}</span>
      </p>
      <p>
        <a href={timelinePath(r.organizationId, r.pfaId)}>The record's timeline</a>
        {r.modificationId ? (
          <>
            {' · the rollback edit '}
            <a href={`/console/search?q=${r.modificationId}`}>
              <code safe>{r.modificationId}</code>
            </a>
          </>
        ) : (
          ''
        )}
      </p>
      {props.problem ? (
        <div class="notice notice-error" role="alert">
          <p safe>{props.problem}</p>
        </div>
      ) : (
        ''
      )}
      <Diff changes={r.preview} caption={`The differences the requester saw (from version ${r.fromVersion})`} />
      {pending ? (
        <div class="decide">
          <form method="post" action={`/console/rollbacks/${r.id}/approve`} class="stack">
            <input type="hidden" name="_csrf" value={view.viewer?.csrfToken ?? ''} />
            {/* The approval is of exactly the differences shown above (the server refuses another). */}
            <input type="hidden" name="previewHash" value={r.previewHash} />
            <label for="approve-reason">Reason for approving (optional)</label>
            <input id="approve-reason" name="reason" maxlength="1000" />
            <Action id="approve" allowed={props.approve.allowed} reason={props.approve.reason} label="Approve" />
          </form>
          <form method="post" action={`/console/rollbacks/${r.id}/reject`} class="stack">
            <input type="hidden" name="_csrf" value={view.viewer?.csrfToken ?? ''} />
            <label for="reject-reason">Reason for rejecting (required)</label>
            <input id="reject-reason" name="reason" maxlength="1000" required />
            <Action id="reject" allowed={props.reject.allowed} reason={props.reject.reason} label="Reject" />
          </form>
        </div>
      ) : (
        ''
      )}
    </Layout>
  );
}

export function RollbackListPage(props: { view: View; items: RollbackRequestRow[]; status: string }): JSX.Element {
  return (
    <Layout view={props.view} title="Rollbacks" active="rollbacks">
      <h1>Rollbacks</h1>
      <form method="get" action="/console/rollbacks" class="filters">
        <label for="rb-status">Status</label>
        <select id="rb-status" name="status">
          {['pending', 'approved', 'rejected', 'applied', 'failed'].map((s) => (
            <option value={s} selected={s === props.status} safe>
              {s}
            </option>
          ))}
        </select>
        <button type="submit" class="button small">
          Filter
        </button>
      </form>
      <p>A rollback starts on a record's timeline (search for the PFA, then "Roll back to version …").</p>
      {props.items.length === 0 ? (
        <p class="notice notice-info" safe>{`No ${props.status} rollback requests.`}</p>
      ) : (
        <table class="queue" data-queue="rollbacks">
          <caption safe>{`${props.status} rollback requests, newest first`}</caption>
          <thead>
            <tr>
              <th scope="col">PFA</th>
              <th scope="col">to version</th>
              <th scope="col">requested by</th>
              <th scope="col">reason</th>
              <th scope="col">when</th>
            </tr>
          </thead>
          <tbody hx-disable>
            {props.items.map((r) => (
              <tr>
                <th scope="row">
                  <a class="row-link" href={`/console/rollbacks/${r.id}`} safe>
                    {r.pfaId}
                  </a>
                </th>
                <td safe>{String(r.targetVersion)}</td>
                <td safe>{r.requestedBy}</td>
                <td safe>{r.reason}</td>
                <td>
                  <Time at={new Date(r.createdAt)} view={props.view} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Layout>
  );
}
