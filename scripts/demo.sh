#!/usr/bin/env bash
# The main job on a built-in sample player, from a fresh clone:
# build, create sample data, back up, verify, list.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${DEMO_DIR:-./demo}
go build -o ./statsnap ./cmd/statsnap
mkdir -p "$work"
cd "$work"
bin=../statsnap
if [ ! -f "data/players/Chocobo Flör/stats.duckdb" ]; then
  $bin sample --gamertag "Chocobo Flör" --matches 2000
fi
$bin players
$bin backup --gamertag "Chocobo Flör"
$bin verify --backup "data/backups/Chocobo Flör"
$bin snapshots
