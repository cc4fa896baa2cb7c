//go:build unix

package sample

import (
	"syscall"
	"time"
)

// processCPU is the CPU time used by this process so far, all threads
// included; 0 where it cannot be read.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
