import { createTokenVerifier } from '../../../../connectors/control-api/auth';
import { mintToken } from '../../../../connectors/cli/users';

const secret = 'a-test-secret-of-at-least-thirty-two-characters';

describe('pems-sync token mint', () => {
  const production = createTokenVerifier({
    jwtSecret: secret,
    jwksUrl: '',
    issuer: 'https://id.example',
    audience: 'pems-sync',
    maxAgeSeconds: 3600,
    environment: 'production',
  });

  it('when the API requires an issuer and an audience, then a minted token carries them and is accepted', async () => {
    const token = await mintToken(secret, 'alice', 600, { issuer: 'https://id.example', audience: 'pems-sync' });
    await expect(production(token)).resolves.toEqual({ sub: 'alice' });
  });

  it('when minted without them, then the same API refuses the token', async () => {
    await expect(production(await mintToken(secret, 'alice', 600))).rejects.toThrow();
  });
});
