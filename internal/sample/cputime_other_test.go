//go:build !unix

package sample

import "time"

func processCPU() time.Duration { return 0 }
