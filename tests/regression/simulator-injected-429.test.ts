/**
 * Regression (found by the fault suite): an injected 429 answered `Retry-After: undefined` and
 * error INJECTED, unlike the contract's 429 (RATE_LIMITED with Retry-After in seconds).
 */
import { authHeaders, org, raw, simulator } from '../integration/pems/harness';

describe('regression: an injected 429 looks like the contract says', () => {
  it('when errorRates injects 429, then the answer is RATE_LIMITED with a numeric Retry-After', async () => {
    const o = org('r429');
    const sim = await simulator([o]);
    try {
      const [id] = sim.control.seed({ organization: o.organization, count: 1 });
      sim.control.setFaults({ errorRates: { 429: 1 } });
      const res = await raw(sim, 'GET', `/pfa/${id}`, undefined, authHeaders(o));
      expect(res.status).toBe(429);
      expect(res.body.error).toBe('RATE_LIMITED');
      expect(String(res.headers['retry-after'])).toMatch(/^\d+$/);
    } finally {
      await sim.close();
    }
  });
});
