/**
 * One conflict: Base | Yours | PEMS now | Result per field. Fields that are not a real conflict
 * are merged already and labelled; each real conflict is a radio group (Mine / PEMS / Custom).
 * Preview shows the result checked against PEMS's rules; Confirm sends the resolution with the
 * PEMS version it was made against. Who changed PEMS and when is shown when history has it.
 */
import type { ConflictRow } from '../../postgres/conflicts';
import type { ConflictContext } from '../../postgres/console-conflicts';
import type { Decision, MergeRow, Plan } from '../../../streams/merge-plan';
import { Action, Time } from '../components';
import { Layout } from '../layout';
import type { View } from '../session';

export function showValue(v: unknown): string {
  if (v === null || v === undefined) return '(empty)';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** The Base column: unknown when PEMS's history has no record of the base version. */
const baseText = (r: MergeRow): string => (r.baseKnown ? showValue(r.base) : '(not known)');

const KIND_LABEL: Record<MergeRow['kind'], string> = {
  conflict: 'both changed this',
  only_you: 'only you changed this',
  only_pems: 'only PEMS changed this',
};

function ChoiceGroup({
  r,
  d,
  plan,
  disabled,
}: {
  r: MergeRow;
  d: Decision;
  plan?: Plan;
  disabled: boolean;
}): JSX.Element {
  const name = `choice_${r.field}`;
  const chosen = d.choices[r.field];
  const err = plan?.errors[r.field];
  const errId = `err-${r.field}`;
  return (
    <fieldset class="choice" aria-describedby={err ? errId : undefined}>
      <legend safe>{`${r.field}: keep which value?`}</legend>
      <label>
        <input type="radio" name={name} value="mine" checked={chosen === 'mine'} disabled={disabled} /> Mine
      </label>
      <label>
        <input type="radio" name={name} value="pems" checked={chosen === 'pems'} disabled={disabled} /> PEMS
      </label>
      <label>
        <input type="radio" name={name} value="custom" checked={chosen === 'custom'} disabled={disabled} /> Custom
      </label>
      <label class="custom">
        <span safe>{`Custom value for ${r.field}`}</span>
        <input
          type="text"
          name={`custom_${r.field}`}
          value={d.custom[r.field] ?? ''}
          maxlength="2000"
          disabled={disabled}
        />
      </label>
      {err ? (
        <p class="field-error" id={errId} safe>
          {err}
        </p>
      ) : (
        ''
      )}
      {plan && !err && r.field in plan.result ? (
        <p class="preview" safe>{`Result: ${showValue(plan.result[r.field])}`}</p>
      ) : (
        ''
      )}
    </fieldset>
  );
}

export function ConflictPage(props: {
  view: View;
  c: ConflictRow;
  ctx: ConflictContext;
  rows: MergeRow[];
  decision: Decision;
  reason: string;
  plan?: Plan;
  canResolve: { allowed: boolean; reason?: string };
  problem?: string;
}): JSX.Element {
  const { view, c, ctx, rows, decision, plan } = props;
  const moved = ctx.now && ctx.now.version > c.pemsVersion ? ctx.now : null;
  const open = c.status === 'open';
  const ready = plan && plan.resolution !== null && !moved;
  const disabled = !open || !props.canResolve.allowed;
  return (
    <Layout view={view} title={`Conflict on ${c.pfaId}`} active="conflicts">
      <h1>
        Conflict on <span safe>{c.pfaId}</span> <span class="why" safe>{`(${c.organizationId})`}</span>
      </h1>
      <p>
        <span
          safe
        >{`${c.modification.userId}'s edit was based on PEMS version ${c.baseVersion}; PEMS was at version ${c.pemsVersion}`}</span>
        {ctx.atConflict?.changedBy ? <span safe>{`, changed by ${ctx.atConflict.changedBy}`}</span> : ''}
        {ctx.atConflict?.pemsUpdatedAt ? (
          <>
            {' '}
            <Time at={ctx.atConflict.pemsUpdatedAt} view={view} />
          </>
        ) : (
          ''
        )}
        . Detected <Time at={new Date(c.createdAt)} view={view} />.
      </p>
      {c.modification.changeReason ? <p safe>{`Reason given: ${c.modification.changeReason}`}</p> : ''}
      {!open ? (
        <div class="notice notice-ok" role="status">
          <p
            safe
          >{`This conflict is ${c.status}${c.resolution ? ` (${c.resolution})` : ''}${c.resolvedBy ? ` by ${c.resolvedBy}` : ''}.`}</p>
          {c.resolutionModificationId ? (
            <p>
              The resolution is the committed edit{' '}
              <a href={`/console/search?q=${c.resolutionModificationId}`}>
                <code safe>{c.resolutionModificationId}</code>
              </a>
              , written on PEMS version <span safe>{String(c.pemsVersion)}</span>.
            </p>
          ) : (
            <p>Nothing was left to write: PEMS keeps its values.</p>
          )}
        </div>
      ) : (
        ''
      )}
      {props.problem ? (
        <div class="notice notice-error" role="alert">
          <p safe>{props.problem}</p>
        </div>
      ) : (
        ''
      )}
      {moved && open ? (
        <div class="notice notice-warn" role="alert">
          <p
            safe
          >{`PEMS moved again: it is now at version ${moved.version}, newer than the version ${c.pemsVersion} this conflict shows. A resolution made against version ${c.pemsVersion} is refused. PEMS now has:`}</p>
          <ul>
            {rows.map((r) => (
              <li safe>{`${r.field}: ${showValue(moved.data[r.field])}`}</li>
            ))}
          </ul>
        </div>
      ) : (
        ''
      )}
      <form method="post" action={`/console/conflicts/${c.id}/preview`} class="merge">
        <input type="hidden" name="_csrf" value={view.viewer?.csrfToken ?? ''} />
        <input type="hidden" name="pems_version" value={String(c.pemsVersion)} />
        <table class="merge-table">
          <caption>Base | Yours | PEMS now | Result, per field</caption>
          <thead>
            <tr>
              <th scope="col">field</th>
              <th scope="col">Base (v{c.baseVersion})</th>
              <th scope="col">Yours</th>
              <th scope="col">PEMS now (v{c.pemsVersion})</th>
              <th scope="col">Result</th>
            </tr>
          </thead>
          <tbody hx-disable>
            {rows.map((r) => (
              <tr data-field={r.field} data-kind={r.kind}>
                <th scope="row">
                  <span safe>{r.field}</span>
                  <br />
                  <span class="why" safe>
                    {KIND_LABEL[r.kind]}
                  </span>
                </th>
                <td safe>{baseText(r)}</td>
                <td safe>{showValue(r.yours)}</td>
                <td safe>{showValue(r.pems)}</td>
                <td>
                  {r.kind === 'conflict' ? (
                    <ChoiceGroup r={r} d={decision} plan={plan} disabled={disabled} />
                  ) : (
                    <span
                      safe
                    >{`${showValue(r.kind === 'only_you' ? r.yours : r.pems)} (merged: ${KIND_LABEL[r.kind]})`}</span>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        <label for="reason">Reason (kept in the audit trail)</label>
        <textarea id="reason" name="reason" maxlength="1000" rows="2" disabled={disabled} safe>
          {props.reason}
        </textarea>
        <p>
          <Action
            id="preview"
            allowed={open && props.canResolve.allowed}
            reason={open ? props.canResolve.reason : `the conflict is ${c.status}`}
            label="Preview"
          />
        </p>
      </form>
      {ready && open && props.canResolve.allowed ? (
        <form method="post" action={`/console/conflicts/${c.id}/resolve`} class="confirm">
          <input type="hidden" name="_csrf" value={view.viewer?.csrfToken ?? ''} />
          <input type="hidden" name="pems_version" value={String(c.pemsVersion)} />
          <input type="hidden" name="reason" value={props.reason} />
          {rows
            .filter((r) => r.kind === 'conflict')
            .map((r) => (
              <>
                <input type="hidden" name={`choice_${r.field}`} value={decision.choices[r.field] ?? ''} />
                <input type="hidden" name={`custom_${r.field}`} value={decision.custom[r.field] ?? ''} />
              </>
            ))}
          <div class="notice notice-info">
            <p
              safe
            >{`Preview: this resolves the conflict with ${plan!.resolution}, as a new edit on PEMS version ${c.pemsVersion}; it passes PEMS's rules.`}</p>
          </div>
          <button type="submit" class="button primary">
            Confirm resolution
          </button>
        </form>
      ) : (
        ''
      )}
    </Layout>
  );
}
