/**
 * Audit: filters in the URL, paging, export of exactly what is filtered (CSV / NDJSON), and a chain
 * check that names the first broken entry.
 */
import type { AuditRow, ChainCheck } from '../../postgres/audit-query';
import { Time } from '../components';
import { Layout } from '../layout';
import type { View } from '../session';

export interface AuditFilters {
  organization?: string;
  pfa?: string;
  actor?: string;
  event?: string;
  from?: string;
  to?: string;
}

export function filterQuery(f: AuditFilters, extra: Record<string, string> = {}): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(f)) if (typeof v === 'string' && v !== '') p.set(k, v);
  for (const [k, v] of Object.entries(extra)) p.set(k, v);
  return p.toString();
}

function Field(props: {
  id: string;
  name: keyof AuditFilters;
  label: string;
  f: AuditFilters;
  type?: string;
  hint?: string;
}): JSX.Element {
  return (
    <span class="field">
      <label for={props.id} safe>
        {props.label}
      </label>{' '}
      <input
        id={props.id}
        name={props.name}
        type={props.type ?? 'text'}
        value={props.f[props.name] ?? ''}
        maxlength="200"
        size="14"
      />
    </span>
  );
}

const PROBLEM_WORDS: Record<NonNullable<ChainCheck['firstBroken']>['problem'], string> = {
  hash_mismatch: 'its content does not match its hash',
  prev_hash_mismatch: 'it does not link to the entry before it',
  mac_mismatch: 'its keyed signature does not match its content',
  unsigned_entry: 'it carries no keyed signature after signed entries',
  unknown_key: 'it is signed with a key this service does not hold',
};

/** Why a chain does not verify, in words: the first broken entry, else the head, the checkpoint or an empty chain. */
export function brokenWords(check: ChainCheck & { checkpoint?: { lastId: string; holds: boolean } | null }): string {
  const chain = `The chain of ${check.organizationId} is broken.`;
  const first = check.firstBroken ?? check.keyed?.firstBroken ?? null;
  if (first) return `${chain} First broken entry: ${first.id} at ${first.createdAt} (${PROBLEM_WORDS[first.problem]}).`;
  if (check.checkpoint && !check.checkpoint.holds)
    return `${chain} The signed checkpoint kept outside the database names entry ${check.checkpoint.lastId}, which is gone or changed: entries were removed from the end.`;
  if (check.keyed && !check.keyed.headValid)
    return `${chain} Its signed head does not name the last entry: entries were removed from the end.`;
  if (!check.headMatches) return `${chain} Its head does not match the last entry: entries may be missing at the end.`;
  if (check.empty)
    return `The chain of ${check.organizationId} has no entries and no head: there is nothing that verifies.`;
  return chain;
}

export function AuditPage(props: {
  view: View;
  f: AuditFilters;
  items: AuditRow[];
  orgs: string[];
  nextHref?: string;
  check?: ChainCheck & { checkpoint?: { lastId: string; holds: boolean } | null };
}): JSX.Element {
  const { view, f } = props;
  return (
    <Layout view={view} title="Audit" active="audit">
      <h1>Audit</h1>
      <form method="get" action="/console/audit" class="filters">
        <label for="a-org">Organization</label>
        <select id="a-org" name="organization">
          <option value="" selected={!f.organization}>
            all mine
          </option>
          {props.orgs.map((o) => (
            <option value={o} selected={o === f.organization} safe>
              {o}
            </option>
          ))}
        </select>
        <Field id="a-pfa" name="pfa" label="PFA" f={f} />
        <Field id="a-actor" name="actor" label="Actor" f={f} />
        <Field id="a-event" name="event" label="Event type" f={f} />
        <Field id="a-from" name="from" label="From (day, UTC)" f={f} type="date" />
        <Field id="a-to" name="to" label="To (day, UTC, inclusive)" f={f} type="date" />
        <button type="submit" class="button small">
          Filter
        </button>
      </form>
      <p>
        Export exactly these entries: <a href={`/console/audit/export?${filterQuery(f, { format: 'csv' })}`}>CSV</a> ·{' '}
        <a href={`/console/audit/export?${filterQuery(f, { format: 'ndjson' })}`}>NDJSON</a>
      </p>
      {f.organization ? (
        <form method="get" action="/console/audit/verify" class="filters">
          <input type="hidden" name="organization" value={f.organization} />
          <button type="submit" class="button small">
            Verify the chain of <span safe>{f.organization}</span>
          </button>
        </form>
      ) : (
        <p class="why">Choose an organization to verify its hash chain.</p>
      )}
      {props.check ? (
        props.check.ok ? (
          <p
            class="notice notice-ok"
            role="status"
            safe
          >{`The chain of ${props.check.organizationId} holds: ${props.check.entries} entries checked${props.check.headMatches ? ', and the chain head matches the last entry' : ', but the chain head does not match the last entry (entries may be missing at the end)'}.`}</p>
        ) : (
          <div class="notice notice-error" role="alert">
            <p safe>{brokenWords(props.check)}</p>
          </div>
        )
      ) : (
        ''
      )}
      {props.items.length === 0 ? (
        <p class="notice notice-info">No audit entry matches these filters.</p>
      ) : (
        <table class="audit">
          <caption>Audit entries, newest first</caption>
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">when</th>
              <th scope="col">event</th>
              <th scope="col">actor</th>
              <th scope="col">PFA</th>
              <th scope="col">details</th>
            </tr>
          </thead>
          <tbody hx-disable>
            {props.items.map((a) => (
              <tr id={`audit-${a.id}`}>
                <th scope="row" safe>
                  {a.id}
                </th>
                <td>
                  <Time at={new Date(a.createdAt)} view={view} />
                </td>
                <td safe>{a.eventType}</td>
                <td safe>{a.actor}</td>
                <td>
                  {a.pfaId ? (
                    <a
                      href={`/console/records/${encodeURIComponent(a.organizationId)}/${encodeURIComponent(a.pfaId)}`}
                      safe
                    >
                      {a.pfaId}
                    </a>
                  ) : (
                    ''
                  )}
                </td>
                <td>
                  <code safe>{JSON.stringify(a.details)}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {props.nextHref ? (
        <p>
          <a href={props.nextHref} rel="next">
            Older entries
          </a>
        </p>
      ) : (
        ''
      )}
    </Layout>
  );
}
