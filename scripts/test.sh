#!/usr/bin/env bash
# Every test: formatting, vet, the linter, the whole suite (end to end through the
# real binary), and a short run of each fuzz target over its corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
go vet ./...
# The code statsnap owns builds on macOS and Windows too: cross-compile
# every package that does not link DuckDB (which needs a C toolchain for
# each target), so a Linux-only field or call is caught here.
nocgo=$(go list -f '{{.ImportPath}} {{join .Deps " "}}' ./... | grep -v 'duckdb-go' | cut -d' ' -f1)
for goos in darwin windows; do
  GOOS=$goos go build $nocgo
done
# The linter, pinned, with the layering rules of .golangci.yml. go run
# builds it once into the module cache, so a fresh machine needs nothing
# but Go.
go run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0 run --allow-parallel-runners ./...
go test -count=1 -timeout 40m ./...
# The race detector on the packages whose concurrency is their own (the
# storage backends, the scan's reads ahead, verify's lanes): about two
# minutes, where the whole suite under -race would take most of an hour.
go test -race -count=1 -timeout 20m ./snapshot/ ./verify/ ./internal/storage/... ./internal/fsutil/
# Fuzz briefly (FUZZTIME=0 skips): new inputs beyond the kept corpus. A
# count, not a duration: the fuzzing coordinator can time out spuriously
# on a loaded machine when given a wall-clock budget.
fuzztime=${FUZZTIME:-2000x}
if [ "$fuzztime" != "0" ]; then
  for pkg in $(go list ./...); do
    dir=$(go list -f '{{.Dir}}' "$pkg")
    for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
      echo "fuzz $pkg $target ($fuzztime)"
      go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"
    done
  done
fi
