/**
 * My edits: the signed-in user's edits and where each one is, in words with times
 * (committed ▶ sending ▶ applied as PEMS version N / conflict / rejected with the reason per
 * field / failed). Filters (stage, PFA) and the page cursor are in the URL.
 */
import { EDIT_STAGES, type EditStage } from '../../postgres/console-edits';
import { Time } from '../components';
import { EditsTable, type ShownEdit } from '../edit-row';
import { Layout } from '../layout';
import type { View } from '../session';

const STAGE_WORDS: Record<EditStage, string> = {
  waiting: 'on their way',
  applied: 'applied in PEMS',
  conflict: 'conflict (needs you)',
  rejected: 'rejected',
  failed: 'failed',
  superseded: 'superseded',
};

export function MyEditsPage(props: {
  view: View;
  edits: ShownEdit[];
  stage?: EditStage;
  pfaId?: string;
  nextHref?: string;
  summary: { byStatus: Record<string, number>; oldestWaitingAt: Date | null };
}): JSX.Element {
  const { view, summary } = props;
  const count = (stage: EditStage): number => EDIT_STAGES[stage].reduce((n, s) => n + (summary.byStatus[s] ?? 0), 0);
  const waiting = count('waiting');
  return (
    <Layout view={view} title="My edits" active="my-edits">
      <h1>My edits</h1>
      <p class="summary">
        {waiting === 0 ? (
          'None of your edits is waiting: every one has reached an outcome.'
        ) : (
          <>
            <span
              safe
            >{`${waiting} of your edits ${waiting === 1 ? 'is' : 'are'} on the way to PEMS; the oldest was committed `}</span>
            {summary.oldestWaitingAt ? <Time at={summary.oldestWaitingAt} view={view} /> : ''}.
          </>
        )}{' '}
        <span
          safe
        >{`Applied ${count('applied')} · conflicts ${count('conflict')} · rejected ${count('rejected')} · failed ${count('failed')}.`}</span>
      </p>
      <form method="get" action="/console/my-edits" class="filters">
        <label for="stage">Where</label>
        <select id="stage" name="stage">
          <option value="" selected={!props.stage}>
            anywhere
          </option>
          {(Object.keys(STAGE_WORDS) as EditStage[]).map((s) => (
            <option value={s} selected={props.stage === s} safe>
              {STAGE_WORDS[s]}
            </option>
          ))}
        </select>
        <label for="pfa">PFA id</label>
        <input id="pfa" name="pfa" type="text" value={props.pfaId ?? ''} maxlength="200" />
        <button type="submit" class="button small">
          Filter
        </button>
      </form>
      {props.edits.length === 0 ? (
        <p class="notice notice-info">
          {props.stage || props.pfaId
            ? 'None of your edits matches these filters.'
            : 'You have not committed any edit yet.'}
        </p>
      ) : (
        <EditsTable edits={props.edits} view={view} caption="Your edits, newest first" />
      )}
      {props.nextHref ? (
        <p>
          <a href={props.nextHref} rel="next">
            Older edits
          </a>
        </p>
      ) : (
        ''
      )}
    </Layout>
  );
}
