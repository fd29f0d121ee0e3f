/**
 * The simulator's test-only control surface under /__control (PEMS_SIM_TEST_MODE=1): stats, the
 * write log, reset, seeding, fault injection and PEMS-side edits of a record.
 */
import type http from 'node:http';
import { isPlainObject } from '../../streams/validation';
import type { FaultConfig, FaultState } from './faults';
import { bad, decodeSegment, HttpError, readInteger, type Send } from './http';
import type { PemsStore } from './store';
import type { SimulatorControl } from './types';

export interface ControlDeps {
  control: SimulatorControl;
  faults: FaultState;
  store: PemsStore;
  send: Send;
  readJson(req: http.IncomingMessage, required: boolean): Promise<unknown>;
}

export function createControlHandler({ control, faults, store, send, readJson }: ControlDeps) {
  async function handleControl(req: http.IncomingMessage, res: http.ServerResponse, segments: string[]): Promise<void> {
    const ep = 'control';
    const method = req.method ?? 'GET';
    const [a, b, c] = segments;
    const body = method === 'GET' || method === 'DELETE' ? undefined : await readJson(req, false);
    const obj = (body ?? {}) as Record<string, unknown>;
    if (body !== undefined && !isPlainObject(body))
      throw new HttpError(400, { error: 'VALIDATION_FAILED', message: 'body must be a JSON object' });
    if (a === 'stats' && method === 'GET') return send(res, ep, 200, control.stats());
    if (a === 'writes' && method === 'GET') return send(res, ep, 200, control.writeLog());
    if (a === 'reset' && method === 'POST') {
      control.reset();
      return send(res, ep, 200, { reset: true });
    }
    if (a === 'seed' && method === 'POST') {
      const n = readInteger(obj.count);
      if (n === undefined || n > 100_000) throw bad('count', 'required, an integer from 0 to 100000');
      const org = obj.organization === undefined ? undefined : String(obj.organization);
      return send(res, ep, 200, { pfaIds: control.seed({ organization: org, count: n, seed: readInteger(obj.seed) }) });
    }
    if (a === 'faults' && (method === 'PUT' || method === 'POST')) {
      try {
        control.setFaults(obj as FaultConfig);
      } catch (e) {
        throw new HttpError(400, { error: 'VALIDATION_FAILED', message: (e as Error).message });
      }
      return send(res, ep, 200, { faults: faults.current });
    }
    if (a === 'faults' && method === 'DELETE') {
      control.clearFaults();
      return send(res, ep, 200, { faults: {} });
    }
    if (a === 'records' && b !== undefined) {
      const id = decodeSegment(b, 'pfaId');
      const existing = store.get(id);
      if (!existing) throw new HttpError(404, { error: 'NOT_FOUND', message: `no PFA record ${id}` });
      if (c === undefined && method === 'GET') return send(res, ep, 200, existing);
      if (c === 'edit' && method === 'POST') {
        if (!isPlainObject(obj.changes)) throw bad('changes', 'required, an object');
        return send(
          res,
          ep,
          200,
          control.editAsPemsUser(id, obj.changes, typeof obj.user === 'string' ? obj.user : undefined),
        );
      }
      if (c === 'child-activity' && method === 'POST') {
        return send(res, ep, 200, control.childActivity(id, readInteger(obj.count) ?? 1));
      }
    }
    throw new HttpError(404, {
      error: 'NOT_FOUND',
      message: `no control endpoint ${method} /__control/${segments.join('/')}`,
    });
  }

  return handleControl;
}
