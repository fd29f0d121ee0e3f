/**
 * A Slack-compatible incoming-webhook receiver for the local stack: Alertmanager's slack_configs
 * (and the processes' own webhooks) POST JSON to any path; each message is kept in memory and
 * shown to tests.
 *
 *   POST   /<any path>   store the JSON body; answers "ok" as Slack does (400 for a body that is not JSON)
 *   GET    /messages     [{receivedAt, path, body}], oldest first
 *   DELETE /messages     forget them
 *   GET    /healthz      200
 *
 *   npx tsx deploy/local/slack-receiver.ts     (SLACK_RECEIVER_PORT, default 8027; 127.0.0.1 only)
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SlackMessage {
  receivedAt: string;
  path: string;
  body: unknown;
}

const MAX_BODY = 1024 * 1024;
const MAX_MESSAGES = 10_000;

export function startSlackReceiver(port: number, host = '127.0.0.1'): Promise<{ server: http.Server; port: number; messages: SlackMessage[] }> {
  const messages: SlackMessage[] = [];
  const send = (res: http.ServerResponse, status: number, body: string, type = 'text/plain'): void => {
    res.writeHead(status, { 'content-type': `${type}; charset=utf-8` }).end(body);
  };
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method === 'GET' && path === '/healthz') return send(res, 200, 'ok');
    if (path === '/messages' && req.method === 'GET') return send(res, 200, JSON.stringify(messages), 'application/json');
    if (path === '/messages' && req.method === 'DELETE') {
      messages.length = 0;
      return send(res, 204, '');
    }
    if (req.method !== 'POST') return send(res, 405, 'method not allowed');
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => {
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return send(res, 400, 'invalid_payload: the body is not JSON');
      }
      messages.push({ receivedAt: new Date().toISOString(), path, body });
      if (messages.length > MAX_MESSAGES) messages.shift();
      send(res, 200, 'ok');
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve({ server, port: (server.address() as AddressInfo).port, messages }));
  });
}

if (require.main === module) {
  const port = Number(process.env.SLACK_RECEIVER_PORT ?? 8027);
  void startSlackReceiver(port).then((r) => process.stdout.write(`slack receiver listening on 127.0.0.1:${r.port}\n`));
  for (const s of ['SIGTERM', 'SIGINT'] as const) process.once(s, () => process.exit(0));
}
