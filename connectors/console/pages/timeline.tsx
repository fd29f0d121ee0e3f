/**
 * One PFA's timeline: PEMS versions, edits, conflicts, replays, rollbacks and audit entries in time
 * order, filterable, with a link to copy.
 */
import { TIMELINE_KINDS, type TimelineItem, type TimelineKind } from '../../postgres/console-timeline';
import { Time } from '../components';
import { Layout } from '../layout';
import type { View } from '../session';

export function timelinePath(org: string, pfa: string): string {
  return `/console/records/${encodeURIComponent(org)}/${encodeURIComponent(pfa)}`;
}

export function TimelinePage(props: {
  view: View;
  org: string;
  pfa: string;
  items: TimelineItem[];
  kinds: TimelineKind[];
  permalink: string;
}): JSX.Element {
  const { view, org, pfa } = props;
  const base = timelinePath(org, pfa);
  return (
    <Layout view={view} title={`Timeline of ${pfa}`}>
      <h1>
        Timeline of <span safe>{pfa}</span> <span class="why" safe>{`(${org})`}</span>
      </h1>
      <form method="get" action={base} class="filters">
        <fieldset class="kinds">
          <legend>Show</legend>
          {TIMELINE_KINDS.map((k) => (
            <label>
              <input type="checkbox" name="kind" value={k} checked={props.kinds.includes(k)} /> <span>{k}</span>
            </label>
          ))}
        </fieldset>
        <button type="submit" class="button small">
          Filter
        </button>
      </form>
      <p class="permalink">
        <label for="permalink">Link to this view</label>{' '}
        <input id="permalink" readonly value={props.permalink} size="60" />{' '}
        {/* Shown by console.js (copying needs script); without it the field's text can be selected and copied. */}
        <button type="button" class="button small" id="copy-permalink" data-copy="permalink" hidden>
          Copy link
        </button>
      </p>
      {props.items.length === 0 ? (
        <p class="notice notice-info">Nothing on this timeline with these filters.</p>
      ) : (
        <ol class="timeline" hx-disable>
          {props.items.map((i) => (
            <li data-kind={i.kind}>
              <Time at={i.at} view={view} /> <strong safe>{i.title}</strong>{' '}
              <span class={`tag tag-${i.kind}`}>{i.kind}</span>
              <br />
              <span safe>{i.detail}</span>
              {i.href ? (
                <>
                  {' '}
                  <a href={i.href}>details</a>
                </>
              ) : (
                ''
              )}
              {i.kind === 'version' && i.version !== undefined ? (
                <>
                  {' '}
                  <a href={`${base}/rollback?version=${i.version}`} safe>{`Roll back to version ${i.version}…`}</a>
                </>
              ) : (
                ''
              )}
            </li>
          ))}
        </ol>
      )}
    </Layout>
  );
}
