package fsutil

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestScratchRemovesDeadOwners: a scratch folder whose owner is gone (its
// flock free, as the kernel leaves it when a process is killed) is removed
// by the next NewScratch, with what it holds; a live one, and a folder
// without a lock file, are left alone.
func TestScratchRemovesDeadOwners(t *testing.T) {
	parent := t.TempDir()
	live, err := NewScratch(parent, "spill")
	if err != nil {
		t.Fatal(err)
	}
	dead, err := NewScratch(parent, "spill")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dead.Dir, "duckdb_temp_block"), make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := dead.lock.Unlock(); err != nil { // what dying does to the lock
		t.Fatal(err)
	}
	unlocked := filepath.Join(parent, ScratchPrefix+"verify-1")
	if err := os.Mkdir(unlocked, 0o700); err != nil {
		t.Fatal(err)
	}
	next, err := NewScratch(parent, "diff")
	if err != nil {
		t.Fatal(err)
	}
	for dir, want := range map[string]bool{live.Dir: true, dead.Dir: false, unlocked: true, next.Dir: true} {
		if _, err := os.Stat(dir); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", filepath.Base(dir), err == nil, want)
		}
	}
	for _, s := range []*Scratch{live, next} {
		if err := s.Remove(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(s.Dir); err == nil {
			t.Errorf("%s stayed after Remove", s.Dir)
		}
	}
}

// TestScratchUnlockedAge: beside a database, where only statsnap names a
// folder so, one without a lock file is a leftover once older than the
// age given (its maker was killed before it locked it); a recent one may
// be a restore that is just starting.
func TestScratchUnlockedAge(t *testing.T) {
	parent := t.TempDir()
	const prefix = ".statsnap-restore-"
	old, recent := filepath.Join(parent, prefix+"old"), filepath.Join(parent, prefix+"recent")
	for _, d := range []string{old, recent} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	then := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(old, then, then); err != nil {
		t.Fatal(err)
	}
	s, err := NewScratchAs(parent, prefix, prefix, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Remove()
	if _, err := os.Stat(old); err == nil {
		t.Error("an unlocked folder two hours old stayed")
	}
	if _, err := os.Stat(recent); err != nil {
		t.Error("a recent unlocked folder was removed")
	}
}

// TestScratchSurvivesConcurrentStarts: scratch folders made at the same
// moment by goroutines of one process (backup --all --jobs 2 reading two
// players' macros) or by several processes never remove each other: a
// folder is only seen under its family's name once its lock is held.
func TestScratchSurvivesConcurrentStarts(t *testing.T) {
	parent := t.TempDir()
	const workers, rounds = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				s, err := NewScratch(parent, "race")
				if err != nil {
					errs <- err
					return
				}
				// Others start meanwhile; the folder must still be there
				// for its owner to write in.
				if err := os.WriteFile(filepath.Join(s.Dir, "f"), []byte("x"), 0o600); err != nil {
					errs <- fmt.Errorf("write in a live scratch folder: %w", err)
				}
				if err := s.Remove(); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if des, _ := os.ReadDir(parent); len(des) != 0 {
		var names []string
		for _, de := range des {
			names = append(names, de.Name())
		}
		t.Errorf("left behind: %v", names)
	}
}
