/**
 * Regression (issue 13, item 8): GET /status returned PEMS connection errors as they came
 * (ECONNREFUSED vs a timeout, for any URL an organization row held): a port oracle for any
 * reader. Readers now get a summarized state: up, down with a reason naming no address, or
 * misconfigured naming the setting (a host outside pems.allowedHosts is never contacted).
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { encryptCredential, parseCredentialKeys } from '../../connectors/pems';
import { call, createOrg, harness, type Harness } from '../integration/control-api/harness';

describe('regression: /status summarizes the PEMS state for readers', () => {
  let h: Harness;
  let probe: http.Server;
  let probed = 0;
  const keys = `st:${randomBytes(32).toString('base64')}`;

  beforeAll(async () => {
    // A plain listener standing for "some internal service": /status must never call it.
    probe = http.createServer((_req, res) => {
      probed += 1;
      res.end('ok');
    });
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    h = await harness({ config: { pems: { credentialKeys: keys, allowedHosts: ['pems.invalid'] } } });
  });
  afterAll(async () => {
    await h.close();
    await new Promise<void>((r) => probe.close(() => r()));
  });

  it('when an organization points at a host outside the allowlist, then status says misconfigured (pems.allowedHosts) and nothing is contacted', async () => {
    const port = (probe.address() as AddressInfo).port;
    const org = await createOrg(h.db, 'PORTO', { pems_base_url: `https://127.0.0.1:${port}/api/pems` });
    await h
      .db('organization')
      .where({ id: org.id })
      .update({ pems_credential_encrypted: encryptCredential('k', parseCredentialKeys(keys), org.id) });
    const res = await call(h, org.reader, 'GET', `/status?organization=${org.id}`);
    expect(res.statusCode).toBe(200);
    expect(res.json().pemsHealth).toMatchObject({ status: 'misconfigured', setting: 'pems.allowedHosts' });
    expect(probed).toBe(0);
  });

  it('when PEMS refuses connections, then the reason is one sentence without the error code or the address', async () => {
    const h2 = await harness({ config: { pems: { credentialKeys: keys } } });
    try {
      const org = await createOrg(h2.db, 'PORTD', { pems_base_url: 'https://127.0.0.1:1/api/pems' });
      await h2
        .db('organization')
        .where({ id: org.id })
        .update({ pems_credential_encrypted: encryptCredential('k', parseCredentialKeys(keys), org.id) });
      const health = (await call(h2, org.reader, 'GET', `/status?organization=${org.id}`)).json().pemsHealth;
      expect(health.status).toBe('down');
      expect(health.reason).toBe('PEMS could not be reached (no answer within the timeout, or the connection failed)');
      expect(JSON.stringify(health)).not.toMatch(/ECONN|127\.0\.0\.1|:1\b/);
    } finally {
      await h2.close();
    }
  });

  it("when the credential is another organization's ciphertext, then status says misconfigured naming the credential", async () => {
    const a = await createOrg(h.db, 'PORTA', { pems_base_url: 'https://pems.invalid/api/pems' });
    const b = await createOrg(h.db, 'PORTB', { pems_base_url: 'https://pems.invalid/api/pems' });
    await h
      .db('organization')
      .where({ id: b.id })
      .update({ pems_credential_encrypted: encryptCredential('k', parseCredentialKeys(keys), a.id) });
    const health = (await call(h, b.reader, 'GET', `/status?organization=${b.id}`)).json().pemsHealth;
    expect(health).toMatchObject({ status: 'misconfigured', setting: 'pems_credential_encrypted' });
  });
});
