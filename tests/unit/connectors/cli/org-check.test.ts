import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PemsClient, PemsTransientError, PemsUnauthorizedError } from '../../../../connectors/pems';
import { explainPemsFailure } from '../../../../connectors/cli/org-check';

describe('org check: what it says', () => {
  it('when PEMS refuses the key, then the sentence says so and how to replace it', () => {
    const e = new PemsUnauthorizedError('GET /pfa: 401 missing or unknown bearer credential', {
      status: 401,
      error: 'UNAUTHORIZED',
    });
    expect(explainPemsFailure(e, 'RIO')).toMatch(
      /^PEMS refused the credential .*pems-sync org update RIO --credential-file/,
    );
  });

  it('when the socket failed, then the code is named and the URL is what to check; a TLS failure names the CA setting', () => {
    const refused = new PemsTransientError(
      'GET /health: connect ECONNREFUSED',
      { errorCode: 'ECONNREFUSED' },
      Object.assign(new Error('x'), { code: 'ECONNREFUSED' }),
    );
    expect(explainPemsFailure(refused, 'RIO')).toMatch(
      /could not be reached \(ECONNREFUSED\): check the host and port/,
    );
    const tls = Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    expect(explainPemsFailure(tls, 'RIO')).toMatch(
      /not trusted \(DEPTH_ZERO_SELF_SIGNED_CERT\): set PEMS_SYNC_PEMS_CA_FILE/,
    );
  });

  it('when PEMS sends rate-limit headers, then the client hands them to onResponse', async () => {
    const server = http.createServer((_req, res) => {
      res
        .writeHead(200, { 'content-type': 'application/json', 'X-RateLimit-Limit': '10', 'X-RateLimit-Remaining': '7' })
        .end('{"status":"UP"}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const seen: Array<Record<string, string>> = [];
    const c = new PemsClient({
      baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`,
      allowInsecureHttp: true,
      apiKey: 'k',
      tenant: 'T',
      organization: 'RIO',
      onResponse: (_s, h) => void seen.push(h),
    });
    try {
      await c.health();
      expect(seen[0]).toMatchObject({ 'x-ratelimit-limit': '10', 'x-ratelimit-remaining': '7' });
    } finally {
      await c.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
