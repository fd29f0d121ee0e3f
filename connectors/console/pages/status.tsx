/**
 * Status, per organization and overall: freshness from the oldest unsynced edit, the pipeline
 * strip (CDC lag as time ▶ sink ▶ PEMS), the last hour as charts with their tables, an honest
 * PEMS-down banner and a recovered notice. The live part (#status-live) is the same fragment
 * the SSE stream sends every console.liveIntervalMs.
 */
import { FreshnessBadge, Time } from '../components';
import { Layout } from '../layout';
import type { View } from '../session';
import type { OrgStatus, StatusSnapshot } from '../status-model';
import { clockTime, duration } from '../time';

const num = (n: number | null, digits = 1): string =>
  n === null ? 'unknown' : Number.isInteger(n) ? String(n) : n.toFixed(digits);

function edits(n: number): string {
  return n === 1 ? '1 edit is' : `${n} edits are`;
}

function Banners({ s, view }: { s: StatusSnapshot; view: View }): JSX.Element {
  return (
    <>
      {s.orgs.map((o) =>
        o.pems.status === 'down' ? (
          <div class="notice notice-error" data-banner="pems-down">
            <p safe>
              {`${o.row.organizationId}: PEMS unreachable since ${clockTime(o.pemsDownSince ?? s.at, view.timeZone)}: ` +
                (o.waiting === 0
                  ? 'no edits are waiting.'
                  : `${edits(o.waiting)} safe and queued, the oldest is ${duration(o.freshness.oldestAgeSeconds ?? 0)} old.`) +
                ' They will be sent when PEMS answers again.'}
            </p>
          </div>
        ) : o.pemsRecoveredAt ? (
          <div class="notice notice-ok" data-banner="pems-recovered">
            <p safe>
              {`${o.row.organizationId}: PEMS is reachable again since ${clockTime(o.pemsRecoveredAt, view.timeZone)}; ` +
                (o.waiting === 0 ? 'nothing is waiting any more.' : `${edits(o.waiting)} still on their way.`)}
            </p>
          </div>
        ) : (
          ''
        ),
      )}
    </>
  );
}

function PemsCell({ o, s }: { o: OrgStatus; s: StatusSnapshot }): JSX.Element {
  const h = o.pems;
  const word = h.status;
  const detail =
    h.status === 'misconfigured'
      ? `${h.reason ?? ''}${h.setting ? ` (setting: ${h.setting})` : ''}`
      : `${h.httpStatus !== undefined ? `HTTP ${h.httpStatus}` : (h.reason ?? '')}${h.latencyMs !== undefined ? `, ${h.latencyMs} ms` : ''}`;
  const rps = s.sink.pemsRequestsPerSecond;
  return (
    <div class="stage">
      <h4>PEMS</h4>
      <p class={`pems-${word}`}>{word}</p>
      <dl>
        <dt>health</dt>
        <dd safe>{detail}</dd>
        <dt>requests/s</dt>
        <dd
          safe
        >{`${rps === null ? 'unknown' : rps.toFixed(1)} of ${s.rateLimitPerSecond === 0 ? 'no limit' : `${s.rateLimitPerSecond} allowed`}`}</dd>
      </dl>
    </div>
  );
}

function Strip({ o, s }: { o: OrgStatus; s: StatusSnapshot }): JSX.Element {
  const lag = s.lag;
  return (
    <div class="strip" role="group" aria-label={`Pipeline of ${o.row.organizationId}`}>
      <div class="stage">
        <h4>CDC</h4>
        <p safe>{o.cdcLagSeconds === null ? 'no backlog' : `${duration(o.cdcLagSeconds)} behind`}</p>
        <dl>
          <dt>sink group lag</dt>
          <dd safe>
            {lag.status === 'ok' ? `${lag.total ?? 0} records (all organizations)` : `unknown: ${lag.reason ?? ''}`}
          </dd>
        </dl>
      </div>
      <span class="arrow" aria-hidden="true">
        ▶
      </span>
      <div class="stage">
        <h4>Sink</h4>
        <dl>
          <dt>pending</dt>
          <dd safe>{String(o.pending)}</dd>
          <dt>in flight</dt>
          <dd safe>{String(o.inFlight)}</dd>
          <dt>rate-limit waits / min</dt>
          <dd>{s.sink.status === 'ok' ? num(s.sink.rateLimitWaitsPerMinute) : 'unknown'}</dd>
          <dt>retries scheduled / min</dt>
          <dd>{s.sink.status === 'ok' ? num(s.sink.failedAttemptsPerMinute) : 'unknown'}</dd>
        </dl>
        {s.sink.status === 'unknown' ? (
          <p class="why" safe>
            {s.sink.reason ?? ''}
          </p>
        ) : (
          ''
        )}
      </div>
      <span class="arrow" aria-hidden="true">
        ▶
      </span>
      <PemsCell o={o} s={s} />
    </div>
  );
}

function OrgCard({ o, s, view, target }: { o: OrgStatus; s: StatusSnapshot; view: View; target: number }): JSX.Element {
  const f = o.freshness;
  return (
    <section class="card org" aria-labelledby={`org-${o.row.organizationId}`} data-org={o.row.organizationId}>
      <h3 id={`org-${o.row.organizationId}`}>
        <a href={`/console/status?organization=${encodeURIComponent(o.row.organizationId)}`} safe>
          {`${o.row.organizationId} · ${o.row.name}`}
        </a>{' '}
        <FreshnessBadge state={f.state} />
      </h3>
      <p class="freshness-detail" safe>
        {f.state === 'no_edits'
          ? 'No edit has been committed yet, so there is nothing to be on time for.'
          : f.oldestAgeSeconds === null
            ? 'Every committed edit has an outcome.'
            : `The oldest edit not yet in PEMS is ${duration(f.oldestAgeSeconds)} old (target ${duration(target)}).`}
      </p>
      <p>
        {o.row.lastSyncedAt ? (
          <>
            Last edit applied in PEMS <Time at={o.row.lastSyncedAt} view={view} />.
          </>
        ) : (
          'No edit applied in PEMS yet.'
        )}
      </p>
      <Strip o={o} s={s} />
      <p class="counts" safe>
        {`In the last hour: synced ${o.lastHour.synced} · conflicts ${o.lastHour.conflict} · rejected ${o.lastHour.rejected} · failed ${o.lastHour.failed}. Open now: conflicts ${o.row.conflictsOpen} · dead letters ${o.row.deadLettersOpen}.`}
      </p>
    </section>
  );
}

function minuteLabel(d: Date, view: View): string {
  return clockTime(d, view.timeZone);
}

function Charts({ s, view }: { s: StatusSnapshot; view: View }): JSX.Element {
  const m = s.minutes;
  return (
    <section aria-labelledby="hour-h" class="charts">
      <h2 id="hour-h">The last hour</h2>
      <div class="chart-pair">
        <figure>
          <figcaption id="outcomes-cap">Outcomes per minute</figcaption>
          <div class="chart" data-chart="outcomes" data-table="outcomes-table" aria-hidden="true"></div>
          <div class="table-scroll" role="region" aria-labelledby="outcomes-cap" tabindex="0">
            <table id="outcomes-table">
              <caption>Outcomes per minute (minutes with an outcome)</caption>
              <thead>
                <tr>
                  <th scope="col">minute</th>
                  <th scope="col">synced</th>
                  <th scope="col">conflict</th>
                  <th scope="col">rejected</th>
                  <th scope="col">failed</th>
                </tr>
              </thead>
              <tbody>
                {m.length === 0 ? (
                  <tr>
                    <td colspan="5">No outcome in the last hour.</td>
                  </tr>
                ) : (
                  m.map((r) => (
                    <tr data-t={String(Math.floor(r.minute.getTime() / 1000))}>
                      <th scope="row" safe>
                        {minuteLabel(r.minute, view)}
                      </th>
                      <td safe>{String(r.synced)}</td>
                      <td safe>{String(r.conflict)}</td>
                      <td safe>{String(r.rejected)}</td>
                      <td safe>{String(r.failed)}</td>
                    </tr>
                  ))
                )}
              </tbody>
            </table>
          </div>
        </figure>
        <figure>
          <figcaption id="latency-cap">Commit → PEMS, seconds (p50 / p95)</figcaption>
          <div class="chart" data-chart="latency" data-table="latency-table" aria-hidden="true"></div>
          <div class="table-scroll" role="region" aria-labelledby="latency-cap" tabindex="0">
            <table id="latency-table">
              <caption>Commit → PEMS latency per minute, seconds</caption>
              <thead>
                <tr>
                  <th scope="col">minute</th>
                  <th scope="col">p50</th>
                  <th scope="col">p95</th>
                </tr>
              </thead>
              <tbody>
                {m.filter((r) => r.p50 !== null).length === 0 ? (
                  <tr>
                    <td colspan="3">No edit applied in PEMS in the last hour.</td>
                  </tr>
                ) : (
                  m
                    .filter((r) => r.p50 !== null)
                    .map((r) => (
                      <tr data-t={String(Math.floor(r.minute.getTime() / 1000))}>
                        <th scope="row" safe>
                          {minuteLabel(r.minute, view)}
                        </th>
                        <td safe>{num(r.p50, 2)}</td>
                        <td safe>{num(r.p95, 2)}</td>
                      </tr>
                    ))
                )}
              </tbody>
            </table>
          </div>
        </figure>
      </div>
    </section>
  );
}

/** The live fragment: what the SSE stream replaces. */
export function StatusFragment({ s, view, target }: { s: StatusSnapshot; view: View; target: number }): JSX.Element {
  const down = s.orgs.filter((o) => o.pems.status === 'down').length;
  return (
    <div class="status-live" data-updated={s.at.toISOString()} data-overall={s.overall} data-pems-down={String(down)}>
      <Banners s={s} view={view} />
      {s.orgs.length > 1 ? (
        <p class="overall">
          Overall: <FreshnessBadge state={s.overall} /> <span safe>{`across ${s.orgs.length} organizations`}</span>
        </p>
      ) : (
        ''
      )}
      {s.orgs.map((o) => (
        <OrgCard o={o} s={s} view={view} target={target} />
      ))}
      <Charts s={s} view={view} />
    </div>
  );
}

export function StatusPage(props: {
  view: View;
  s: StatusSnapshot;
  organization?: string;
  orgs: string[];
  target: number;
  liveIntervalMs: number;
}): JSX.Element {
  const { view, s } = props;
  const liveUrl = `/console/status/live${props.organization ? `?organization=${encodeURIComponent(props.organization)}` : ''}`;
  return (
    <Layout view={view} title="Status" active="status">
      <h1>
        Status
        {props.organization ? (
          <>
            {' of '}
            <span safe>{props.organization}</span>
          </>
        ) : (
          ''
        )}
      </h1>
      <form method="get" action="/console/status" class="filters">
        <label for="org-filter">Organization</label>
        <select id="org-filter" name="organization">
          <option value="" selected={!props.organization}>
            All my organizations
          </option>
          {props.orgs.map((id) => (
            <option value={id} selected={id === props.organization} safe>
              {id}
            </option>
          ))}
        </select>
        <button type="submit" class="button small">
          Show
        </button>
      </form>
      <p class="livebar" id="livebar" data-live-url={liveUrl} data-interval={String(props.liveIntervalMs)}>
        <span id="live-state">snapshot</span> · updated <span id="live-age">at load</span>
        <span class="live-controls" hidden>
          {' · '}
          <button type="button" id="live-pause" class="button small" aria-pressed="false">
            Pause
          </button>
        </span>
      </p>
      {s.orgs.length === 0 ? (
        <p class="notice notice-info">You are not a member of any organization yet, so there is no status to show.</p>
      ) : (
        ''
      )}
      <div id="status-live">
        <StatusFragment s={s} view={view} target={props.target} />
      </div>
    </Layout>
  );
}
