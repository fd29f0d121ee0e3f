/**
 * Every console template passes @kitajs/ts-html-plugin's XSS scan: no dynamic content rendered
 * without `safe` (kitajs escapes attributes, but children only with `safe`). The scan has blind
 * spots (it trusts some conditional expressions), so the browser suite's hostile-text test is
 * the behavioural proof; this one keeps new templates from forgetting `safe`.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

describe('console templates', () => {
  it('have no xss-prone content without the safe attribute (xss-scan exits 0)', () => {
    const root = join(__dirname, '..', '..', '..');
    const dir = join(root, 'connectors', 'console');
    const files = [
      ...readdirSync(dir)
        .filter((f) => f.endsWith('.tsx'))
        .map((f) => join(dir, f)),
      ...readdirSync(join(dir, 'pages')).map((f) => join(dir, 'pages', f)),
    ];
    expect(files.length).toBeGreaterThan(5);
    const out = execFileSync(join(root, 'node_modules', '.bin', 'xss-scan'), files, { cwd: root, encoding: 'utf8' });
    expect(out).toContain('No XSS vulnerabilities found');
  });
});
