#!/usr/bin/env bash
# Prepares a checkout to run: npm dependencies and the Temporal CLI (dev server + Web UI);
# with --cluster (what `npm run cluster` passes) also PostgreSQL and the Temporal server, its SQL
# tool and the UI server, built with Go once per user; with --for-tests (what `npm test` passes)
# everything the tests need: the cluster's parts and chromium (the Temporal UI test).
# Works before node_modules exists; idempotent, and instant when everything is in place.
set -euo pipefail

for_tests=false
cluster=false
for arg in "$@"; do
  case "$arg" in
    --for-tests) for_tests=true; cluster=true ;;
    --cluster) cluster=true ;;
    *) printf 'setup: unknown option %s\n' "$arg" >&2; exit 2 ;;
  esac
done

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

# Debian packages the tests need, installed only where apt can (a failure here does not stop
# setup: the tests that need the package fail, or report a skip, and name the reason).
install_debian_package() { # package, what it is for
  local apt=()
  if [ "$(id -u)" = 0 ]; then
    apt=(apt-get)
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    apt=(sudo -n apt-get)
  fi
  if [ ${#apt[@]} -eq 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    say "$1 is missing and apt-get is not usable here: $2 cannot run until it is installed"
    return 0
  fi
  say "installing $1 (Debian package) for $2"
  local lock=(-o DPkg::Lock::Timeout=300)
  "${apt[@]}" "${lock[@]}" install -y -qq "$1" >/dev/null 2>&1 ||
    { "${apt[@]}" "${lock[@]}" update -qq && "${apt[@]}" "${lock[@]}" install -y -qq "$1" >/dev/null; } ||
    say "could not install $1: $2 cannot run until it is installed"
}

if $for_tests && [ ! -x /usr/bin/chromium ]; then
  install_debian_package chromium 'the Temporal UI test'
fi
# The catalog tests and the cluster start their own PostgreSQL server: no service is left running
# (the package's default cluster is not created).
if $cluster && ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  if [ ! -e /etc/postgresql-common/createcluster.conf ] && [ "$(id -u)" = 0 ]; then
    mkdir -p /etc/postgresql-common
    echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.conf
  fi
  install_debian_package postgresql 'the PostgreSQL catalog and the cluster'
fi

# The cluster's Go programs, each built once per user and version into the cache, then copied
# into .tools/bin under the name src/cluster/binaries.ts looks for.
install_go_binary() { # name in .tools/bin, package@version, cache directory
  local name="$1" package="$2" cache="$3"
  [ -x "$tools_bin/$name" ] && [ "$(cat "$tools_bin/$name.version" 2>/dev/null)" = "$package" ] && return 0
  mkdir -p "$tools_bin"
  if [ ! -x "$cache/$name" ]; then
    if ! command -v go >/dev/null 2>&1; then
      say "$name is missing and Go is not installed to build it: install Go 1.25+ and run \`npm run setup -- --cluster\` again"
      exit 1
    fi
    say "building $package with Go (first time only, takes a few minutes)"
    local build
    build="$(mktemp -d)"
    GOBIN="$build" GOFLAGS=-mod=mod nice -n 10 go install "$package"
    mkdir -p "$cache"
    # Each package's binary is called `server` or `sql`: keep it under the name it is run by.
    mv "$build"/* "$cache/$name.tmp" && mv "$cache/$name.tmp" "$cache/$name"
    rm -rf "$build"
  fi
  cp "$cache/$name" "$tools_bin/$name.tmp" && mv "$tools_bin/$name.tmp" "$tools_bin/$name"
  printf '%s\n' "$package" >"$tools_bin/$name.version"
}
if $cluster; then
  TEMPORAL_SERVER_VERSION="$(cat deploy/temporal/VERSION)"
  TEMPORAL_UI_SERVER_VERSION="$(cat deploy/temporal-ui/VERSION)"
  cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/music-tasks"
  install_go_binary temporal-server "go.temporal.io/server/cmd/server@v$TEMPORAL_SERVER_VERSION" \
    "$cache_root/temporal-server-$TEMPORAL_SERVER_VERSION"
  install_go_binary temporal-sql-tool "go.temporal.io/server/cmd/tools/sql@v$TEMPORAL_SERVER_VERSION" \
    "$cache_root/temporal-server-$TEMPORAL_SERVER_VERSION"
  install_go_binary temporal-ui-server "github.com/temporalio/ui-server/v2/cmd/server@v$TEMPORAL_UI_SERVER_VERSION" \
    "$cache_root/temporal-ui-server-$TEMPORAL_UI_SERVER_VERSION"
fi

# The Java time-skipping test server (the tests of long timers), from Maven Central once per user
# into the cache, then run through .tools/bin/temporal-test-server (TestWorkflowEnvironment's
# `existing-path` executable). Offline after the first time: the jars are kept, Maven is not asked.
TEMPORAL_TEST_SERVER_VERSION="${TEMPORAL_TEST_SERVER_VERSION:-1.31.0}"
install_test_server() {
  local cache="${XDG_CACHE_HOME:-$HOME/.cache}/music-tasks/temporal-test-server-$TEMPORAL_TEST_SERVER_VERSION"
  local wrapper="$tools_bin/temporal-test-server"
  if [ ! -f "$cache/lib/.complete" ]; then
    if ! command -v mvn >/dev/null 2>&1 || ! command -v java >/dev/null 2>&1; then
      say "the time-skipping test server needs Java 11+ and Maven (to fetch io.temporal:temporal-test-server once): install them and run \`npm run setup -- --for-tests\` again"
      exit 1
    fi
    say "fetching io.temporal:temporal-test-server:$TEMPORAL_TEST_SERVER_VERSION with Maven (first time only)"
    local build
    build="$(mktemp -d)"
    cat >"$build/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>music-tasks</groupId>
  <artifactId>temporal-test-server-classpath</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>io.temporal</groupId>
      <artifactId>temporal-test-server</artifactId>
      <version>$TEMPORAL_TEST_SERVER_VERSION</version>
    </dependency>
  </dependencies>
</project>
POM
    (cd "$build" && nice -n 10 mvn -B -q dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$build/lib")
    touch "$build/lib/.complete"
    mkdir -p "$cache"
    rm -rf "$cache/lib" && mv "$build/lib" "$cache/lib"
    rm -rf "$build"
  fi
  mkdir -p "$tools_bin"
  # C1 only and the serial collector: it starts in about a second and needs little on two cores.
  local script="#!/bin/sh
exec java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp '$cache/lib/*' io.temporal.testserver.TestServer \"\$@\""
  if [ "$(cat "$wrapper" 2>/dev/null)" != "$script" ]; then
    printf '%s\n' "$script" >"$wrapper.tmp" && chmod +x "$wrapper.tmp" && mv "$wrapper.tmp" "$wrapper"
  fi
}
if $for_tests; then
  install_test_server
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
