package main

import (
	"sort"
	"strings"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// foldName is the form two names are compared in for "did you mean":
// compatibility-decomposed, without combining marks, case-folded and with
// spaces, dashes and underscores removed. "Chocobo Flör", "chocobo flor"
// and "ChocoboFlor" all fold to "chocoboflor".
func foldName(s string) string {
	t := transform.Chain(norm.NFKD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	out, _, err := transform.String(t, s)
	if err != nil {
		out = s
	}
	out = cases.Fold().String(out)
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || r == '-' || r == '_' {
			return -1
		}
		return r
	}, out)
}

// suggest returns the candidates close to name, best first: those equal
// after folding, then those within a small edit distance of it (one edit
// per four letters, at least one, at most three). It never returns name
// itself, and at most three candidates.
func suggest(name string, candidates []string) []string {
	fname := foldName(name)
	limit := min(max(len([]rune(fname))/4, 1), 3)
	type scored struct {
		s    string
		dist int
	}
	var hits []scored
	for _, c := range candidates {
		if c == name {
			continue
		}
		fc := foldName(c)
		d := editDistance(fname, fc)
		if fc == fname {
			d = 0
		} else if strings.HasPrefix(fc, fname) && len(fname) >= 3 {
			d = min(d, 1) // a prefix the user stopped typing
		}
		if d <= limit {
			hits = append(hits, scored{c, d})
		}
	}
	sort.SliceStable(hits, func(i, j int) bool {
		if hits[i].dist != hits[j].dist {
			return hits[i].dist < hits[j].dist
		}
		return hits[i].s < hits[j].s
	})
	out := make([]string, 0, 3)
	for _, h := range hits {
		if len(out) == 3 {
			break
		}
		out = append(out, h.s)
	}
	return out
}

// didYouMean is the end of a "not found" sentence: "; did you mean "X"?"
// or "" when nothing is close.
func didYouMean(name string, candidates []string) string {
	s := suggest(name, candidates)
	if len(s) == 0 {
		return ""
	}
	quoted := make([]string, len(s))
	for i, c := range s {
		quoted[i] = `"` + c + `"`
	}
	return "; did you mean " + strings.Join(quoted, " or ") + "?"
}

// editDistance is the Levenshtein distance between a and b, in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
