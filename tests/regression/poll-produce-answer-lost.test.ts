/**
 * Reported defect (CI, faults kafka-restart): after the broker was stopped and started again, the
 * mirror stayed behind PEMS (mirror_stale: version 4 against PEMS's 6).
 *
 * One way there: the poller's send of a page fails after the broker stored the batch (its answer
 * lost as the broker stopped). kafkajs gives that batch's sequence numbers back and hands them to
 * the next batch. The next poll produces the page again, now with a newer version of a record:
 * the broker takes the batch for a duplicate of the stored one, answers success and writes
 * nothing. The cursor moves past the newer version, and the mirror never gets it. (With another
 * record count the broker refuses every later batch as out of order instead: the read side
 * stops.) The poller now replaces its producer after a failed send.
 *
 * Performed here for real: the broker stores the first page, its answer is lost and the broker
 * refuses connections until kafkajs gives up; then a PEMS user edits one record and the poller
 * runs again.
 */
import { Kafka, logLevel } from 'kafkajs';
import { readSide, eventually, mirrorRow, type ReadSideFixture } from '../integration/source/harness';
import { lostAnswers } from '../support/lost-answers';
import { testEnv } from '../support/env';

describe('regression: a page whose answer was lost, then a newer version of one of its records', () => {
  let f: ReadSideFixture;

  beforeEach(async () => {
    f = await readSide('SRCL');
  });

  afterEach(async () => {
    await f.close();
  });

  it('when the first send of a page failed after the broker stored it, then the next poll still brings the newer version to the mirror', async () => {
    const ids = f.sim.control.seed({ organization: f.org, count: 4 });
    const net = await lostAnswers();
    const kafka = new Kafka({
      clientId: `lost-answers-${f.org.toLowerCase()}`,
      brokers: testEnv.kafkaBrokers,
      logLevel: logLevel.NOTHING,
      socketFactory: net.socketFactory,
      retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 400 },
    });
    const poller = f.poller({ kafka });

    // The broker stores the page; its answer is lost and the broker looks down until kafkajs gives up.
    net.loseNextProduceAnswer({ thenRefuse: true });
    const [failed] = await poller.runOnce();
    expect(net.lost).toBe(1);
    expect(failed!.error).toBeDefined();
    expect(failed).toMatchObject({ pages: 0, completed: false });

    // The broker is back; a PEMS user edits one of the page's records (same record count per partition).
    net.refuse = false;
    const target = ids[0]!;
    f.sim.control.editAsPemsUser(target, { notes: 'edited in PEMS after the lost answer' }, 'jdoe-pems');
    const newer = f.sim.control.getRecord(target)!.version;
    const [next] = await poller.runOnce();
    expect(next).toMatchObject({ records: ids.length, completed: true });
    expect(next!.error).toBeUndefined();

    await f.mirror();
    for (const id of ids) {
      const version = f.sim.control.getRecord(id)!.version;
      await eventually(async () => (await mirrorRow(f.db, f.org, id))?.version === version, 30_000, `mirror of ${id}`);
    }
    expect((await mirrorRow(f.db, f.org, target))?.version).toBe(newer);
    await poller.stop();
  });
});
