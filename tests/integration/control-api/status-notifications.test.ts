import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { credentialKeys } from '../../support/fixtures';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPemsSimulator, type PemsSimulator } from '../../../connectors/pems-simulator';
import { WebhookDispatcher } from '../../../connectors/control-api/webhooks';
import { testEnv } from '../../support/env';
import { testKafka } from '../../support/kafka';
import { call, createOrg, harness, type Harness, type TestOrg } from './harness';
import { encryptCredential, parseCredentialKeys } from '../../../connectors/pems';

const TEST_CREDENTIAL_KEYS = credentialKeys('s1');

describe('control API: status, notifications, webhooks, OpenAPI', () => {
  let h: Harness;
  let org: TestOrg;
  let other: TestOrg;
  let sim: PemsSimulator;

  beforeAll(async () => {
    // The simulator first: its URL goes into the organization row, its certificate into pems.caFile.
    const dir = mkdtempSync(join(tmpdir(), 'control-api-'));
    sim = await startPemsSimulator({
      port: 0,
      credentials: [{ organization: 'STATUSORG', apiKey: 'k', tenant: 'T' }],
      rateLimitPerSecond: 0,
    });
    writeFileSync(join(dir, 'ca.pem'), sim.cert!);
    h = await harness({
      kafka: testKafka('control-api-status-test'),
      config: {
        pems: { caFile: join(dir, 'ca.pem'), credentialKeys: TEST_CREDENTIAL_KEYS },
        topics: { cdc: testEnv.cdcTopic },
      },
    });
    org = await createOrg(h.db, 'STAT', { pems_base_url: sim.url });
    other = await createOrg(h.db, 'STATX', { pems_base_url: 'https://127.0.0.1:1/api/pems' });
    // A usable organization has a credential that decrypts for it (else /status says misconfigured).
    const ring = parseCredentialKeys(h.config.pems.credentialKeys);
    for (const o of [org, other])
      await h
        .db('organization')
        .where({ id: o.id })
        .update({ pems_credential_encrypted: encryptCredential('k', ring, o.id) });
  });
  afterAll(async () => {
    await h.close();
    await sim.close();
  });

  it('when status is asked for, then counts by status, last success, p50/p95 latency over the last hour, PEMS health and consumer lag', async () => {
    const now = Date.now();
    const mod = (status: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
      organization_id: org.id,
      pfa_id: 'PFA-S',
      user_id: org.syncer,
      delta: '{}',
      base_version: 1,
      sync_status: status,
      ...extra,
    });
    // Five synced in the last hour with latencies 1..5 s, one synced long ago (not in the window).
    const rows = [1, 2, 3, 4, 5].map((s) =>
      mod('synced', { committed_at: new Date(now - 60_000), synced_at: new Date(now - 60_000 + s * 1000) }),
    );
    rows.push(
      mod('synced', { committed_at: new Date(now - 3 * 3600_000), synced_at: new Date(now - 3 * 3600_000 + 100_000) }),
    );
    rows.push(
      mod('committed'),
      mod('queued'),
      mod('syncing'),
      mod('failed'),
      mod('rejected'),
      mod('conflict'),
      mod('draft'),
    );
    const ids = await h.db('pfa_modification').insert(rows).returning('id');
    await h.db('sync_conflict').insert({
      organization_id: org.id,
      pfa_id: 'PFA-S',
      modification_id: ids[11].id,
      base_version: 1,
      pems_version: 2,
      fields: '[]',
    });
    await h.db('dead_letter').insert({
      organization_id: org.id,
      source_topic: `t-${org.id}`,
      source_partition: 0,
      source_offset: 1,
      reason: 'r',
      error_code: 'E',
    });

    const res = await call(h, org.reader, 'GET', `/status?organization=${org.id}`);
    expect(res.statusCode).toBe(200);
    const s = res.json();
    expect(s.counts).toEqual({
      queued: 2,
      inFlight: 1,
      synced: 6,
      failed: 1,
      rejected: 1,
      conflictsOpen: 1,
      deadLettersOpen: 1,
    });
    expect(Date.parse(s.lastSuccessAt)).toBe(now - 60_000 + 5000);
    expect(s.latencyLastHour.samples).toBe(5);
    expect(s.latencyLastHour.p50Seconds).toBeCloseTo(3, 3);
    expect(s.latencyLastHour.p95Seconds).toBeCloseTo(4.8, 3);
    expect(s.pemsHealth).toMatchObject({ status: 'up', httpStatus: 200 });
    expect(s.consumerLag).toMatchObject({ status: 'ok', groupId: h.config.kafka.groupId, topic: testEnv.cdcTopic });
    expect(typeof s.consumerLag.total).toBe('number');
    expect(s.consumerLag.partitions.length).toBeGreaterThan(0);

    const down = await call(h, other.reader, 'GET', `/status?organization=${other.id}`);
    expect(down.json().pemsHealth.status).toBe('down');
    expect((await call(h, other.reader, 'GET', `/status?organization=${org.id}`)).statusCode).toBe(404);
  });

  it("when a user reads their notifications and marks one read, then only their own rows, and another user's row is a 404", async () => {
    const [mine1, mine2, theirs] = await h
      .db('notification')
      .insert([
        { organization_id: org.id, user_id: org.syncer, kind: 'conflict', payload: JSON.stringify({ pfaId: 'PFA-1' }) },
        { organization_id: org.id, user_id: org.syncer, kind: 'failed', payload: JSON.stringify({ pfaId: 'PFA-2' }) },
        { organization_id: org.id, user_id: org.reader, kind: 'conflict', payload: '{}' },
      ])
      .returning('id');
    const list = await call(h, org.syncer, 'GET', '/notifications?unread=true');
    expect(list.json().items.map((n: { id: string }) => n.id)).toEqual([String(mine2.id), String(mine1.id)]);
    const read = await call(h, org.syncer, 'POST', `/notifications/${mine1.id}/read`);
    expect(read.statusCode).toBe(200);
    expect(read.json().readAt).not.toBeNull();
    expect((await call(h, org.syncer, 'POST', `/notifications/${theirs.id}/read`)).statusCode).toBe(404);
    expect(
      (await call(h, org.syncer, 'GET', '/notifications?unread=true')).json().items.map((n: { id: string }) => n.id),
    ).toEqual([String(mine2.id)]);
    expect((await call(h, org.syncer, 'POST', '/notifications/read-all')).json()).toEqual({ marked: 1 });
    expect(await h.db('notification').where({ id: theirs.id }).first()).toMatchObject({ read_at: null });
  });

  it('when operator notifications are due, then the dispatcher posts Slack-compatible JSON, retries a failing webhook with backoff, and records delivery', async () => {
    const received: Array<{ text: string; blocks?: unknown[] }> = [];
    let fail = 1;
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        if (fail > 0) {
          fail -= 1;
          res.writeHead(503).end();
          return;
        }
        received.push(JSON.parse(body));
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;
    const [dl, unreachable, userRow] = await h
      .db('notification')
      .insert([
        {
          organization_id: org.id,
          user_id: null,
          kind: 'dead_letter',
          payload: JSON.stringify({
            pfaId: 'PFA-9',
            errorCode: 'PEMS_SYNC_PEMS_REJECTED',
            reason: 'forecastEnd before forecastStart',
          }),
        },
        {
          organization_id: org.id,
          user_id: null,
          kind: 'pems_unreachable',
          payload: JSON.stringify({ reason: '5 consecutive failures' }),
        },
        { organization_id: org.id, user_id: org.syncer, kind: 'failed', payload: '{}' },
      ])
      .returning('id');
    const dispatcher = new WebhookDispatcher({
      db: h.db,
      urls: [url],
      organizationIds: [org.id],
      backoff: { delaysMs: [50], jitter: 0 },
      timeoutMs: 2000,
    });
    try {
      expect(await dispatcher.pollOnce()).toEqual({ delivered: 1, failed: 1 });
      const first = await h.db('notification').where({ id: dl.id }).first();
      expect(first).toMatchObject({ delivered_at: null, delivery_attempts: 1, last_delivery_error: 'HTTP 503' });
      expect(await dispatcher.pollOnce()).toEqual({ delivered: 0, failed: 0 }); // backoff not over yet
      await new Promise((r) => setTimeout(r, 120));
      expect(await dispatcher.pollOnce()).toEqual({ delivered: 1, failed: 0 });
    } finally {
      await dispatcher.close();
      await new Promise((r) => server.close(r));
    }
    const rows = await h.db('notification').whereIn('id', [dl.id, unreachable.id, userRow.id]).orderBy('id');
    expect(rows[0]).toMatchObject({ delivery_attempts: 2, last_delivery_error: null });
    expect(rows[0].delivered_at).not.toBeNull();
    expect(rows[1]).toMatchObject({ delivery_attempts: 1 });
    expect(rows[1].delivered_at).not.toBeNull();
    expect(rows[2]).toMatchObject({ delivered_at: null, delivery_attempts: 0 });
    expect(received.map((m) => m.text).sort()).toEqual([
      `pems-sync: PEMS is unreachable for ${org.id} — 5 consecutive failures`,
      `pems-sync: new dead letter in ${org.id}: PFA PFA-9 (PEMS_SYNC_PEMS_REJECTED) — forecastEnd before forecastStart`,
    ]);
    expect(received[0]!.blocks).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'section' })]));
  });

  it('when /openapi.json is fetched, then it is the document kept in the repository', async () => {
    const res = await call(h, null, 'GET', '/openapi.json');
    expect(res.statusCode).toBe(200);
    const file = JSON.parse(readFileSync(join(__dirname, '../../../schemas/openapi/control-api.json'), 'utf8'));
    expect(res.json()).toEqual(file);
    expect(Object.keys(file.paths)).toEqual(
      expect.arrayContaining([
        '/conflicts/{id}/resolve',
        '/rollbacks/{id}/approve',
        '/dead-letters/replay',
        '/audit/export',
        '/status',
        '/notifications',
      ]),
    );
  });
});
