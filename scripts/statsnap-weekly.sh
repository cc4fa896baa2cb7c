#!/bin/sh
# The weekly job: back up every player, verify a slice of what the backup
# root holds, then prune with retention that counts only snapshots that
# verify. Adapt the folders through the environment (or edit the defaults).
#
#   STATSNAP_DATA     holds players/{gamertag}/stats.duckdb
#   STATSNAP_BACKUPS  the backup root: one folder per player (a path or a URL)
#   STATSNAP_BUDGET   how much verify reads each run (default 25%: every
#                     file is re-read at least once a month)
#   STATSNAP          the statsnap binary (default: the one on PATH)
#
# It exits non-zero when any step failed, so that cron's mail (MAILTO) or
# systemd's failed state reports it; later steps still run.
PATH=/usr/local/bin:/usr/bin:/bin:$PATH
DATA=${STATSNAP_DATA:-/srv/openspartan/data}
BACKUPS=${STATSNAP_BACKUPS:-/srv/openspartan/backups}
BUDGET=${STATSNAP_BUDGET:-25%}
STATSNAP=${STATSNAP:-statsnap}

"$STATSNAP" backup --all --data-dir "$DATA" --output "$BACKUPS" --lock-wait 30m
backup_status=$?

# Re-read the least recently checked files first, within the budget: over
# a few weeks every file of every snapshot is checked again, and the ledger
# remembers when.
"$STATSNAP" verify --all-players --output "$BACKUPS" --budget "$BUDGET" --lock-wait 30m
verify_status=$?

# Prune even when a step failed: only snapshots known to verify count, a
# broken one is reported and kept for you to look at, and the newest good
# snapshot of each player is never removed.
"$STATSNAP" prune --all --output "$BACKUPS" --keep-weekly 8 --keep-monthly 12 --lock-wait 30m
prune_status=$?

[ "$backup_status" -eq 0 ] && [ "$verify_status" -eq 0 ] && [ "$prune_status" -eq 0 ]
