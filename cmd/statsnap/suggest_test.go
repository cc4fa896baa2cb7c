package main

import (
	"slices"
	"testing"
)

func TestSuggest(t *testing.T) {
	players := []string{"Chocobo Flör", "JGtm", "Snipe God", "ÉLODIE", "match_stats"}
	cases := []struct {
		in   string
		want []string
	}{
		{"Chocobo Flor", []string{"Chocobo Flör"}},
		{"chocobo flör", []string{"Chocobo Flör"}},
		{"ChocoboFlor", []string{"Chocobo Flör"}},
		{"Chocobo", []string{"Chocobo Flör"}}, // a prefix
		{"jgtm", []string{"JGtm"}},
		{"JGtn", []string{"JGtm"}},
		{"elodie", []string{"ÉLODIE"}},
		{"Snipe Gad", []string{"Snipe God"}},
		{"matchstats", []string{"match_stats"}},
		{"Nobody", nil},
		{"JGtm", nil}, // itself is not a suggestion
		{"", nil},
	}
	for _, c := range cases {
		got := suggest(c.in, players)
		if len(got) == 0 && len(c.want) == 0 {
			continue
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("suggest(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := didYouMean("Chocobo Flor", players); got != `; did you mean "Chocobo Flör"?` {
		t.Errorf("didYouMean: %q", got)
	}
	if got := didYouMean("zzz", players); got != "" {
		t.Errorf("didYouMean(zzz) = %q", got)
	}
	// Best first, at most three.
	many := []string{"abcd", "abce", "abcf", "abcg", "abcd1"}
	if got := suggest("abcx", many); len(got) != 3 {
		t.Errorf("suggest returned %d candidates: %q", len(got), got)
	}
}

func TestEditDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"a", "", 1}, {"kitten", "sitting", 3}, {"flör", "flor", 1}, {"abc", "abc", 0}} {
		if got := editDistance(c.a, c.b); got != c.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.d)
		}
	}
}
