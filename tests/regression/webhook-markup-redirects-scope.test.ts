/**
 * Regression (issue 13, item 9): Slack markup in PFA ids and reasons (`<!channel>`, links) was
 * delivered raw, the dispatcher followed redirects (a 307 had the body re-posted wherever it
 * pointed), and every URL received every organization's notifications. Now values are escaped,
 * a 3xx is a failed delivery that is never followed, and `ORG=url` receives only ORG's.
 */
import http from 'node:http';
import { WebhookDispatcher } from '../../connectors/control-api/webhooks';
import { createOrg, harness, type Harness, type TestOrg } from '../integration/control-api/harness';

interface Receiver {
  url: string;
  bodies: string[];
  close(): Promise<void>;
}

async function receiver(
  answer: (req: http.IncomingMessage, res: http.ServerResponse) => void = (_q, r) => r.writeHead(200).end('ok'),
): Promise<Receiver> {
  const bodies: string[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      bodies.push(body);
      answer(req, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`,
    bodies,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

describe('regression: webhooks escape Slack markup, never follow redirects, and stay in their organization', () => {
  let h: Harness;
  let a: TestOrg;
  let b: TestOrg;

  beforeAll(async () => {
    h = await harness();
    a = await createOrg(h.db, 'HOOKA');
    b = await createOrg(h.db, 'HOOKB');
  });
  afterAll(async () => {
    await h.close();
  });

  it('when a dead letter names <!channel> and a link, a URL redirects, and two organizations have their own URLs, then each gets its own escaped text and the redirect target gets nothing', async () => {
    const elsewhere = await receiver();
    const redirector = await receiver((_q, r) => r.writeHead(307, { location: elsewhere.url }).end());
    const hookA = await receiver();
    const hookB = await receiver();
    try {
      const [na, nb] = await h
        .db('notification')
        .insert([
          {
            organization_id: a.id,
            user_id: null,
            kind: 'dead_letter',
            payload: JSON.stringify({
              pfaId: '<!channel> PFA-1',
              errorCode: 'E',
              reason: 'see <https://evil.example|the fix> & <@U123>',
            }),
          },
          {
            organization_id: b.id,
            user_id: null,
            kind: 'dead_letter',
            payload: JSON.stringify({ pfaId: 'PFA-B', errorCode: 'E', reason: 'confidential to B' }),
          },
        ])
        .returning('id');
      const dispatcher = new WebhookDispatcher({
        db: h.db,
        urls: [`${a.id}=${hookA.url}`, `${b.id}=${hookB.url}`, `${b.id}=${redirector.url}`],
        organizationIds: [a.id, b.id],
        backoff: { delaysMs: [60_000], jitter: 0 },
        timeoutMs: 2000,
      });
      try {
        expect(await dispatcher.pollOnce()).toEqual({ delivered: 1, failed: 1 });
      } finally {
        await dispatcher.close();
      }
      // Escaped: the markup is shown as text, nothing pings the channel or hides a link.
      expect(hookA.bodies).toHaveLength(1);
      const text = JSON.parse(hookA.bodies[0]!).text as string;
      expect(text).toBe(
        `pems-sync: new dead letter in ${a.id}: PFA &lt;!channel&gt; PFA-1 (E) — see &lt;https://evil.example|the fix&gt; &amp; &lt;@U123&gt;`,
      );
      expect(hookA.bodies[0]).not.toMatch(/<!channel>|<https:|<@U/);
      // Scoped: A's URL saw nothing of B; B's saw nothing of A.
      expect(hookA.bodies[0]).not.toContain('confidential to B');
      expect(hookB.bodies.map((x) => JSON.parse(x).text)).toEqual([
        `pems-sync: new dead letter in ${b.id}: PFA PFA-B (E) — confidential to B`,
      ]);
      // The redirect was answered, not followed: the body never reached where it pointed.
      expect(redirector.bodies).toHaveLength(1);
      expect(elsewhere.bodies).toEqual([]);
      expect(await h.db('notification').where({ id: nb.id }).first()).toMatchObject({
        delivered_at: null,
        last_delivery_error: 'HTTP 307 (redirects are not followed)',
      });
      expect((await h.db('notification').where({ id: na.id }).first()).delivered_at).not.toBeNull();
    } finally {
      await Promise.all([elsewhere, redirector, hookA, hookB].map((r) => r.close()));
    }
  });
});
