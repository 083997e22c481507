#!/usr/bin/env bash
# Prepares a checkout to run: npm dependencies and the Temporal CLI (dev server + Web UI).
# Works before node_modules exists; idempotent, and instant when everything is in place.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

TEMPORAL_CLI_VERSION="${TEMPORAL_CLI_VERSION:-v1.5.1}"
# Later tags carry `replace` directives and cannot be `go install`ed; older ones are the fallback.
FALLBACK_VERSIONS=(v1.4.1 v1.3.0 v1.2.0)
tools_bin="$root/.tools/bin"
# A per-user copy, so a fresh clone on the same machine does not rebuild the CLI.
cache_bin="${XDG_CACHE_HOME:-$HOME/.cache}/music-tasks/temporal-cli"

say() { printf 'setup: %s\n' "$*" >&2; }

node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$node_major" -lt 20 ]; then
  say "Node.js 20 or newer is required (found: $(node --version 2>/dev/null || echo none))."
  exit 1
fi

# npm dependencies: install when missing or older than the lockfile.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi

# The Temporal CLI: PATH, then .tools/bin, then the per-user cache, then build it with Go.
if command -v temporal >/dev/null 2>&1; then
  exit 0
fi
if [ -x "$tools_bin/temporal" ]; then
  exit 0
fi
mkdir -p "$tools_bin"
if [ -x "$cache_bin/temporal" ]; then
  cp "$cache_bin/temporal" "$tools_bin/temporal"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  say "the Temporal CLI is missing and Go is not installed to build it."
  say "Install either the Temporal CLI (https://docs.temporal.io/cli, put \`temporal\` on PATH)"
  say "or Go 1.25+ (then run \`npm run setup\` again)."
  exit 1
fi
for version in "$TEMPORAL_CLI_VERSION" "${FALLBACK_VERSIONS[@]}"; do
  say "building the Temporal CLI $version with Go (first time only, takes a few minutes)"
  if GOBIN="$tools_bin" GOFLAGS=-mod=mod go install "github.com/temporalio/cli/cmd/temporal@$version"; then
    mkdir -p "$cache_bin" && cp "$tools_bin/temporal" "$cache_bin/temporal.tmp" && mv "$cache_bin/temporal.tmp" "$cache_bin/temporal"
    say "Temporal CLI $version ready at .tools/bin/temporal"
    exit 0
  fi
  say "building $version failed"
done
say "could not build the Temporal CLI; install it yourself and put \`temporal\` on PATH."
exit 1
