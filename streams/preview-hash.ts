/**
 * The fingerprint of what a rollback approver is shown: organization, PFA, the version the diff
 * was taken on, the target version and every changed field with its before and after value.
 * An approval carries it, so what gets written is exactly what was seen (four eyes on the
 * content, not only on the request): if PEMS moved since, the approval is refused.
 *
 * Canonical JSON (object keys sorted, arrays in order) hashed with SHA-256, hex. Pure.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json';
import type { FieldDiff } from './conflicts';

export interface PreviewContent {
  organizationId: string;
  pfaId: string;
  fromVersion: number;
  targetVersion: number;
  changes: readonly FieldDiff[];
}

export function previewHash(p: PreviewContent): string {
  const content = {
    v: 1,
    organizationId: p.organizationId,
    pfaId: p.pfaId,
    fromVersion: p.fromVersion,
    targetVersion: p.targetVersion,
    changes: p.changes,
  };
  return createHash('sha256').update(canonicalJson(content), 'utf8').digest('hex');
}
