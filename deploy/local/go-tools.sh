#!/usr/bin/env bash
# Tools built from the Go module proxy at pinned versions, cached in $PEMS_SYNC_CACHE/bin (never
# in the repo): Mailpit (the local stack's SMTP server with an HTTP API) and helm (the chart's
# lint/template tests). Built only when missing; prints nothing when both are there.
#
#   bash deploy/local/go-tools.sh [mailpit] [helm]     (no argument: both)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=deploy/local/env.sh
source "$here/env.sh"

bin="$PEMS_SYNC_CACHE/bin"
mkdir -p "$bin"

go_install() { # <name> <module@version>
  local name=$1 module=$2
  [[ -x "$bin/$name" ]] && return 0
  command -v go >/dev/null || { echo "[go-tools] $name is missing and Go is not installed: install Go 1.22+ (or put $name in $bin)" >&2; exit 1; }
  echo "[go-tools] building $module into $bin (first time only; a few minutes)"
  local log; log=$(mktemp)
  if ! GOBIN="$bin" GOFLAGS=-buildvcs=false go install "$module" >"$log" 2>&1; then
    tail -n 30 "$log" >&2; rm -f "$log"
    echo "[go-tools] go install $module failed" >&2; exit 1
  fi
  rm -f "$log"
}

for tool in "${@:-mailpit helm}"; do
  for t in $tool; do
    case "$t" in
      mailpit) go_install mailpit "github.com/axllent/mailpit@$MAILPIT_VERSION" ;;
      helm) go_install helm "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" ;;
      *) echo "usage: $0 [mailpit] [helm]" >&2; exit 2 ;;
    esac
  done
done
