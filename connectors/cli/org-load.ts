/**
 * `pems-sync org load ID`: the mirror's first full load, through the read side exactly as
 * `npm run source` does it: the PEMS poller (cursor stored per acknowledged page, so a stopped
 * load resumes) produces to the raw topic, and the mirror stream (same consumer group as the
 * read side) writes pfa_mirror. Done when the mirror group has consumed everything produced.
 */
import { MirrorStream } from '../source/mirror-stream';
import { PemsPoller, PollFailure, type PollSummary } from '../source/poller';
import { organizationPemsProblem } from '../pems/organization-check';
import { getOrganization, readSideState } from '../postgres/organizations';
import type { CliContext } from './context';
import { explainPemsFailure } from './org-check';
import { CliError, EXIT, notFound, Progress } from './output';

export interface LoadSummary {
  organization: string;
  pages: number;
  recordsProduced: number;
  /** The read side's mode after the run: incremental once the full load completed. */
  mode: string;
  mirrorRecords: number;
  /** Another process (the read side) held the organization's poll lock; it did the work. */
  loadedByAnotherProcess: boolean;
  durationMs: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolves when the group has committed every partition of `topic` up to the given ends. */
async function waitForConsumed(ctx: CliContext, groupId: string, topic: string, deadline: number): Promise<void> {
  const admin = ctx.kafka('load-admin').admin();
  await admin.connect();
  try {
    const ends = await admin.fetchTopicOffsets(topic);
    for (;;) {
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const at = new Map((committed?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
      const behind = ends.filter((e) => {
        const c = at.get(e.partition) ?? -1n;
        return BigInt(e.high) > (c < 0n ? BigInt(e.low) : c);
      });
      if (behind.length === 0) return;
      if (Date.now() > deadline) {
        throw new CliError(
          EXIT.FAILED,
          `the mirror stream has not consumed the raw topic ${topic} within the timeout (${behind.length} partitions behind); run again to resume`,
        );
      }
      await sleep(500);
    }
  } finally {
    await admin.disconnect();
  }
}

export async function loadOrganization(ctx: CliContext, id: string, timeoutMs: number): Promise<LoadSummary> {
  const started = Date.now();
  const org = await getOrganization(ctx.db, id);
  if (!org) throw notFound(`organization ${id} does not exist`);
  const config = ctx.config;
  const problem = organizationPemsProblem(
    { id, pems_base_url: org.pemsBaseUrl, pems_credential_encrypted: org.credentialEncrypted },
    config,
  );
  if (problem)
    throw new CliError(
      EXIT.FAILED,
      `organization ${id} cannot be loaded: ${problem.setting}: ${problem.reason} (pems-sync org check ${id})`,
    );

  const before = await readSideState(ctx.db, id);
  const progress = new Progress(ctx.io, `loading ${id}: records`);
  progress.tick(0);
  const kafka = ctx.kafka('load');
  const mirror = new MirrorStream({
    kafka,
    db: ctx.db,
    topic: config.topics.pemsRaw,
    deadLetterTopic: config.topics.mirrorDeadLetters,
    groupId: config.source.groupId,
    sessionTimeoutMs: config.kafka.sessionTimeoutMs,
  });
  const poller = new PemsPoller({
    db: ctx.db,
    kafka,
    topic: config.topics.pemsRaw,
    clients: ctx.pemsClients(),
    pageSize: config.source.pageSize,
    organizations: [id],
    includeSyncDisabled: true,
    hooks: { afterProduce: ({ records }) => progress.tick(records) },
  });
  let interrupted = false;
  const onSignal = (): void => {
    if (interrupted) return;
    interrupted = true;
    ctx.err('\ninterrupted: finishing the page in flight and storing the cursor; run the same command again to resume');
    void poller.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let summary: PollSummary | undefined;
  try {
    await mirror.start();
    [summary] = await poller.runOnce();
    await poller.stop();
    if (interrupted)
      throw new CliError(EXIT.FAILED, `load of ${id} interrupted after ${progress.count} records; run again to resume`);
    if (!summary) throw new CliError(EXIT.FAILED, `organization ${id} has no PEMS URL or credential to load from`);
    if (summary.error)
      throw new CliError(
        EXIT.FAILED,
        `load of ${id} stopped after ${summary.records} records: ${explainPemsFailure(new PollFailure(summary.error), id)}; run again to resume`,
      );
    if (summary.skipped) {
      // The read side is polling this organization right now: wait for it to finish its pass.
      const deadline = Date.now() + timeoutMs;
      while ((await readSideState(ctx.db, id)).cursor?.mode !== 'incremental') {
        if (Date.now() > deadline)
          throw new CliError(EXIT.FAILED, `another process is loading ${id} and has not finished within the timeout`);
        await sleep(500);
      }
    }
    progress.finish();
    await waitForConsumed(ctx, config.source.groupId, config.topics.pemsRaw, Date.now() + timeoutMs);
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await poller.stop().catch(() => undefined);
    await mirror.stop().catch(() => undefined);
  }
  const after = await readSideState(ctx.db, id);
  return {
    organization: id,
    pages: summary.pages,
    recordsProduced: summary.records,
    mode: String(after.cursor?.mode ?? before.cursor?.mode ?? 'unknown'),
    mirrorRecords: after.mirrorRecords,
    loadedByAnotherProcess: summary.skipped === true,
    durationMs: Date.now() - started,
  };
}
