/**
 * My notifications: what happened to my edits, each with a deep link to the exact edit or conflict,
 * mark read one by one or all.
 */
import type { NotificationRow } from '../../postgres/notifications';
import { Time } from '../components';
import { Layout } from '../layout';
import type { View } from '../session';

export interface NotificationView {
  n: NotificationRow;
  text: string;
  href: string | null;
  linkText: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Words and the deep link of one notification. */
export function describeNotification(n: NotificationRow, conflictId: string | undefined): NotificationView {
  const p = n.payload as { modificationId?: unknown; pfaId?: unknown; fields?: unknown; error?: { message?: unknown } };
  const pfa = typeof p.pfaId === 'string' ? p.pfaId : 'a PFA';
  const mod = typeof p.modificationId === 'string' && UUID.test(p.modificationId) ? p.modificationId : null;
  const editHref = mod ? `/console/search?q=${mod}` : null;
  switch (n.kind) {
    case 'conflict':
      return {
        n,
        text: `Your edit of ${pfa} is in conflict with a change in PEMS${Array.isArray(p.fields) ? ` (${p.fields.filter((f) => typeof f === 'string').join(', ')})` : ''}: it needs you.`,
        href: conflictId ? `/console/conflicts/${conflictId}` : editHref,
        linkText: conflictId ? 'Open the conflict' : 'Open the edit',
      };
    case 'rejected':
      return {
        n,
        text: `Your edit of ${pfa} was rejected: ${typeof p.error?.message === 'string' ? p.error.message : 'see the edit'}.`,
        href: editHref,
        linkText: 'Open the edit',
      };
    case 'failed':
      return {
        n,
        text: `Your edit of ${pfa} could not be written to PEMS; an operator is on it.`,
        href: editHref,
        linkText: 'Open the edit',
      };
    default:
      return { n, text: `${n.kind} about ${pfa}`, href: editHref, linkText: 'Open' };
  }
}

export function NotificationsPage(props: {
  view: View;
  items: NotificationView[];
  unread: number;
  unreadOnly: boolean;
}): JSX.Element {
  const { view } = props;
  const csrf = view.viewer?.csrfToken ?? '';
  return (
    <Layout view={view} title="Notifications" active="notifications">
      <h1>Notifications</h1>
      <p safe>{`${props.unread} unread.`}</p>
      <p>
        {props.unreadOnly ? (
          <a href="/console/notifications">Show all</a>
        ) : (
          <a href="/console/notifications?unread=1">Show unread only</a>
        )}
      </p>
      {props.unread > 0 ? (
        <form method="post" action="/console/notifications/read-all">
          <input type="hidden" name="_csrf" value={csrf} />
          <button type="submit" class="button small">
            Mark all read
          </button>
        </form>
      ) : (
        ''
      )}
      {props.items.length === 0 ? (
        <p class="notice notice-info">{props.unreadOnly ? 'Nothing unread.' : 'No notifications yet.'}</p>
      ) : (
        <ul class="notifications" hx-disable>
          {props.items.map((i) => (
            <li id={`notification-${i.n.id}`} data-read={String(i.n.readAt !== null)}>
              <Time at={new Date(i.n.createdAt)} view={view} /> <span safe>{i.text}</span>{' '}
              {i.href ? (
                <a href={i.href} safe>
                  {i.linkText}
                </a>
              ) : (
                ''
              )}
              {i.n.readAt === null ? (
                <form method="post" action={`/console/notifications/${i.n.id}/read`} class="inline">
                  <input type="hidden" name="_csrf" value={csrf} />
                  <button type="submit" class="button small" aria-label={`Mark read: ${i.text}`}>
                    Mark read
                  </button>
                </form>
              ) : (
                <span class="why"> (read)</span>
              )}
            </li>
          ))}
        </ul>
      )}
    </Layout>
  );
}
