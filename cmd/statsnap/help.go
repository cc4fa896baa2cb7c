package main

import "strings"

// exitStatus renders a command's EXIT STATUS block for its --help, as
// restic's commands do: one line per code, "CODE meaning".
func exitStatus(lines ...string) string {
	var b strings.Builder
	b.WriteString("\n\nEXIT STATUS\n")
	for _, l := range lines {
		code, text, _ := strings.Cut(l, " ")
		b.WriteString("  " + code + strings.Repeat(" ", max(1, 5-len(code))) + text + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

// The lines every command shares.
const (
	exitLineUsage       = "2 usage error: an unknown flag or command, or a bad value"
	exitLineInterrupted = "130 interrupted (Ctrl-C, SIGTERM) before anything was committed; nothing was changed"
)
