package main

import "os"

// showProgress reports whether progress is drawn: on a terminal only, and
// never under --json or --quiet.
func (g *globals) showProgress() bool {
	return !g.JSON && !g.Quiet && g.terminal()
}

// colour reports whether verdicts are coloured: on a terminal, unless
// --no-color or the NO_COLOR convention (any non-empty value) says no.
func (g *globals) colour() bool {
	return !g.NoColor && os.Getenv("NO_COLOR") == "" && g.terminal()
}

// ANSI colours of the three verdicts.
const (
	colourOK   = "\033[32m" // green
	colourFail = "\033[1;31m"
	colourWarn = "\033[33m"
	colourOff  = "\033[0m"
)

// painter colours a string, or returns it as it is.
type painter func(colour, s string) string

// paint colours s when colours are on.
func (g *globals) paint(colour, s string) string {
	if !g.colour() {
		return s
	}
	return colour + s + colourOff
}

// rowWord is "row" or "rows" for a count shown in a column.
func rowWord(n int64) string {
	if n == 1 {
		return "row"
	}
	return "rows"
}
