/**
 * A Slack-compatible incoming-webhook receiver for the local stack and docker compose:
 * Alertmanager's slack_configs (and the processes' own webhooks) POST JSON to any path; each
 * message is kept in memory and shown to tests. Plain JavaScript, no dependencies, so compose runs
 * it in the stock node image.
 *
 *   POST   /<any path>   store the JSON body; answers "ok" as Slack does (400 for a body that is not JSON)
 *   GET    /messages     [{receivedAt, path, body}], oldest first
 *   DELETE /messages     forget them
 *   GET    /healthz      200
 *
 *   node deploy/local/slack-receiver.mjs   (SLACK_RECEIVER_PORT, default 8027; SLACK_RECEIVER_HOST, default 127.0.0.1)
 */
import http from 'node:http';

const MAX_BODY = 1024 * 1024;
const MAX_MESSAGES = 10_000;
const messages = [];

function send(res, status, body, type = 'text/plain') {
  res.writeHead(status, { 'content-type': `${type}; charset=utf-8` }).end(body);
}

const server = http.createServer((req, res) => {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  if (req.method === 'GET' && path === '/healthz') return send(res, 200, 'ok');
  if (path === '/messages' && req.method === 'GET') return send(res, 200, JSON.stringify(messages), 'application/json');
  if (path === '/messages' && req.method === 'DELETE') {
    messages.length = 0;
    return send(res, 204, '');
  }
  if (req.method !== 'POST') return send(res, 405, 'method not allowed');
  const chunks = [];
  let size = 0;
  req.on('data', (c) => {
    size += c.length;
    if (size > MAX_BODY) req.destroy();
    else chunks.push(c);
  });
  req.on('end', () => {
    let body;
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

const port = Number(process.env.SLACK_RECEIVER_PORT ?? 8027);
const host = process.env.SLACK_RECEIVER_HOST ?? '127.0.0.1';
server.listen(port, host, () => process.stdout.write(`slack receiver listening on ${host}:${port}\n`));
for (const s of ['SIGTERM', 'SIGINT']) process.once(s, () => process.exit(0));
