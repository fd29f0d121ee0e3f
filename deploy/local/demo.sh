#!/usr/bin/env bash
# The main job: bring the local stack up (installing what is missing) and run a live demo sync.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/../.."
[[ -d node_modules ]] || npm ci --no-audit --no-fund
# shellcheck source=deploy/local/env.sh
source "$here/env.sh"
bash "$here/stack.sh" up
KAFKAJS_NO_PARTITIONER_WARNING=1 npx --no-install tsx deploy/local/demo.ts
