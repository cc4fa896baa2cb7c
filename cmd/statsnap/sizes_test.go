package main

import (
	"strings"
	"testing"
)

// TestOneSizePerSnapshot: backup and snapshots give a snapshot the same
// size (its Parquet files and its manifest), and backup's summary says
// what it counts; total_size_bytes keeps the seed's meaning (Parquet only).
func TestOneSizePerSnapshot(t *testing.T) {
	dir := t.TempDir()
	samplePlayer(t, dir, "p", 5)
	var b backupJSONDoc
	jsonOut(t, mustCLI(t, dir, "backup", "--gamertag", "p", "--json"), &b)
	var s struct {
		Snapshots []struct {
			SizeBytes int64 `json:"size_bytes"`
		} `json:"snapshots"`
	}
	jsonOut(t, mustCLI(t, dir, "snapshots", "--json"), &s)
	var bs struct {
		Snapshots []struct {
			SizeBytes      int64 `json:"size_bytes"`
			TotalSizeBytes int64 `json:"total_size_bytes"`
		} `json:"snapshots"`
	}
	jsonOut(t, mustCLI(t, dir, "backup", "--gamertag", "p", "--json", "--time", "2030-01-01T00:00:00Z"), &bs)
	jsonOut(t, mustCLI(t, dir, "snapshots", "--json"), &s)
	if len(s.Snapshots) != 2 || bs.Snapshots[0].SizeBytes != s.Snapshots[1].SizeBytes {
		t.Fatalf("backup says %d bytes, snapshots %+v", bs.Snapshots[0].SizeBytes, s.Snapshots)
	}
	if bs.Snapshots[0].TotalSizeBytes >= bs.Snapshots[0].SizeBytes {
		t.Errorf("total_size_bytes %d should be the Parquet files only, below size_bytes %d", bs.Snapshots[0].TotalSizeBytes, bs.Snapshots[0].SizeBytes)
	}
	r := mustCLI(t, dir, "backup", "--gamertag", "p")
	if !strings.Contains(r.Stdout, "(Parquet ") || !strings.Contains(r.Stdout, " + manifest ") {
		t.Errorf("the summary does not say what its size counts: %s", r.Stdout)
	}
}
