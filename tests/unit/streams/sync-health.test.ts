import { foldSyncFigures } from '../../../streams/sync-health';

describe('foldSyncFigures', () => {
  it('counts unsynced edits, keeps the oldest of them and the newest outcome, per organization', () => {
    const f = foldSyncFigures([
      {
        organizationId: 'RIO',
        status: 'committed',
        count: 2,
        oldestCommittedAgeSeconds: 300,
        newestChangeUnixSeconds: 1000,
      },
      {
        organizationId: 'RIO',
        status: 'syncing',
        count: 1,
        oldestCommittedAgeSeconds: 900,
        newestChangeUnixSeconds: 1100,
      },
      {
        organizationId: 'RIO',
        status: 'synced',
        count: 5,
        oldestCommittedAgeSeconds: 5000,
        newestChangeUnixSeconds: 900,
      },
      {
        organizationId: 'RIO',
        status: 'failed',
        count: 1,
        oldestCommittedAgeSeconds: 4000,
        newestChangeUnixSeconds: 950,
      },
      {
        organizationId: 'RIO',
        status: 'draft',
        count: 3,
        oldestCommittedAgeSeconds: null,
        newestChangeUnixSeconds: 2000,
      },
      {
        organizationId: 'BOG',
        status: 'synced',
        count: 1,
        oldestCommittedAgeSeconds: 10,
        newestChangeUnixSeconds: 500,
      },
    ]);
    expect(f.get('RIO')).toEqual({
      byStatus: new Map([
        ['committed', 2],
        ['syncing', 1],
        ['synced', 5],
        ['failed', 1],
        ['draft', 3],
      ]),
      unsynced: 3,
      oldestUnsyncedAgeSeconds: 900,
      // synced and failed are outcomes; a draft's or a pending edit's change is not.
      lastOutcomeUnixSeconds: 950,
    });
    expect(f.get('BOG')).toMatchObject({ unsynced: 0, oldestUnsyncedAgeSeconds: 0, lastOutcomeUnixSeconds: 500 });
  });

  it('an organization with only pending edits has no outcome yet', () => {
    expect(
      foldSyncFigures([
        {
          organizationId: 'NEW',
          status: 'committed',
          count: 4,
          oldestCommittedAgeSeconds: 60,
          newestChangeUnixSeconds: 10,
        },
      ]).get('NEW')!.lastOutcomeUnixSeconds,
    ).toBeNull();
  });
});
