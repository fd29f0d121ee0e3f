import { brokenWords } from '../../../connectors/console/pages/audit';
import type { ChainCheck } from '../../../connectors/postgres/audit-query';

const base: ChainCheck = { organizationId: 'RIO', entries: 3, ok: false, firstBroken: null, headMatches: true };

describe('console audit verdict in words', () => {
  it('when an entry was rewritten and re-chained, then the keyed check names it', () => {
    const check: ChainCheck = {
      ...base,
      keyed: {
        signedEntries: 3,
        headValid: true,
        firstBroken: { id: 'e2', createdAt: '2026-12-01T10:00:00Z', problem: 'mac_mismatch', keyId: 'a1' },
      },
    };
    expect(brokenWords(check)).toBe(
      'The chain of RIO is broken. First broken entry: e2 at 2026-12-01T10:00:00Z (its keyed signature does not match its content).',
    );
  });

  it('when the chain was cut back to an earlier head, then the checkpoint outside the database says so', () => {
    expect(
      brokenWords({
        ...base,
        keyed: { signedEntries: 2, headValid: true, firstBroken: null },
        checkpoint: { lastId: 'e3', holds: false },
      }),
    ).toContain('checkpoint kept outside the database names entry e3');
  });

  it('when there are no entries and no head, then nothing verifies', () => {
    expect(brokenWords({ ...base, entries: 0, empty: true })).toBe(
      'The chain of RIO has no entries and no head: there is nothing that verifies.',
    );
  });
});
