#!/usr/bin/env node
// The `pems-sync` command (package.json "bin"): the compiled CLI when built (npm run build),
// else the TypeScript sources through tsx.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const built = join(__dirname, '..', 'dist', 'connectors', 'cli', 'main.js');
let cli;
if (existsSync(built)) cli = require(built);
else {
  require('tsx/cjs');
  cli = require('../connectors/cli/main.ts');
}
cli.run(process.argv.slice(2)).then((code) => process.exit(code));
