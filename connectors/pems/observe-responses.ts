/**
 * Lets a caller see the status and headers of every PEMS answer (e.g. rate-limit headers for
 * `pems-sync org check`).
 */
import { AxiosError, type AxiosInstance } from 'axios';

export function observeResponses(
  http: AxiosInstance,
  hook: (status: number, headers: Record<string, string>) => void,
): void {
  const seen = (status: number, headers: unknown): void => {
    const flat: Record<string, string> = {};
    for (const [k, v] of Object.entries((headers ?? {}) as Record<string, unknown>))
      if (typeof v === 'string' || typeof v === 'number') flat[k.toLowerCase()] = String(v);
    hook(status, flat);
  };
  http.interceptors.response.use(
    (res) => {
      seen(res.status, res.headers);
      return res;
    },
    (err: unknown) => {
      if (err instanceof AxiosError && err.response) seen(err.response.status, err.response.headers);
      return Promise.reject(err);
    },
  );
}
