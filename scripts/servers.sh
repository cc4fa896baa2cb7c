#!/usr/bin/env bash
# Object-store servers for the storage tests, on 127.0.0.1 only.
#
#   scripts/servers.sh install        build or install any that are missing
#   scripts/servers.sh start DIR      start them with fresh data under DIR, on
#                                     ports chosen now; writes DIR/env, the
#                                     variables the tests read
#   scripts/servers.sh stop DIR       stop them, by the PIDs start recorded
#
# A server that cannot be installed or started is left out of DIR/env; the
# tests that need it then skip on a developer machine and fail under CI=true.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
gobin="$(go env GOPATH)/bin"
export PATH="$gobin:$PATH"

MINIO_PKG=github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c
VGW_PKG=github.com/versity/versitygw/cmd/versitygw@v1.8.0
FGCS_PKG=github.com/fsouza/fake-gcs-server@v1.56.1
AZURITE_PKG=azurite@3.37.0
tools="$root/.ci/tools"

# Test-only credentials of throwaway local servers (Azurite's is its
# published development account key).
S3_KEY=statsnaptest
S3_SECRET=statsnaptest-secret-key
AZ_ACCOUNT=devstoreaccount1
AZ_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

install() {
  command -v minio >/dev/null 2>&1 || go install "$MINIO_PKG" || echo "servers: minio not installed"
  command -v versitygw >/dev/null 2>&1 || go install "$VGW_PKG" || echo "servers: versitygw not installed"
  command -v fake-gcs-server >/dev/null 2>&1 || go install "$FGCS_PKG" || echo "servers: fake-gcs-server not installed"
  if [ ! -x "$tools/node_modules/.bin/azurite-blob" ] && command -v npm >/dev/null 2>&1; then
    npm install --silent --no-audit --no-fund --prefix "$tools" "$AZURITE_PKG" >/dev/null 2>&1 || echo "servers: azurite not installed"
  fi
}

# freeport prints a port on 127.0.0.1 that nothing listens on.
freeport() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 40000))
    if ! { (exec 3<>/dev/tcp/127.0.0.1/$p); } 2>/dev/null; then
      echo $p; return 0
    fi
  done
  return 1
}

# ready PORT PATH: an HTTP GET of PATH answers 2xx within 60 s.
ready() {
  local port=$1 path=$2
  for _ in $(seq 1 120); do
    if { exec 3<>/dev/tcp/127.0.0.1/$port; } 2>/dev/null; then
      printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$path" >&3
      local line
      IFS= read -r -t 5 line <&3 || line=
      exec 3>&-
      case "$line" in HTTP/1.?\ 2*|HTTP/1.?\ 4*) return 0 ;; esac
    fi
    sleep 0.5
  done
  return 1
}

start() {
  local dir=$1
  mkdir -p "$dir"
  : > "$dir/env"
  : > "$dir/pids"
  if command -v minio >/dev/null 2>&1; then
    local p c
    p=$(freeport); c=$(freeport)
    mkdir -p "$dir/minio"
    MINIO_ROOT_USER=$S3_KEY MINIO_ROOT_PASSWORD=$S3_SECRET MINIO_UPDATE=off MINIO_BROWSER=off \
      minio server --quiet --address "127.0.0.1:$p" --console-address "127.0.0.1:$c" "$dir/minio" >"$dir/minio.log" 2>&1 &
    echo $! >> "$dir/pids"
    if ready "$p" /minio/health/ready; then
      echo "STATSNAP_TEST_S3_ENDPOINT=http://127.0.0.1:$p" >> "$dir/env"
    else
      echo "servers: minio did not become ready:"; tail -5 "$dir/minio.log"
    fi
  fi
  if command -v versitygw >/dev/null 2>&1; then
    local p
    p=$(freeport)
    mkdir -p "$dir/versitygw"
    versitygw --port "127.0.0.1:$p" --access "$S3_KEY" --secret "$S3_SECRET" posix "$dir/versitygw" >"$dir/versitygw.log" 2>&1 &
    echo $! >> "$dir/pids"
    if ready "$p" /; then
      echo "STATSNAP_TEST_VERSITYGW_ENDPOINT=http://127.0.0.1:$p" >> "$dir/env"
    else
      echo "servers: versitygw did not become ready:"; tail -5 "$dir/versitygw.log"
    fi
  fi
  if command -v fake-gcs-server >/dev/null 2>&1; then
    local p
    p=$(freeport)
    mkdir -p "$dir/gcs"
    fake-gcs-server -scheme http -host 127.0.0.1 -port "$p" -public-host "127.0.0.1:$p" -external-url "http://127.0.0.1:$p" \
      -backend filesystem -filesystem-root "$dir/gcs" -log-level warn >"$dir/gcs.log" 2>&1 &
    echo $! >> "$dir/pids"
    if ready "$p" /storage/v1/b; then
      echo "STATSNAP_TEST_GCS_EMULATOR_HOST=127.0.0.1:$p" >> "$dir/env"
    else
      echo "servers: fake-gcs-server did not become ready:"; tail -5 "$dir/gcs.log"
    fi
  fi
  if [ -x "$tools/node_modules/.bin/azurite-blob" ]; then
    local p
    p=$(freeport)
    mkdir -p "$dir/azurite"
    "$tools/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 --blobPort "$p" --location "$dir/azurite" \
      --disableTelemetry --skipApiVersionCheck --silent >"$dir/azurite.log" 2>&1 &
    echo $! >> "$dir/pids"
    if ready "$p" /devstoreaccount1?comp=list; then
      echo "STATSNAP_TEST_AZURE_DOMAIN=127.0.0.1:$p" >> "$dir/env"
    else
      echo "servers: azurite did not become ready:"; tail -5 "$dir/azurite.log"
    fi
  fi
  {
    echo "STATSNAP_TEST_S3_ACCESS_KEY=$S3_KEY"
    echo "STATSNAP_TEST_S3_SECRET_KEY=$S3_SECRET"
    echo "STATSNAP_TEST_AZURE_ACCOUNT=$AZ_ACCOUNT"
    echo "STATSNAP_TEST_AZURE_KEY=$AZ_KEY"
  } >> "$dir/env"
  grep ENDPOINT\\\|HOST\\\|DOMAIN "$dir/env" | sed 's/^/servers: /'
}

stop() {
  local dir=$1
  [ -f "$dir/pids" ] || return 0
  while read -r pid; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
  done < "$dir/pids"
  sleep 1
  while read -r pid; do
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
  done < "$dir/pids"
  rm -f "$dir/pids"
}

case "${1:-}" in
  install) install ;;
  start) start "${2:?DIR}" ;;
  stop) stop "${2:?DIR}" ;;
  *) echo "usage: $0 install | start DIR | stop DIR" >&2; exit 2 ;;
esac
