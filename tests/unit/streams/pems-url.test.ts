import { checkPemsUrl, hostAllowed } from '../../../streams/pems-url';

describe('PEMS URL policy', () => {
  const strict = { allowInsecureHttp: false, allowedHosts: ['pems.example.com', '*.eam.example.com'] };

  it.each([
    ['https://pems.example.com/api/pems', true],
    ['https://PEMS.example.com:8443/api', true],
    ['https://rio.eam.example.com/api', true],
    ['https://eam.example.com/api', false],
    ['https://evil.example.com/api', false],
    ['https://pems.example.com.evil.net/api', false],
    ['https://xeam.example.com/api', false],
  ])('when the URL is %s, then allowed is %p', (url, ok) => {
    const v = checkPemsUrl(url, strict);
    expect(v.ok).toBe(ok);
    if (!v.ok) expect(v).toMatchObject({ setting: 'pems.allowedHosts' });
  });

  it('when the URL is http:// and insecure http is off, then it is refused naming pems.allowInsecureHttp', () => {
    expect(checkPemsUrl('http://pems.example.com/api', strict)).toMatchObject({
      ok: false,
      setting: 'pems.allowInsecureHttp',
    });
    expect(checkPemsUrl('http://pems.example.com/api', { ...strict, allowInsecureHttp: true }).ok).toBe(true);
  });

  it('when the URL carries a user or is not a URL or not http(s), then it is refused naming the base URL', () => {
    expect(checkPemsUrl('https://u:p@pems.example.com/api', strict)).toMatchObject({
      ok: false,
      setting: 'pems_base_url',
    });
    expect(checkPemsUrl('not a url', strict)).toMatchObject({ ok: false, setting: 'pems_base_url' });
    expect(checkPemsUrl('ftp://pems.example.com/', strict)).toMatchObject({ ok: false, setting: 'pems_base_url' });
  });

  it('when the allowlist is empty, then any https host is allowed', () => {
    expect(checkPemsUrl('https://anything.example.org/api', { allowInsecureHttp: false, allowedHosts: [] }).ok).toBe(
      true,
    );
  });

  it('when an IPv6 literal is listed, then it matches with or without brackets', () => {
    expect(hostAllowed('[::1]', ['::1'])).toBe(true);
    expect(checkPemsUrl('https://[::1]:8443/api', { allowInsecureHttp: false, allowedHosts: ['::1'] }).ok).toBe(true);
  });
});
