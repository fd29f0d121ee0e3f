/**
 * `npm run bench:console:sse` — the console's live stream against the sink: does a crowd of open
 * status tabs raise the sink's commit→PEMS p50? (issue 14: 200 tabs, at most +10 %.)
 *
 * Through the real stack: the sink is its own process (as in production), the control API with
 * the console runs in this process against the same Postgres, the PEMS simulator answers. Users
 * commit edits at a steady rate in phases of SSE_PHASE_S seconds, alternating without streams and
 * with SSE_TABS tabs open: none, tabs, none, tabs (each side twice: the machine is shared and
 * noisy). A "tab" is what a browser tab on the status page holds open: the status stream
 * (/console/status/live) and the unread-count stream (/console/notifications/live), both plain
 * HTTP event streams read to the end like EventSource does (real Chromium tabs would not fit on
 * two shared cores). Each phase's p50 is over the edits committed in that phase.
 * Writes reports/console-sse.json. Measures; asserts nothing.
 *
 *   SSE_TABS=200 SSE_PHASE_S=60 SSE_USERS=20 SSE_THINK_S=4 SSE_LIVE_INTERVAL_MS=3000
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { request, type ClientRequest } from 'node:http';
import { mintToken } from '../../connectors/cli/users';
import { buildControlApi } from '../../connectors/control-api/server';
import { loadConfig } from '../../schemas/config';
import { buildSink, setupOrg, spawnSink, waitTerminal } from './setup';

const env = (k: string, d: number): number => Number(process.env[k] ?? d);
const TABS = env('SSE_TABS', 200);
const PHASE_S = env('SSE_PHASE_S', 60);
const USERS = env('SSE_USERS', 20);
const THINK_S = env('SSE_THINK_S', 4);
const LIVE_INTERVAL_MS = env('SSE_LIVE_INTERVAL_MS', 3000);
const OUT = process.env.SSE_OUT ?? 'reports/console-sse.json';
const SECRET = 'console-sse-bench-secret-0123456789abcdef';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Phase {
  phase: string;
  tabs: number;
  committed: number;
  synced: number;
  p50Seconds: number;
  p95Seconds: number;
  /** Status events the open tabs received during the phase (0 without tabs). */
  statusEvents: number;
}

async function main(): Promise<void> {
  buildSink(); // the sink runs compiled, as deployed (setup.ts spawnSink)
  const b = await setupOrg({ records: 1000, rateLimit: 10, users: USERS, prefix: 'SSE' });
  const config = loadConfig(process.env, {
    controlApi: { jwtSecret: SECRET },
    log: { level: 'silent' },
    console: { secureCookies: false, liveIntervalMs: LIVE_INTERVAL_MS },
    pems: { credentialKeys: b.keys, caFile: b.caFile },
  });
  const app = buildControlApi({ db: b.db, config, logger: false });
  const url = new URL(await app.listen({ host: '127.0.0.1', port: 0 }));
  const token = await mintToken(SECRET, b.users[0]!, 7200, {
    issuer: config.controlApi.jwtIssuer,
    audience: config.controlApi.jwtAudience,
  });
  const signInPage = await fetch(`${url.origin}/console/sign-in`);
  const pre = signInPage.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await signInPage.text())![1]!;
  const signedIn = await fetch(`${url.origin}/console/sign-in`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: pre, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: csrf, token }).toString(),
  });
  const cookie = signedIn.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  if (!cookie.includes('pems_console_session=')) throw new Error(`sign-in failed: ${signedIn.status}`);

  const sink = spawnSink(b);
  await sleep(3000); // the sink joins its group

  let statusEvents = 0;
  const open: ClientRequest[] = [];
  const openStream = (path: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const req = request(
        { host: url.hostname, port: url.port, path, headers: { cookie, accept: 'text/event-stream' }, agent: false },
        (res) => {
          if (res.statusCode !== 200) return reject(new Error(`${path} answered ${res.statusCode}`));
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            statusEvents += chunk.split('event: status\n').length - 1;
          });
          res.on('error', () => undefined);
          resolve();
        },
      );
      req.on('error', (err) => (open.includes(req) ? undefined : reject(err)));
      req.end();
      open.push(req);
    });
  const openTabs = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) {
      await openStream(`/console/status/live?organization=${b.org}`);
      await openStream('/console/notifications/live');
    }
  };
  const closeTabs = (): void => {
    for (const r of open.splice(0)) r.destroy();
  };

  let committedTotal = 0;
  const runPhase = async (name: string, tabs: number): Promise<Phase> => {
    if (tabs > 0) await openTabs(tabs);
    await sleep(2 * LIVE_INTERVAL_MS); // the streams are in their steady rhythm
    const eventsBefore = statusEvents;
    const ids: string[] = [];
    const until = Date.now() + PHASE_S * 1000;
    const userLoop = async (u: string, i: number): Promise<void> => {
      while (Date.now() < until) {
        await sleep(-Math.log(1 - Math.random()) * THINK_S * 1000);
        if (Date.now() >= until) return;
        const r = b.records[(i * 37 + Math.floor(Math.random() * 40)) % b.records.length]!;
        const mirror = await b.db('pfa_mirror').where({ organization_id: b.org, pfa_id: r.pfaId }).first('version');
        const [row] = await b.db('pfa_modification').insert(
          {
            organization_id: b.org,
            pfa_id: r.pfaId,
            user_id: u,
            delta: JSON.stringify({ notes: `${name} ${u} ${Date.now()}` }),
            base_version: mirror.version,
            sync_status: 'committed',
            committed_at: new Date(),
          },
          ['id'],
        );
        ids.push(row.id);
      }
    };
    await Promise.all(b.users.map((u, i) => userLoop(u, i)));
    committedTotal += ids.length;
    await waitTerminal(b, committedTotal, 600_000);
    const events = statusEvents - eventsBefore;
    closeTabs();
    const lat = await b.db.raw(
      `SELECT percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY extract(epoch FROM synced_at - committed_at)) AS p, count(*)::int AS n
         FROM pfa_modification WHERE id = ANY(?::uuid[]) AND sync_status = 'synced'`,
      [ids],
    );
    const p = (lat.rows[0].p ?? [NaN, NaN]) as number[];
    const phase: Phase = {
      phase: name,
      tabs,
      committed: ids.length,
      synced: lat.rows[0].n,
      p50Seconds: Number(Number(p[0]).toFixed(3)),
      p95Seconds: Number(Number(p[1]).toFixed(3)),
      statusEvents: events,
    };
    console.log(
      `${name.padEnd(12)} tabs ${String(tabs).padStart(3)}  committed ${phase.committed}  synced ${phase.synced}  commit→PEMS p50 ${phase.p50Seconds} s  p95 ${phase.p95Seconds} s  status events ${events}`,
    );
    await sleep(2000);
    return phase;
  };

  const phases: Phase[] = [];
  phases.push(await runPhase('none #1', 0));
  phases.push(await runPhase('tabs #1', TABS));
  phases.push(await runPhase('none #2', 0));
  phases.push(await runPhase('tabs #2', TABS));
  await sink.stop();
  await app.close();
  await b.close();

  const mean = (xs: number[]): number => xs.reduce((a, x) => a + x, 0) / xs.length;
  const without = mean(phases.filter((p) => p.tabs === 0).map((p) => p.p50Seconds));
  const withTabs = mean(phases.filter((p) => p.tabs > 0).map((p) => p.p50Seconds));
  const change = (withTabs / without - 1) * 100;
  console.log(
    `commit→PEMS p50: without tabs ${without.toFixed(3)} s (mean of 2), with ${TABS} tabs ${withTabs.toFixed(3)} s (mean of 2): ${change >= 0 ? '+' : ''}${change.toFixed(1)} % (goal ≤ +10 %)`,
  );
  mkdirSync('reports', { recursive: true });
  writeFileSync(
    OUT,
    JSON.stringify(
      {
        at: new Date().toISOString(),
        tabs: TABS,
        streamsPerTab: 2,
        phaseSeconds: PHASE_S,
        users: USERS,
        thinkSeconds: THINK_S,
        liveIntervalMs: LIVE_INTERVAL_MS,
        phases,
        p50WithoutSeconds: without,
        p50WithSeconds: withTabs,
        changePercent: Number(change.toFixed(1)),
      },
      null,
      2,
    ),
  );
  console.log(`written to ${OUT}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
