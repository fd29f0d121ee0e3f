import { ConfigError } from '../../../../streams/errors';
import { PemsClient } from '../../../../connectors/pems/client';

describe('PemsClient configuration', () => {
  const base = { apiKey: 'k', tenant: 'T', organization: 'RIO' };

  it('when the base URL is http:// without allowInsecureHttp, then a ConfigError names baseUrl', () => {
    expect(() => new PemsClient({ ...base, baseUrl: 'http://pems.example.com/api/pems' })).toThrow(
      expect.objectContaining({ code: 'PEMS_SYNC_CONFIG_INVALID', key: 'baseUrl' }),
    );
  });

  it('when allowInsecureHttp is set, then http:// is accepted', async () => {
    const c = new PemsClient({ ...base, baseUrl: 'http://127.0.0.1:1/api/pems', allowInsecureHttp: true });
    await c.close();
  });

  it.each([
    ['baseUrl', { baseUrl: 'not a url' }],
    ['tenant', { baseUrl: 'https://x/api/pems', tenant: '' }],
    ['apiKey', { baseUrl: 'https://x/api/pems', apiKey: '' }],
    ['timeoutMs', { baseUrl: 'https://x/api/pems', timeoutMs: 0 }],
  ])('when %s is invalid, then a ConfigError names it', (key, patch) => {
    let thrown: unknown;
    try {
      new PemsClient({ ...base, ...(patch as { baseUrl: string }) });
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as ConfigError).key).toBe(key);
  });
});
