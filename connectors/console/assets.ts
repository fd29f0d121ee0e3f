/**
 * Static assets, served from node_modules (htmx, uPlot) and connectors/console/assets (our
 * script and stylesheet) with no bundler and no CDN. A fixed list: nothing else on disk is
 * reachable through /console/assets.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const here = __dirname;

function resolvePackageFile(pkg: string, file: string): string {
  return join(require.resolve(`${pkg}/package.json`), '..', file);
}

const FILES: Record<string, { path: () => string; type: string }> = {
  'htmx.min.js': {
    path: () => resolvePackageFile('htmx.org', 'dist/htmx.min.js'),
    type: 'text/javascript; charset=utf-8',
  },
  'uplot.iife.min.js': {
    path: () => resolvePackageFile('uplot', 'dist/uPlot.iife.min.js'),
    type: 'text/javascript; charset=utf-8',
  },
  'uplot.min.css': { path: () => resolvePackageFile('uplot', 'dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
  'console.js': { path: () => join(here, 'assets', 'console.js'), type: 'text/javascript; charset=utf-8' },
  'console.css': { path: () => join(here, 'assets', 'console.css'), type: 'text/css; charset=utf-8' },
};

const cache = new Map<string, Buffer>();

/** The asset's bytes and content type, or undefined for a name not on the list. */
export function asset(name: string): { body: Buffer; type: string } | undefined {
  const f = FILES[name];
  if (!f) return undefined;
  let body = cache.get(name);
  if (!body) {
    body = readFileSync(f.path());
    cache.set(name, body);
  }
  return { body, type: f.type };
}

export const ASSET_NAMES = Object.keys(FILES);
