/**
 * One dead letter: the original edit, the context headers, every PEMS attempt with its answer, a
 * replay preview, replay and discard (with a reason).
 */
import type { DeadLetterRow, DeadLetterSummary } from '../../postgres/dead-letters';
import type { AttemptRow } from '../../postgres/console-dead-letters';
import type { ReplayPreview } from '../../../streams/replay-preview';
import { Action, Time } from '../components';
import { Layout } from '../layout';
import type { View } from '../session';

function headerList(stored: unknown): Array<[string, string]> {
  if (stored === null || typeof stored !== 'object' || Array.isArray(stored)) return [];
  return Object.entries(stored as Record<string, unknown>).map(([k, v]) => {
    const one = Array.isArray(v) ? v[v.length - 1] : v;
    if (typeof one === 'string') return [k, one];
    if (one && typeof one === 'object' && typeof (one as { base64?: unknown }).base64 === 'string')
      return [k, Buffer.from((one as { base64: string }).base64, 'base64').toString('utf8')];
    return [k, JSON.stringify(one)];
  });
}

/** Where the dead letter's edit is now (a function: the XSS scan does not follow conditionals). */
export function editNow(d: DeadLetterSummary): string {
  return d.modification
    ? `${d.modification.syncStatus} after ${d.modification.attempts} attempts`
    : 'no edit (an event that could not be read)';
}

function previewWords(p: ReplayPreview): string {
  if (p.pemsVersion === null)
    return 'PEMS has not been seen for this record here, so replaying cannot be previewed; the sink checks PEMS before writing.';
  if (p.conflictsOn.length > 0)
    return `PEMS is now at version ${p.pemsVersion}; replaying would conflict on ${p.conflictsOn.join(', ')}.`;
  if (p.unknown.length > 0)
    return `PEMS is now at version ${p.pemsVersion}; whether ${p.unknown.join(', ')} would conflict cannot be told (no history of the base version).`;
  return `PEMS is now at version ${p.pemsVersion}; replaying would apply without a conflict.`;
}

/** The record as the detail endpoint gives it: text, or base64 when not UTF-8, and whether it was cut at the cap. */
export function recordText(d: DeadLetterRow): string {
  const body =
    d.recordValue ?? (d.recordValueBase64 !== null ? `(not UTF-8; base64) ${d.recordValueBase64}` : '(no value)');
  return d.recordValueTruncated
    ? `${body}\n… (cut at the display cap; ${d.recordValueBytes ?? '?'} bytes in all)`
    : body;
}

export function DeadLetterPage(props: {
  view: View;
  d: DeadLetterRow;
  edit?: { delta: Record<string, unknown>; baseVersion: number; userId: string; committedAt: Date | null };
  attempts: AttemptRow[];
  preview?: ReplayPreview;
  can: { allowed: boolean; reason?: string };
  /** Discarding drops work for good: an administrator's right (the server enforces it). */
  canDiscard: { allowed: boolean; reason?: string };
  problem?: string;
}): JSX.Element {
  const { view, d } = props;
  const open = d.status === 'open';
  const why = open ? props.can.reason : `the dead letter is ${d.status}`;
  return (
    <Layout view={view} title="Dead letter" active="dead-letters">
      <h1>
        Dead letter of <span safe>{d.pfaId ?? '(unknown PFA)'}</span>
      </h1>
      {props.problem ? (
        <div class="notice notice-error" role="alert">
          <p safe>{props.problem}</p>
        </div>
      ) : (
        ''
      )}
      <p>
        <strong safe>{d.errorCode}</strong>: <span safe>{d.reason}</span> (
        <Time at={new Date(d.createdAt)} view={view} />)
      </p>
      {!open ? (
        <p
          class="notice notice-ok"
          safe
        >{`This dead letter is ${d.status}${d.resolvedBy ? ` by ${d.resolvedBy}` : ''}${d.resolutionReason ? `: ${d.resolutionReason}` : ''}.`}</p>
      ) : (
        ''
      )}
      <section aria-labelledby="edit-h">
        <h2 id="edit-h">The original edit</h2>
        {props.edit ? (
          <dl class="facts" hx-disable>
            <dt>modification</dt>
            <dd>
              <a href={`/console/search?q=${d.modificationId ?? ''}`}>
                <code safe>{d.modificationId ?? ''}</code>
              </a>
            </dd>
            <dt>by</dt>
            <dd safe>{props.edit.userId}</dd>
            <dt>based on PEMS version</dt>
            <dd safe>{String(props.edit.baseVersion)}</dd>
            <dt>changes</dt>
            <dd>
              <code safe>{JSON.stringify(props.edit.delta)}</code>
            </dd>
            <dt>now</dt>
            <dd safe>{editNow(d)}</dd>
          </dl>
        ) : (
          <pre class="raw" hx-disable safe>
            {recordText(d)}
          </pre>
        )}
      </section>
      <section aria-labelledby="headers-h">
        <h2 id="headers-h">Context headers</h2>
        <dl class="facts" hx-disable>
          <dt>source</dt>
          <dd safe>{`${d.sourceTopic} partition ${d.sourcePartition} offset ${d.sourceOffset}`}</dd>
          {headerList(d.recordHeaders).map(([k, v]) => (
            <>
              <dt safe>{k}</dt>
              <dd safe>{v}</dd>
            </>
          ))}
        </dl>
      </section>
      <section aria-labelledby="attempts-h">
        <h2 id="attempts-h">PEMS attempts</h2>
        {props.attempts.length === 0 ? (
          <p>No request reached PEMS for this edit.</p>
        ) : (
          <table>
            <caption>Every attempt and PEMS's answer</caption>
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">at</th>
                <th scope="col">on version</th>
                <th scope="col">result</th>
                <th scope="col">PEMS answered</th>
              </tr>
            </thead>
            <tbody hx-disable>
              {props.attempts.map((a, i) => (
                <tr>
                  <th scope="row" safe>
                    {String(a.attempt ?? i + 1)}
                  </th>
                  <td>
                    <Time at={a.at} view={view} />
                  </td>
                  <td safe>{a.version === null ? '' : String(a.version)}</td>
                  <td safe>{a.result ?? ''}</td>
                  <td>
                    <code safe>
                      {a.pemsResponse === null || a.pemsResponse === undefined
                        ? '(no answer)'
                        : JSON.stringify(a.pemsResponse)}
                    </code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section aria-labelledby="act-h">
        <h2 id="act-h">Replay or discard</h2>
        {props.preview ? (
          <p class="notice notice-info" data-preview safe>
            {previewWords(props.preview)}
          </p>
        ) : (
          ''
        )}
        <form method="post" action={`/console/dead-letters/${d.id}/replay`} class="stack">
          <input type="hidden" name="_csrf" value={view.viewer?.csrfToken ?? ''} />
          <label for="replay-reason">Reason for the replay (optional)</label>
          <input id="replay-reason" name="reason" maxlength="1000" />
          <Action id="replay" allowed={open && props.can.allowed} reason={why} label="Replay" />
        </form>
        <form method="post" action={`/console/dead-letters/${d.id}/discard`} class="stack">
          <input type="hidden" name="_csrf" value={view.viewer?.csrfToken ?? ''} />
          <label for="discard-reason">Reason for discarding (required)</label>
          <input id="discard-reason" name="reason" maxlength="1000" required />
          <Action
            id="discard"
            allowed={open && props.canDiscard.allowed}
            reason={open ? props.canDiscard.reason : why}
            label="Discard"
          />
        </form>
      </section>
    </Layout>
  );
}
