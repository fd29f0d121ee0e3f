/** Small pieces every screen uses: times, disabled actions with their reason, notices. */
import type { Children } from '@kitajs/html';
import type { Freshness } from '../../streams/freshness';
import { absoluteTime, relativeTime } from './time';
import type { View } from './session';

/** A time shown absolute (viewer's zone) and relative; console.js refreshes the relative part. */
export function Time({ at, view }: { at: Date; view: View }): JSX.Element {
  const iso = at.toISOString();
  return (
    <time datetime={iso} class="time">
      <span safe>{absoluteTime(at, view.timeZone)}</span>{' '}
      <span class="rel" data-rel={iso} safe>{`(${relativeTime(at, view.now)})`}</span>
    </time>
  );
}

/**
 * An action the viewer may or may not take. When not allowed it is shown disabled with the
 * reason next to it (aria-describedby); the server refuses the action all the same.
 */
export function Action(props: {
  id: string;
  allowed: boolean;
  reason?: string;
  label: string;
  name?: string;
  value?: string;
  class?: string;
}): JSX.Element {
  const reasonId = `${props.id}-why`;
  if (props.allowed) {
    return (
      <button type="submit" id={props.id} name={props.name} value={props.value} class={props.class ?? 'button'} safe>
        {props.label}
      </button>
    );
  }
  return (
    <span class="action-disabled">
      <button type="button" id={props.id} class={props.class ?? 'button'} disabled aria-describedby={reasonId} safe>
        {props.label}
      </button>{' '}
      <span id={reasonId} class="why" safe>
        {props.reason ?? 'not allowed'}
      </span>
    </span>
  );
}

const FRESHNESS_WORDS: Record<Freshness, string> = {
  no_edits: 'No edits yet',
  on_time: 'On time',
  late: 'Late',
  stalled: 'Stalled',
};

export function FreshnessBadge({ state }: { state: Freshness }): JSX.Element {
  return (
    <span class={`badge badge-${state}`} safe>
      {FRESHNESS_WORDS[state]}
    </span>
  );
}

export function freshnessWords(state: Freshness): string {
  return FRESHNESS_WORDS[state];
}

export function Notice({
  kind,
  children,
}: {
  kind: 'info' | 'warn' | 'error' | 'ok';
  children?: Children;
}): JSX.Element {
  return <div class={`notice notice-${kind}`}>{children as 'safe'}</div>;
}
