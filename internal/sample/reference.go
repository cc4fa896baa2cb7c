package sample

import (
	"fmt"
	"strings"

	"github.com/openspartan/statsnap/internal/duckdb/sqlq"
)

// Small lists of Halo Infinite names. They only need to look right to a
// player browsing the demo database; weights are rough guesses.

type playlist struct {
	name      string
	weight    int // relative share of matches
	ranked    bool
	firefight bool
	teamSize  int // players per team, the player included
	modes     []string
	maps      []string
}

var (
	arenaMaps  = []string{"Aquarius", "Argyle", "Bazaar", "Behemoth", "Catalyst", "Cliffhanger", "Empyrean", "Forbidden", "Live Fire", "Origin", "Prism", "Recharge", "Solitude", "Streets"}
	rankedMaps = []string{"Aquarius", "Empyrean", "Forbidden", "Live Fire", "Origin", "Prism", "Recharge", "Solitude", "Streets"}
	btbMaps    = []string{"Breaker", "Command", "Deadlock", "Fragmentation", "Highpower", "Scarr"}
	arenaModes = []string{"Slayer", "Capture the Flag", "Strongholds", "Oddball", "King of the Hill"}
)

var playlists = []playlist{
	{"Quick Play", 7, false, false, 4, arenaModes, arenaMaps},
	{"Ranked Arena", 5, true, false, 4, arenaModes, rankedMaps},
	{"Ranked Slayer", 2, true, false, 4, []string{"Slayer"}, rankedMaps},
	{"Big Team Battle", 3, false, false, 12, []string{"Slayer", "Capture the Flag", "Total Control", "Stockpile"}, btbMaps},
	{"Husky Raid", 1, false, false, 4, []string{"Capture the Flag"}, arenaMaps},
	{"Squad Battle", 1, false, false, 8, []string{"Slayer", "Capture the Flag", "King of the Hill"}, append(append([]string{}, btbMaps...), "Behemoth", "Argyle")},
	{"Team Snipers", 1, false, false, 4, []string{"Slayer"}, arenaMaps},
	{"Firefight: King of the Hill", 1, false, true, 4, []string{"Firefight King of the Hill"}, []string{"Behemoth", "Catalyst", "Forbidden", "Solitude"}},
}

type mode struct {
	name     string
	category string
	variant  int // GameVariantCategory as the API numbers it
}

var modes = []mode{
	{"Slayer", "Slayer", 6},
	{"Capture the Flag", "Objective", 15},
	{"Strongholds", "Objective", 11},
	{"Oddball", "Objective", 18},
	{"King of the Hill", "Objective", 12},
	{"Total Control", "Objective", 14},
	{"Stockpile", "Objective", 19},
	{"Firefight King of the Hill", "Firefight", 41},
}

type medal struct {
	name       string
	kind       string
	difficulty int
	chance     float64 // probability of appearing in a given match
	mode       string  // only awarded in this mode when set
}

var medals = []medal{
	{"Double Kill", "multikill", 0, 0.55, ""},
	{"Triple Kill", "multikill", 1, 0.18, ""},
	{"Overkill", "multikill", 2, 0.04, ""},
	{"Killtacular", "multikill", 3, 0.008, ""},
	{"Killing Spree", "spree", 0, 0.30, ""},
	{"Killing Frenzy", "spree", 1, 0.06, ""},
	{"Running Riot", "spree", 2, 0.012, ""},
	{"Rampage", "spree", 3, 0.002, ""},
	{"Perfect", "skill", 0, 0.35, ""},
	{"Snipe", "skill", 0, 0.12, ""},
	{"No Scope", "skill", 1, 0.03, ""},
	{"Reversal", "skill", 0, 0.22, ""},
	{"Revenge", "skill", 0, 0.28, ""},
	{"Avenger", "skill", 0, 0.18, ""},
	{"Bodyguard", "skill", 0, 0.08, ""},
	{"Guardian Angel", "skill", 0, 0.04, ""},
	{"Quick Draw", "skill", 0, 0.07, ""},
	{"Extermination", "skill", 2, 0.01, ""},
	{"Back Smack", "style", 0, 0.15, ""},
	{"Grenadier", "style", 0, 0.08, ""},
	{"Nade Shot", "style", 0, 0.10, ""},
	{"Quigley", "style", 1, 0.02, ""},
	{"Stick", "style", 0, 0.06, ""},
	{"Hail Mary", "style", 1, 0.02, ""},
	{"Ninja", "style", 0, 0.05, ""},
	{"Pull", "style", 0, 0.04, ""},
	{"Splatter", "vehicle", 0, 0.05, ""},
	{"Flag Joust", "objective", 0, 0.20, "Capture the Flag"},
	{"Goal Line Stand", "objective", 1, 0.10, "Capture the Flag"},
	{"Clock Stop", "objective", 0, 0.25, "Oddball"},
	{"Hill Guardian", "objective", 0, 0.30, "King of the Hill"},
}

type weapon struct {
	name   string
	class  string
	chance float64
}

var weapons = []weapon{
	{"MA40 AR", "rifle", 0.60},
	{"BR75", "rifle", 0.55},
	{"VK78 Commando", "rifle", 0.25},
	{"MK50 Sidekick", "pistol", 0.40},
	{"M392 Bandit", "rifle", 0.15},
	{"Mangler", "pistol", 0.12},
	{"Disruptor", "pistol", 0.08},
	{"Plasma Pistol", "pistol", 0.06},
	{"Pulse Carbine", "rifle", 0.10},
	{"Needler", "smg", 0.08},
	{"Stalker Rifle", "sniper", 0.08},
	{"Shock Rifle", "sniper", 0.07},
	{"CQS48 Bulldog", "shotgun", 0.12},
	{"Heatwave", "shotgun", 0.07},
	{"S7 Sniper", "sniper", 0.15},
	{"Skewer", "sniper", 0.06},
	{"Cindershot", "launcher", 0.06},
	{"Hydra", "launcher", 0.05},
	{"M41 SPNKr", "launcher", 0.08},
	{"Ravager", "launcher", 0.06},
	{"Sentinel Beam", "beam", 0.06},
	{"Gravity Hammer", "melee", 0.06},
	{"Energy Sword", "melee", 0.08},
	{"Frag Grenade", "grenade", 0.30},
	{"Plasma Grenade", "grenade", 0.20},
	{"Melee", "melee", 0.45},
}

// Other players are named from these parts; a few carry accents so that
// gamertag handling is exercised on both sides of a match.
var (
	nameHeads = []string{"Noble", "Spartan", "Ghost", "Rogue", "Zoë", "Ñandú", "Björn", "Kaiju", "Sniper", "Warthog", "Pelican", "Jackal", "Grunt", "Elite", "Brute", "Hunter", "Renée", "Søren", "Łukasz", "Kōji", "Oddball", "Mongoose", "Banshee", "Scorpion", "Wraith", "Phantom", "Spectre", "Chocobo"}
	nameTails = []string{"Six", "Slayer", "Reaper", "Fox", "Wolf", "Storm", "Blade", "Nova", "Fénix", "Echo", "Viper", "Titan", "Hawk", "Raven", "Bishop", "Falcon", "Lancer", "Warden", "Jäger", "Oni"}
)

func sqlString(s string) string { return sqlq.Literal(s) }

func sqlStringList(ss []string) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = sqlString(s)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func sqlIdent(s string) string { return sqlq.Ident(s) }

func playlistValues() string {
	rows := make([]string, len(playlists))
	for i, p := range playlists {
		rows[i] = fmt.Sprintf("(%d, %s, %t, %t, %d, %s, %s)", i+1, sqlString(p.name), p.ranked, p.firefight, p.teamSize, sqlStringList(p.modes), sqlStringList(p.maps))
	}
	return strings.Join(rows, ",\n")
}

// playlistPicker is a list of playlist numbers repeated by weight, so that
// indexing it with a uniform hash draws playlists in proportion.
func playlistPicker() (list string, n int) {
	var parts []string
	for i, p := range playlists {
		for range p.weight {
			parts = append(parts, fmt.Sprint(i+1))
		}
	}
	return "[" + strings.Join(parts, ", ") + "]", len(parts)
}

func modeValues() string {
	rows := make([]string, len(modes))
	for i, m := range modes {
		rows[i] = fmt.Sprintf("(%s, %s, %d)", sqlString(m.name), sqlString(m.category), m.variant)
	}
	return strings.Join(rows, ",\n")
}

func medalValues() string {
	rows := make([]string, len(medals))
	for i, m := range medals {
		md := "NULL"
		if m.mode != "" {
			md = sqlString(m.mode)
		}
		rows[i] = fmt.Sprintf("(%d, %s, %s, %d, %g, %s)", i+1, sqlString(m.name), sqlString(m.kind), m.difficulty, m.chance, md)
	}
	return strings.Join(rows, ",\n")
}

func weaponValues() string {
	rows := make([]string, len(weapons))
	for i, w := range weapons {
		rows[i] = fmt.Sprintf("(%d, %s, %s, %g)", i+1, sqlString(w.name), sqlString(w.class), w.chance)
	}
	return strings.Join(rows, ",\n")
}
