/**
 * Regression (issue 13, item 6): the control API checked neither the audience nor the issuer of
 * a bearer token, accepted any lifetime, and fetched JWKS over http. Tokens are now bound to the
 * configured issuer and audience (required in production), refused past a maximum age by `iat`,
 * and a JWKS URL must be https.
 */
import { SignJWT } from 'jose';
import { createTokenVerifier } from '../../connectors/control-api/auth';
import { ConfigError } from '../../streams/errors';
import { JWT_SECRET, call, createOrg, harness, type Harness, type TestOrg } from '../integration/control-api/harness';

const ISSUER = 'https://idp.example.test/realms/vanguard';
const AUDIENCE = 'pems-sync-control-api';

async function mint(
  sub: string,
  claims: { iss?: string; aud?: string; iatAgoSec?: number | null; expInSec?: number },
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime(now + (claims.expInSec ?? 600));
  if (claims.iatAgoSec !== null) jwt.setIssuedAt(now - (claims.iatAgoSec ?? 0));
  if (claims.iss) jwt.setIssuer(claims.iss);
  if (claims.aud) jwt.setAudience(claims.aud);
  return jwt.sign(new TextEncoder().encode(JWT_SECRET));
}

describe('regression: bearer tokens are bound to issuer, audience and a maximum age', () => {
  let h: Harness;
  let org: TestOrg;

  beforeAll(async () => {
    h = await harness({ config: { controlApi: { jwtIssuer: ISSUER, jwtAudience: AUDIENCE, jwtMaxAgeSeconds: 900 } } });
    org = await createOrg(h.db, 'JWTAUD');
  });
  afterAll(async () => {
    await h.close();
  });

  const status = async (token: string): Promise<number> =>
    (await call(h, null, 'GET', `/audit?organization=${org.id}`, undefined, { authorization: `Bearer ${token}` }))
      .statusCode;

  it('when a token lacks or mismatches iss or aud, is older than the maximum age, or has no iat, then 401; the right token is served', async () => {
    const good = { iss: ISSUER, aud: AUDIENCE };
    expect(await status(await mint(org.reader, good))).toBe(200);
    expect(await status(await mint(org.reader, {}))).toBe(401);
    expect(await status(await mint(org.reader, { ...good, aud: 'some-other-service' }))).toBe(401);
    expect(await status(await mint(org.reader, { ...good, iss: 'https://evil.example.test' }))).toBe(401);
    expect(await status(await mint(org.reader, { ...good, aud: undefined }))).toBe(401);
    // A long-lived token (exp a year away) minted 2 hours ago: older than 900 s.
    expect(await status(await mint(org.reader, { ...good, iatAgoSec: 7200, expInSec: 365 * 86400 }))).toBe(401);
    expect(await status(await mint(org.reader, { ...good, iatAgoSec: null }))).toBe(401);
    const refused = await call(h, null, 'GET', '/audit', undefined, {
      authorization: `Bearer ${await mint(org.reader, { ...good, aud: 'x' })}`,
    });
    expect(refused.json().message).toMatch(/aud/);
  });

  it('when production lacks an issuer or audience, or a JWKS URL is http, then the control API does not start and the error names the key', () => {
    const base = { jwtSecret: '', jwksUrl: 'https://idp.example.test/jwks', issuer: ISSUER, audience: AUDIENCE };
    const keyOf = (f: () => unknown): string | undefined => {
      try {
        f();
      } catch (e) {
        return e instanceof ConfigError ? e.key : `not a ConfigError: ${String(e)}`;
      }
      return undefined;
    };
    expect(keyOf(() => createTokenVerifier({ ...base, environment: 'production' }))).toBeUndefined();
    expect(keyOf(() => createTokenVerifier({ ...base, issuer: '', environment: 'production' }))).toBe(
      'controlApi.jwtIssuer',
    );
    expect(keyOf(() => createTokenVerifier({ ...base, audience: '', environment: 'production' }))).toBe(
      'controlApi.jwtAudience',
    );
    expect(
      keyOf(() => createTokenVerifier({ ...base, jwksUrl: 'http://idp.example.test/jwks', environment: 'production' })),
    ).toBe('controlApi.jwksUrl');
    expect(
      keyOf(() => createTokenVerifier({ ...base, jwksUrl: 'http://127.0.0.1:8080/jwks', environment: 'production' })),
    ).toBe('controlApi.jwksUrl');
    expect(
      keyOf(() =>
        createTokenVerifier({ ...base, jwksUrl: 'http://idp.example.test/jwks', environment: 'development' }),
      ),
    ).toBe('controlApi.jwksUrl');
    // Development: a local identity provider on loopback may be http; issuer/audience optional.
    expect(
      keyOf(() =>
        createTokenVerifier({
          ...base,
          issuer: '',
          audience: '',
          jwksUrl: 'http://127.0.0.1:8080/jwks',
          environment: 'development',
        }),
      ),
    ).toBeUndefined();
  });
});
