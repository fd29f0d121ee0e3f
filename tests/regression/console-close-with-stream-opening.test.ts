/**
 * Regression: the control API's close() hung forever when a console live stream (server-sent
 * events) was still being opened as close began: the request was in its pre-handlers when the
 * preClose hook ended the open streams, then registered its own stream, which nothing ended.
 * Seen as the browser test "resumes the live stream after the control API restarts" timing out
 * at 240 s under load (the API it closed never finished closing). Here the stream's request is
 * held in an onRequest hook until close() has begun, every time.
 */
import { buildControlApi } from '../../connectors/control-api/server';
import { createDatabase } from '../../connectors/postgres/db';
import { testEnv } from '../support/env';
import { createOrg, testConfig, token } from '../integration/control-api/harness';
import { ConsoleClient } from '../integration/console/client';

describe('regression: closing the control API while a console live stream is opening', () => {
  it('ends the stream that registers after close() began, so close() returns', async () => {
    const db = createDatabase({ url: testEnv.databaseUrl, poolMax: 5, applicationName: 'console-close-test' });
    try {
      const org = await createOrg(db, 'CCLOSE');
      const app = buildControlApi({ logger: false, db, config: testConfig({ console: { secureCookies: false } }) });
      let arrived!: () => void;
      const streamArrived = new Promise<void>((r) => (arrived = r));
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      app.addHook('onRequest', async (req) => {
        if (!req.url.startsWith('/console/status/live')) return;
        arrived();
        await held;
      });
      const url = await app.listen({ host: '127.0.0.1', port: 0 });
      const c = new ConsoleClient(url);
      await c.signInWithToken(await token(org.reader));

      const ctrl = new AbortController();
      const stream = fetch(`${url}/console/status/live?organization=${org.id}`, {
        headers: { cookie: `pems_console_session=${c.cookies.get('pems_console_session')}` },
        signal: ctrl.signal,
      }).then(
        async (res) => ({ status: res.status, body: await res.text() }),
        (err: unknown) => ({ status: 0, body: String(err) }),
      );
      await streamArrived;
      const closing = app.close().then(() => 'closed' as const);
      // close() has begun (its preClose hook ran): now let the stream's request go on.
      await new Promise((r) => setTimeout(r, 200));
      release();
      const first = await Promise.race([closing, new Promise((r) => setTimeout(() => r('still open'), 10_000))]);
      ctrl.abort();
      expect(first).toBe('closed');
      // The client got an answer that ended (the stream's opening lines, then the end), not a hang.
      const answered = await stream;
      expect(answered.status).toBe(200);
      expect(answered.body).toContain('retry: 2000');
    } finally {
      await db.destroy();
    }
  }, 60_000);
});
