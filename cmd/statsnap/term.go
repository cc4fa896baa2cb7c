package main

// showProgress reports whether progress is drawn: on a terminal only, and
// never under --json or --quiet.
func (g *globals) showProgress() bool {
	return !g.JSON && !g.Quiet && g.terminal()
}
