/** Dead letters: grouped by cause with counts, filters in the URL, replay one or many (a result per item). */
import type { DeadLetterSummary } from '../../postgres/dead-letters';
import type { CauseGroup } from '../../postgres/console-dead-letters';
import { Action, Time } from '../components';
import { Layout } from '../layout';
import { editNow } from './dead-letter';
import type { View } from '../session';

export interface DeadLetterFilters {
  organization?: string;
  status: string;
  cause?: string;
}

function href(f: DeadLetterFilters, cause?: string): string {
  const p = new URLSearchParams();
  if (f.organization) p.set('organization', f.organization);
  p.set('status', f.status);
  if (cause) p.set('cause', cause);
  return `/console/dead-letters?${p.toString()}`;
}

export function DeadLettersPage(props: {
  view: View;
  f: DeadLetterFilters;
  groups: CauseGroup[];
  items: DeadLetterSummary[];
  orgs: string[];
  canReplay: { allowed: boolean; reason?: string };
}): JSX.Element {
  const { view, f } = props;
  return (
    <Layout view={view} title="Dead letters" active="dead-letters">
      <h1>Dead letters</h1>
      <form method="get" action="/console/dead-letters" class="filters">
        <label for="dl-org">Organization</label>
        <select id="dl-org" name="organization">
          <option value="" selected={!f.organization}>
            all mine
          </option>
          {props.orgs.map((o) => (
            <option value={o} selected={o === f.organization} safe>
              {o}
            </option>
          ))}
        </select>
        <label for="dl-status">Status</label>
        <select id="dl-status" name="status">
          {['open', 'replayed', 'discarded'].map((s) => (
            <option value={s} selected={s === f.status} safe>
              {s}
            </option>
          ))}
        </select>
        <label for="dl-cause">Cause</label>
        <input id="dl-cause" name="cause" value={f.cause ?? ''} maxlength="100" size="18" />
        <button type="submit" class="button small">
          Filter
        </button>
      </form>
      <section aria-labelledby="causes-h">
        <h2 id="causes-h">By cause</h2>
        {props.groups.length === 0 ? (
          <p safe>{`No ${f.status} dead letters.`}</p>
        ) : (
          <ul class="causes">
            {props.groups.map((g) => (
              <li>
                <a href={href(f, g.errorCode)} aria-current={g.errorCode === f.cause ? 'true' : undefined} safe>
                  {g.errorCode}
                </a>{' '}
                <strong safe>{String(g.count)}</strong> <span class="why" safe>{`e.g. ${g.sampleReason}`}</span>
              </li>
            ))}
          </ul>
        )}
      </section>
      {props.items.length === 0 ? (
        <p class="notice notice-info">No dead letter matches these filters.</p>
      ) : (
        <form method="post" action="/console/dead-letters/replay">
          <input type="hidden" name="_csrf" value={view.viewer?.csrfToken ?? ''} />
          <table class="queue" data-queue="dead-letters">
            <caption
              safe
            >{`${props.items.length} ${f.status} dead letters${f.cause ? ` caused by ${f.cause}` : ''}, newest first`}</caption>
            <thead>
              <tr>
                <th scope="col">replay</th>
                <th scope="col">PFA</th>
                <th scope="col">cause</th>
                <th scope="col">reason</th>
                <th scope="col">edit now</th>
                <th scope="col">dead-lettered</th>
              </tr>
            </thead>
            <tbody hx-disable>
              {props.items.map((d) => (
                <tr id={`dl-${d.id}`}>
                  <td>
                    {d.status === 'open' ? (
                      <input
                        type="checkbox"
                        name="ids"
                        value={d.id}
                        aria-label={`replay the dead letter of ${d.pfaId ?? 'an unknown PFA'}`}
                      />
                    ) : (
                      ''
                    )}
                  </td>
                  <th scope="row">
                    <a class="row-link" href={`/console/dead-letters/${d.id}`} safe>
                      {d.pfaId ?? '(unknown PFA)'}
                    </a>
                  </th>
                  <td safe>{d.errorCode}</td>
                  <td safe>{d.reason}</td>
                  <td safe>{editNow(d)}</td>
                  <td>
                    <Time at={new Date(d.createdAt)} view={view} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {f.status === 'open' ? (
            <p>
              <label for="bulk-reason">Reason (optional)</label>{' '}
              <input id="bulk-reason" name="reason" maxlength="1000" size="30" />{' '}
              <Action
                id="replay-selected"
                allowed={props.canReplay.allowed}
                reason={props.canReplay.reason}
                label="Replay selected"
              />
            </p>
          ) : (
            ''
          )}
        </form>
      )}
    </Layout>
  );
}

export function ReplayResultsPage(props: {
  view: View;
  results: Array<{ id: string; ok: boolean; message: string }>;
}): JSX.Element {
  return (
    <Layout view={props.view} title="Replay results" active="dead-letters">
      <h1>Replay results</h1>
      <table>
        <caption>One result per dead letter</caption>
        <thead>
          <tr>
            <th scope="col">dead letter</th>
            <th scope="col">result</th>
          </tr>
        </thead>
        <tbody>
          {props.results.map((r) => (
            <tr id={`result-${r.id}`} data-ok={String(r.ok)}>
              <th scope="row">
                <a href={`/console/dead-letters/${r.id}`}>
                  <code safe>{r.id}</code>
                </a>
              </th>
              <td safe>{r.message}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p>
        <a href="/console/dead-letters">Back to the dead letters</a>
      </p>
    </Layout>
  );
}
