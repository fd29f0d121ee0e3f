/** The console's settings: defaults, and a bad combination named by its key. */
import { loadConfig } from '../../../schemas/config';
import { ConfigError } from '../../../streams/errors';

const BASE = { PEMS_SYNC_DATABASE_URL: 'postgres://u@localhost/db' };

describe('console settings', () => {
  it('default to a console without local sign-in, with Secure cookies and a 60 s / 600 s freshness', () => {
    const c = loadConfig(BASE);
    expect(c.console).toEqual({
      enabled: true,
      localSignInUsers: [],
      sessionTtlSeconds: 28800,
      secureCookies: true,
      freshnessTargetSeconds: 60,
      stalledAfterSeconds: 600,
      liveIntervalMs: 3000,
      sinkMetricsUrls: [],
    });
  });
  it('read the demo users and the sinks from the environment', () => {
    const c = loadConfig({
      ...BASE,
      PEMS_SYNC_CONSOLE_LOCAL_SIGN_IN_USERS: 'alice,bruno',
      PEMS_SYNC_CONSOLE_SINK_METRICS_URLS: 'http://127.0.0.1:9464/metrics',
    });
    expect(c.console.localSignInUsers).toEqual(['alice', 'bruno']);
    expect(c.console.sinkMetricsUrls).toEqual(['http://127.0.0.1:9464/metrics']);
  });
  it('refuse a stall limit that is not above the target, naming the key', () => {
    let err: unknown;
    try {
      loadConfig({
        ...BASE,
        PEMS_SYNC_CONSOLE_FRESHNESS_TARGET_SECONDS: '600',
        PEMS_SYNC_CONSOLE_STALLED_AFTER_SECONDS: '600',
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain('console.stalledAfterSeconds');
    expect((err as Error).message).toContain('must be greater than console.freshnessTargetSeconds');
  });
});
