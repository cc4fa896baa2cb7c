package sample

import (
	"strconv"
	"strings"
	"time"
)

// step is one SQL statement with a name for error messages.
type step struct {
	name string
	sql  string
}

// Every random-looking value is a pure function of (seed, salt, row number)
// through DuckDB's hash(), never random(): setseed()/random() hand out numbers
// in whatever order worker threads reach the rows, so the same seed would give
// different rows on machines with different core counts. Each use has its own
// salt so that no two columns are correlated by accident.
//
// The helpers are TEMP macros and the working tables TEMP tables: they live in
// the connection's temporary catalog and never reach the database file.
const helperSQL = `
CREATE TEMP MACRO rh(k, i) AS hash({{seed}}, k, i);
-- The people a player meets are the database's own: matches added later
-- (with another seed) meet the same friends and strangers.
CREATE TEMP MACRO rhp(k, i) AS hash({{people_seed}}, k, i);
CREATE TEMP MACRO rh3(k, i, j) AS hash({{seed}}, k, i, j);
CREATE TEMP MACRO ru(k, i) AS (rh(k, i) >> 11)::DOUBLE / 9007199254740992.0;
CREATE TEMP MACRO ru3(k, i, j) AS (rh3(k, i, j) >> 11)::DOUBLE / 9007199254740992.0;
-- Every modulo of a hash casts its divisor to UBIGINT: UBIGINT % INTEGER
-- is computed in HUGEINT, whose division is some thirty times slower.
CREATE TEMP MACRO rmod(h, n) AS ((h) % (n)::UBIGINT)::BIGINT;
CREATE TEMP MACRO ri(k, i, lo, hi) AS (lo) + rmod(rh(k, i), (hi) - (lo) + 1);
CREATE TEMP MACRO ri3(k, i, j, lo, hi) AS (lo) + rmod(rh3(k, i, j), (hi) - (lo) + 1);
CREATE TEMP MACRO mk_guid(a, b) AS printf('%08x-%04x-4%03x-%04x-%012x', (a) >> 32, ((a) >> 16) & 65535, (a) & 4095, (((b) >> 48) & 16383) | 32768, (b) & 281474976710655);
CREATE TEMP MACRO name_guid(kind, name) AS mk_guid(hash(kind, name), hash(name, kind));
CREATE TEMP MACRO mk_ts(us) AS make_timestamp((us)::BIGINT);
-- Straight from epoch microseconds: exact, and free of the ICU time zone
-- machinery that a TIMESTAMP to TIMESTAMPTZ cast goes through.
CREATE TEMP MACRO mk_tstz(us) AS make_timestamptz((us)::BIGINT);
CREATE TEMP MACRO tier_of(c) AS CASE WHEN c < 300 THEN 'Bronze' WHEN c < 600 THEN 'Silver' WHEN c < 900 THEN 'Gold' WHEN c < 1200 THEN 'Platinum' WHEN c < 1500 THEN 'Diamond' ELSE 'Onyx' END;
CREATE TEMP MACRO subtier_of(c) AS CASE WHEN c >= 1500 THEN NULL ELSE 1 + (c % 300) // 50 END;
-- Slot 0 is the player, slots below the team size teammates, the rest
-- opponents. Teammates often come from a circle of 20 friends; everyone else
-- is drawn from a pool of 4980 strangers with a stride that keeps the players
-- of one match distinct. Each person's xuid lies in a band of its own, so
-- xuids are unique whatever the hash says.
CREATE TEMP MACRO stranger_pid(i, slot) AS 20 + (rmod(rh('pool-base', i), 4980) + (slot) * 2917) % 4980;
CREATE TEMP MACRO person_xuid(pid) AS 2535000000000000 + (pid) * 150000000 + rmod(rhp('person-xuid', pid), 150000000);
CREATE TEMP MACRO mate_pid(i, slot) AS CASE WHEN ru3('friend', i, slot) < 0.55 THEN (rmod(rh('friend-base', i), 20) + (slot)) % 20 ELSE stranger_pid(i, slot) END;
`

const referenceSQL = `
CREATE TEMP TABLE tmp_playlists AS
SELECT *,
	name_guid('playlist', playlist_name) AS playlist_id,
	name_guid('playlist-version', playlist_name) AS playlist_version_id
FROM (VALUES {{playlists}}) v(pl, playlist_name, is_ranked, is_firefight, team_size, modes, maps);

CREATE TEMP TABLE tmp_modes AS
SELECT * FROM (VALUES {{modes}}) v(mode_name, mode_category, variant_category);

-- Asset ids depend on names only, as in the real API, and are computed once
-- per name here rather than once per match: printf is not cheap.
CREATE TEMP TABLE tmp_maps AS
SELECT map_name, name_guid('map', map_name) AS map_id, name_guid('map-version', map_name) AS map_version_id
FROM (SELECT DISTINCT unnest(maps) AS map_name FROM tmp_playlists);

CREATE TEMP TABLE tmp_pairs AS
SELECT mode_name, map_name, pair_name, name_guid('pair', pair_name) AS pair_id
FROM (SELECT mode_name, map_name, mode_name || ' on ' || map_name AS pair_name FROM tmp_modes CROSS JOIN tmp_maps);

CREATE TEMP TABLE tmp_variants AS
SELECT mode_name, is_ranked, game_variant_name, name_guid('variant', game_variant_name) AS game_variant_id
FROM (
	SELECT mode_name, is_ranked, CASE WHEN is_ranked THEN 'Ranked:' || mode_name ELSE mode_name END AS game_variant_name
	FROM tmp_modes CROSS JOIN (VALUES (false), (true)) r(is_ranked)
);

CREATE TEMP TABLE tmp_medals AS
SELECT *, rmod(hash('medal', medal_name), 4294967296) AS medal_name_id
FROM (VALUES {{medals}}) v(medal_idx, medal_name, medal_type, difficulty, chance, only_mode);

-- Asset ids are 64-bit hashes in the API, so half of them do not fit a
-- signed BIGINT.
CREATE TEMP TABLE tmp_weapons AS
SELECT *, hash('weapon', weapon_name) AS weapon_id
FROM (VALUES {{weapons}}) v(weapon_idx, weapon_name, weapon_class, chance);

CREATE TEMP TABLE tmp_people AS
WITH named AS (
	SELECT pid,
		person_xuid(pid) AS xuid,
		CASE rmod(rhp('person-format', pid), 4)
			WHEN 0 THEN head || ' ' || tail
			WHEN 1 THEN head || tail || rmod(rhp('person-num', pid), 100)::VARCHAR
			WHEN 2 THEN 'xX ' || head || tail || ' Xx'
			ELSE head || ' ' || rmod(rhp('person-num', pid), 1000)::VARCHAR
		END AS base_name
	FROM (
		SELECT pid,
			{{heads}}[1 + rmod(rhp('person-head', pid), len({{heads}}))] AS head,
			{{tails}}[1 + rmod(rhp('person-tail', pid), len({{tails}}))] AS tail
		FROM range(5000) t(pid)
	)
)
-- Gamertags are unique on Xbox Live; a taken name gets a four-digit suffix,
-- distinct among the holders of one name because 7919 and 9000 are coprime.
SELECT pid, xuid,
	CASE WHEN n = 1 THEN base_name
		ELSE base_name || '#' || (1000 + (n * 7919 + rmod(hash(base_name), 9000)) % 9000)::VARCHAR
	END AS gamertag
FROM (SELECT named.*, row_number() OVER (PARTITION BY base_name ORDER BY pid) AS n FROM named);
`

// tmpMatchesSQL fixes everything about a match that other tables derive
// from: identity, playlist, map, outcome, timing, session and the slice of
// highlight ids it owns. The running sums walk the matches in order, so that
// sessions and the CSR curve read like one player's history.
const tmpMatchesSQL = `
CREATE TEMP TABLE tmp_matches AS
WITH base AS (
	SELECT i AS idx,
		mk_guid(rh('match-a', i), rh('match-b', i)) AS match_id,
		{{plpick}}[1 + rmod(rh('playlist', i), {{plpickn}})] AS pl
	FROM range({{first}}, {{first}} + {{matches}}) t(i)
), picked AS (
	SELECT b.idx, b.match_id, p.playlist_name, p.playlist_id, p.playlist_version_id, p.is_ranked, p.is_firefight, p.team_size,
		p.modes[1 + rmod(rh('mode', b.idx), len(p.modes))] AS mode_name,
		p.maps[1 + rmod(rh('map', b.idx), len(p.maps))] AS map_name
	FROM base b JOIN tmp_playlists p ON p.pl = b.pl
), shaped AS (
	SELECT x.*, md.mode_category, md.variant_category,
		CASE
			WHEN x.is_firefight THEN CASE WHEN ru('outcome', x.idx) < 0.7 THEN 2 ELSE 3 END
			WHEN ru('outcome', x.idx) < 0.03 THEN 4
			WHEN ru('outcome', x.idx) < 0.04 THEN 1
			WHEN ru('outcome', x.idx) < 0.56 THEN 2
			ELSE 3
		END AS outcome,
		CASE
			WHEN x.is_firefight THEN ri('duration', x.idx, 900, 1500)
			WHEN x.team_size >= 8 THEN ri('duration', x.idx, 600, 900)
			ELSE ri('duration', x.idx, 420, 720)
		END AS duration_s,
		(x.idx = {{first}} OR ru('session', x.idx) < 0.14) AS new_session,
		ri('highlights', x.idx, 40, 80) AS n_hl,
		ri('team', x.idx, 0, 1) AS team_id,
		-- Firefight squads face AI only.
		CASE WHEN x.is_firefight THEN x.team_size ELSE 2 * x.team_size END AS n_players,
		md.mode_category = 'Objective' AS is_objective
	FROM picked x JOIN tmp_modes md ON md.mode_name = x.mode_name
), timed AS (
	SELECT s.*,
		CASE WHEN s.new_session
			THEN (ri('session-gap', s.idx, 4 * 3600, 48 * 3600) * {{session_scale}})::BIGINT
			ELSE ri('match-gap', s.idx, 45, 240)
		END AS gap_s,
		CASE
			WHEN NOT s.is_ranked THEN 0
			WHEN s.outcome = 2 THEN ri('csr-win', s.idx, 6, 14)
			WHEN s.outcome = 3 THEN -ri('csr-loss', s.idx, 6, 15)
			WHEN s.outcome = 4 THEN -ri('csr-quit', s.idx, 15, 20)
			ELSE 0
		END AS csr_step,
		ri('placement', s.idx, 1, s.n_players) AS self_place
	FROM shaped s
), walked AS (
	SELECT t.*,
		{{origin_us}} + (sum(t.gap_s + t.duration_s) OVER w - t.duration_s) * 1000000 + ri('start-ms', t.idx, 0, 999) * 1000 AS start_us,
		{{session_base}} + sum(t.new_session::INTEGER) OVER w AS session_id,
		sum(t.csr_step) OVER w AS csr_walk,
		{{hl_base}} + sum(t.n_hl) OVER w - t.n_hl AS hl_offset
	FROM timed t
	WINDOW w AS (ORDER BY t.idx ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)
SELECT w.*,
	w.start_us + (w.duration_s + ri('sync-delay', w.idx, 5, 600)) * 1000000 AS created_us,
	least(3000, greatest(0, {{csr_base}} + w.csr_walk - w.csr_step))::INTEGER AS csr_pre,
	least(3000, greatest(0, {{csr_base}} + w.csr_walk))::INTEGER AS csr_post
FROM walked w
`

const matchStatsSQL = `
INSERT INTO match_stats BY NAME
WITH s0 AS (
	SELECT m.*,
		CASE WHEN m.outcome = 4 THEN ri('left-pct', m.idx, 20, 80) ELSE 100 END AS played_pct,
		CASE WHEN m.is_firefight THEN 60 WHEN m.team_size >= 8 THEN 32 ELSE 24 END AS kill_cap
	FROM tmp_matches m
), s1 AS (
	SELECT s0.*,
		s0.duration_s * s0.played_pct // 100 AS played_s,
		ri('kills', s0.idx, 2, s0.kill_cap) * s0.played_pct // 100 AS k,
		ri('deaths', s0.idx, 1, CASE WHEN s0.is_firefight THEN 8 ELSE 20 END) * s0.played_pct // 100 AS d,
		ri('assists', s0.idx, 0, 15) * s0.played_pct // 100 AS a,
		1 + ri('shots', s0.idx, 120, 640) * s0.played_pct // 100 AS fired,
		CASE WHEN s0.mode_name = 'Slayer' THEN CASE WHEN s0.team_size >= 8 THEN 100 ELSE 50 END ELSE 3 END AS target
	FROM s0
), s2 AS (
	SELECT s1.*,
		s1.fired * ri('accuracy', s1.idx, 320, 610) // 1000 AS hit,
		least(s1.k, ri('melee', s1.idx, 0, 4)) AS melee,
		CASE WHEN s1.mode_name = 'Slayer' THEN ri('loser-score', s1.idx, s1.target // 3, s1.target - 1) ELSE ri('loser-score', s1.idx, 0, 2) END AS loser_score,
		least(3000, greatest(0, {{csr_base}} + s1.csr_walk)) + ri('mmr', s1.idx, -80, 80) AS mmr
	FROM s1
)
SELECT
	s.match_id,
	mk_ts(s.start_us) AS start_time,
	mk_ts(s.start_us + s.duration_s * 1000000) AS end_time,
	s.duration_s AS duration_seconds,
	s.session_id,
	'Season' || (1 + (s.start_us - {{base_us}}) // 8640000000000)::VARCHAR AS season_id,
	s.playlist_id,
	s.playlist_version_id,
	s.playlist_name,
	mp.map_id,
	mp.map_version_id,
	s.map_name,
	pr.pair_id,
	pr.pair_name,
	v.game_variant_id,
	v.game_variant_name,
	s.variant_category AS game_variant_category,
	s.mode_category,
	s.outcome,
	s.team_id,
	s.self_place AS placement,
	s.k AS kills,
	s.d AS deaths,
	s.a AS assists,
	(s.k + s.a / 3.0 - s.d)::FLOAT AS kda,
	-- The API omits accuracy for some matches (crashes, early quits).
	CASE WHEN ru('accuracy-missing', s.idx) < 0.03 THEN NULL ELSE round(s.hit * 100.0 / s.fired, 2)::FLOAT END AS accuracy,
	s.fired AS shots_fired,
	s.hit AS shots_hit,
	s.k * ri('damage-per-kill', s.idx, 180, 260) + ri('damage-extra', s.idx, 0, 1500) AS damage_dealt,
	s.d * ri('damage-per-death', s.idx, 180, 260) + ri('damage-taken-extra', s.idx, 0, 1200) AS damage_taken,
	s.k * ri('headshot-pct', s.idx, 20, 70) // 100 AS headshot_kills,
	s.melee AS melee_kills,
	greatest(0, least(s.k - s.melee, ri('grenade', s.idx, 0, 3))) AS grenade_kills,
	least(s.k, ri('power', s.idx, 0, 5)) AS power_weapon_kills,
	CASE WHEN s.team_size >= 8 THEN ri('vehicles', s.idx, 0, 4) ELSE 0 END AS vehicle_destroys,
	(ru('betrayal', s.idx) < 0.02)::INTEGER AS betrayals,
	(ru('suicide', s.idx) < 0.10)::INTEGER AS suicides,
	ri('callouts', s.idx, 0, 8) * s.played_pct // 100 AS callout_assists,
	least(s.k, ri('spree', s.idx, 1, 12)) AS max_killing_spree,
	s.k * 100 + s.a * 50 + ri('score-extra', s.idx, 0, 400) AS personal_score,
	CASE WHEN s.is_firefight THEN ri('ff-score', s.idx, 1500, 6000) WHEN s.outcome = 2 THEN s.target ELSE s.loser_score END AS team_score,
	CASE WHEN s.is_firefight THEN NULL WHEN s.outcome IN (1, 2) THEN s.loser_score ELSE s.target END AS enemy_team_score,
	s.played_s AS time_played_seconds,
	(s.played_s / (s.d + 1.0))::FLOAT AS average_life_seconds,
	CASE WHEN s.mode_category = 'Objective' THEN ri('objectives', s.idx, 0, 10) END AS objectives_completed,
	CASE WHEN s.mode_name = 'Capture the Flag' THEN ri('flag-caps', s.idx, 0, 3) END AS flag_captures,
	CASE WHEN s.mode_name = 'Capture the Flag' THEN ri('flag-returns', s.idx, 0, 5) END AS flag_returns,
	CASE WHEN s.mode_name = 'Capture the Flag' THEN ri('flag-steals', s.idx, 0, 6) END AS flag_steals,
	CASE WHEN s.mode_name = 'Capture the Flag' THEN (ri('flag-time', s.idx, 0, 1800) / 10.0)::FLOAT END AS flag_carrier_time_seconds,
	CASE WHEN s.mode_name IN ('Strongholds', 'King of the Hill', 'Total Control', 'Firefight King of the Hill') THEN ri('zone-caps', s.idx, 0, 12) END AS zone_captures,
	CASE WHEN s.mode_name IN ('Strongholds', 'King of the Hill', 'Total Control', 'Firefight King of the Hill') THEN (ri('zone-time', s.idx, 0, 3000) / 10.0)::FLOAT END AS zone_occupation_seconds,
	CASE WHEN s.mode_name = 'Oddball' THEN (ri('ball-time', s.idx, 0, 1500) / 10.0)::FLOAT END AS oddball_possession_seconds,
	CASE WHEN s.mode_name = 'Oddball' THEN ri('ball-kills', s.idx, 0, 4) END AS oddball_kills_as_carrier,
	CASE WHEN s.mode_name = 'Stockpile' THEN ri('cells', s.idx, 0, 6) END AS stockpile_cells_deposited,
	-- Extraction left the rotation before this player's history starts, so
	-- the column is all NULL, as it is in real databases.
	NULL AS extraction_conversions,
	CASE WHEN NOT s.is_firefight THEN s.mmr::FLOAT END AS team_mmr,
	CASE WHEN NOT s.is_firefight THEN (s.mmr + ri('enemy-mmr', s.idx, -60, 60))::FLOAT END AS enemy_team_mmr,
	CASE WHEN s.is_ranked THEN s.csr_pre END AS csr_pre,
	CASE WHEN s.is_ranked THEN s.csr_post END AS csr_post,
	CASE WHEN s.is_ranked THEN
		CASE WHEN s.csr_post >= 1500 THEN 'Onyx' ELSE tier_of(s.csr_post) || ' ' || subtier_of(s.csr_post) END
	END AS csr_tier,
	CASE WHEN NOT s.is_firefight THEN ((s.k + s.d) / 2.0 + ri('xk', s.idx, -30, 30) / 10.0)::FLOAT END AS expected_kills,
	CASE WHEN NOT s.is_firefight THEN ((s.k + s.d) / 2.0 + ri('xd', s.idx, -30, 30) / 10.0)::FLOAT END AS expected_deaths,
	s.is_ranked,
	s.is_firefight,
	s.outcome = 4 AS left_early,
	p.gamertag,
	p.xuid,
	mk_ts(s.created_us) AS created_at,
	CASE WHEN ru('updated', s.idx) < 0.04 THEN mk_ts(s.created_us + ri('update-delay', s.idx, 1, 30) * 86400000000) END AS updated_at
FROM s2 s
CROSS JOIN tmp_player p
JOIN tmp_maps mp ON mp.map_name = s.map_name
JOIN tmp_pairs pr ON pr.mode_name = s.mode_name AND pr.map_name = s.map_name
JOIN tmp_variants v ON v.mode_name = s.mode_name AND v.is_ranked = s.is_ranked
`

const playerMatchStatsSQL = `
INSERT INTO player_match_stats BY NAME
WITH roster AS (
	SELECT m.idx, m.match_id, m.team_size, m.n_players, m.self_place, m.team_id AS my_team, m.outcome AS my_outcome,
		m.start_us, m.duration_s, r.slot,
		CASE WHEN r.slot = 0 THEN NULL WHEN r.slot < m.team_size THEN mate_pid(m.idx, r.slot) ELSE stranger_pid(m.idx, r.slot) END AS pid,
		CASE WHEN r.slot = 0 THEN m.match_id END AS self_match,
		-- The others take the places the player did not, in a rotated
		-- order: a permutation without a sort.
		(r.slot - 1 + rmod(rh('place-rotation', m.idx), m.n_players - 1)) % (m.n_players - 1) + 1 AS other_place
	FROM tmp_matches m, range(m.n_players) r(slot)
), rows AS (
	SELECT r.*,
		CASE WHEN r.slot = 0 THEN p.xuid ELSE pp.xuid END AS xuid,
		-- The stats API returns xuids only; the application resolves the
		-- names of the player and of friends, not of every stranger.
		CASE WHEN r.slot = 0 THEN p.gamertag WHEN r.pid < 20 THEN pp.gamertag END AS gamertag,
		CASE WHEN r.slot = 0 THEN ms.kills ELSE ri3('p-kills', r.idx, r.slot, 0, 24) END AS kills,
		CASE WHEN r.slot = 0 THEN ms.deaths ELSE ri3('p-deaths', r.idx, r.slot, 1, 20) END AS deaths,
		CASE WHEN r.slot = 0 THEN ms.assists ELSE ri3('p-assists', r.idx, r.slot, 0, 15) END AS assists,
		ms.personal_score AS my_score,
		ms.accuracy AS my_accuracy,
		ms.left_early AS my_left_early
	FROM roster r
	CROSS JOIN tmp_player p
	LEFT JOIN tmp_people pp ON pp.pid = r.pid
	LEFT JOIN match_stats ms ON ms.match_id = r.self_match
), timed AS (
	SELECT rows.*,
		start_us + CASE WHEN slot > 0 AND ru3('p-late', idx, slot) < 0.05 THEN ri3('p-late-s', idx, slot, 30, 300) * 1000000 ELSE 0 END AS joined_us,
		CASE WHEN slot = 0 THEN NOT my_left_early ELSE ru3('p-quit', idx, slot) >= 0.04 END AS present
	FROM rows
)
SELECT match_id, xuid, gamertag,
	CASE WHEN slot < team_size THEN my_team ELSE 1 - my_team END AS team_id,
	slot = 0 AS is_self,
	CASE
		WHEN slot < team_size THEN CASE WHEN slot > 0 AND my_outcome = 4 THEN 3 ELSE my_outcome END
		ELSE CASE my_outcome WHEN 2 THEN 3 WHEN 1 THEN 1 ELSE 2 END
	END AS outcome,
	CASE WHEN slot = 0 THEN self_place WHEN other_place >= self_place THEN other_place + 1 ELSE other_place END AS placement,
	kills, deaths, assists,
	(kills + assists / 3.0 - deaths)::FLOAT AS kda,
	CASE WHEN slot = 0 THEN my_score ELSE kills * 100 + assists * 50 + ri3('p-score', idx, slot, 0, 400) END AS personal_score,
	CASE WHEN slot = 0 THEN my_accuracy
		WHEN ru3('p-accuracy-missing', idx, slot) < 0.03 THEN NULL
		ELSE (ri3('p-accuracy', idx, slot, 300, 620) / 10.0)::FLOAT END AS accuracy,
	mk_tstz(joined_us) AS joined_at,
	CASE WHEN NOT present THEN mk_tstz(joined_us + ri3('p-left', idx, slot, 60, greatest(61, duration_s - 30)) * 1000000) END AS left_at,
	present AS present_at_completion
FROM timed
`

const highlightEventsSQL = `
INSERT INTO highlight_events BY NAME
WITH lookups AS (
	SELECT (SELECT list(weapon_id ORDER BY weapon_idx) FROM tmp_weapons) AS weapon_ids,
		(SELECT list(medal_name_id ORDER BY medal_idx) FROM tmp_medals) AS medal_ids
), ev AS (
	SELECT m.idx, m.match_id, m.start_us, m.duration_s, m.team_size, m.is_firefight, m.is_objective,
		m.n_hl, m.hl_offset + r.k + 1 AS id, r.k,
		ru3('event-kind', m.idx, r.k) AS x
	FROM tmp_matches m, range(m.n_hl) r(k)
), typed AS (
	-- Kinds are numbered while they are worked with: this runs for every
	-- one of millions of rows, where integer tests are much cheaper than
	-- string ones.
	SELECT ev.*,
		CASE
			WHEN x < 0.30 THEN 1
			WHEN x < 0.52 THEN 2
			WHEN x < 0.66 THEN 3
			WHEN x < 0.86 THEN 4
			WHEN is_objective THEN 5
			ELSE 6
		END AS kind,
		-- Firefight enemies are AI: no one to name.
		CASE WHEN is_firefight THEN NULL ELSE person_xuid(stranger_pid(idx, team_size + rmod(rh3('event-foe', idx, k), team_size))) END AS foe,
		(k * duration_s * 1000) // n_hl + ri3('event-jitter', idx, k, 0, 999) AS offset_ms
	FROM ev
)
-- No names in this table on purpose: strings cost more than anything else
-- to write, and this is the table with millions of rows.
SELECT t.id,
	t.match_id,
	CASE t.kind
		WHEN 1 THEN 'kill'::highlight_kind
		WHEN 2 THEN 'death'::highlight_kind
		WHEN 3 THEN 'assist'::highlight_kind
		WHEN 4 THEN 'medal'::highlight_kind
		WHEN 5 THEN 'objective'::highlight_kind
		ELSE 'spawn'::highlight_kind
	END AS event_type,
	mk_ts(t.start_us + t.offset_ms * 1000) AS event_time,
	t.offset_ms AS time_offset_ms,
	CASE WHEN t.kind = 2 THEN t.foe ELSE p.xuid END AS actor_xuid,
	CASE WHEN t.kind = 2 THEN p.xuid WHEN t.kind IN (1, 3) THEN t.foe END AS target_xuid,
	CASE WHEN t.kind <= 2 THEN l.weapon_ids[1 + rmod(rh3('event-weapon', t.idx, t.k), {{weapon_count}})] END AS weapon_id,
	CASE WHEN t.kind = 4 THEN l.medal_ids[1 + rmod(rh3('event-medal', t.idx, t.k), {{medal_count}})] END AS medal_name_id,
	CASE WHEN t.kind <= 2 THEN ru3('event-headshot', t.idx, t.k) < 0.4 END AS is_headshot,
	-- Film positions come in decimetres, which also lets DuckDB compress them.
	CASE WHEN t.kind <> 4 THEN (ri3('event-x', t.idx, t.k, -1000, 1000) / 10.0)::FLOAT END AS position_x,
	CASE WHEN t.kind <> 4 THEN (ri3('event-y', t.idx, t.k, -1000, 1000) / 10.0)::FLOAT END AS position_y
FROM typed t
CROSS JOIN tmp_player p
CROSS JOIN lookups l
`

const medalsEarnedSQL = `
INSERT INTO medals_earned BY NAME
WITH earned AS (
	SELECT m.idx, m.match_id, m.start_us, m.duration_s, md.*,
		CASE WHEN md.chance > 0.2 AND ru3('medal-multi', m.idx, md.medal_idx) < 0.3
			THEN ri3('medal-count', m.idx, md.medal_idx, 2, 4) ELSE 1 END AS n
	FROM tmp_matches m CROSS JOIN tmp_medals md
	WHERE ru3('medal-earned', m.idx, md.medal_idx) < md.chance
		AND (md.only_mode IS NULL OR md.only_mode = m.mode_name)
)
SELECT e.match_id, e.medal_name_id, e.medal_name, e.medal_type, e.difficulty,
	e.n AS count,
	e.n * (50 + 25 * e.difficulty) AS total_personal_score,
	-- Older API versions did not time medals.
	CASE WHEN ru3('medal-untimed', e.idx, e.medal_idx) < 0.05 THEN NULL
		ELSE mk_ts(e.start_us + ri3('medal-time', e.idx, e.medal_idx, 0, e.duration_s - 1) * 1000000) END AS earned_at,
	p.gamertag
FROM earned e CROSS JOIN tmp_player p
`

const weaponKillsSQL = `
INSERT INTO weapon_kills BY NAME
WITH used AS (
	SELECT m.idx, m.match_id, w.*,
		ri3('weapon-kills', m.idx, w.weapon_idx, 1, 8) AS k,
		CASE WHEN w.weapon_class IN ('melee', 'grenade') THEN NULL ELSE ri3('weapon-shots', m.idx, w.weapon_idx, 20, 300) END AS fired
	FROM tmp_matches m CROSS JOIN tmp_weapons w
	WHERE ru3('weapon-used', m.idx, w.weapon_idx) < w.chance
)
SELECT u.match_id,
	u.weapon_id,
	u.weapon_name, u.weapon_class,
	u.k AS kills,
	CASE WHEN u.weapon_class IN ('rifle', 'pistol', 'sniper') THEN u.k * ri3('weapon-hs', u.idx, u.weapon_idx, 0, 100) // 100 END AS headshots,
	u.fired AS shots_fired,
	u.fired * ri3('weapon-acc', u.idx, u.weapon_idx, 25, 65) // 100 AS shots_hit,
	u.k * ri3('weapon-damage', u.idx, u.weapon_idx, 150, 300) AS damage_dealt,
	p.gamertag
FROM used u CROSS JOIN tmp_player p
`

// The append-only tables derived from match_stats get rows for the matches
// being added (all of them when a database is generated): every added
// history starts a new session, so no earlier session changes.
const skillHistorySQL = `
INSERT INTO skill_history BY NAME
SELECT match_id, playlist_id, playlist_name, end_time AS recorded_at,
	csr_pre, csr_post, csr_post - csr_pre AS csr_delta,
	tier_of(csr_post) AS tier, subtier_of(csr_post) AS sub_tier,
	team_mmr, enemy_team_mmr, expected_kills, expected_deaths, kills, deaths, gamertag
FROM match_stats
WHERE is_ranked AND match_id IN (SELECT match_id FROM tmp_matches)
`

const sessionsSQL = `
INSERT INTO sessions BY NAME
SELECT session_id,
	min(gamertag) AS gamertag,
	min(start_time) AS start_time,
	max(end_time) AS end_time,
	count(*) AS match_count,
	date_diff('second', min(start_time), max(end_time)) AS duration_seconds,
	arg_min(playlist_name, start_time) AS first_playlist,
	count(*) FILTER (WHERE outcome = 2) AS wins,
	count(*) FILTER (WHERE outcome IN (3, 4)) AS losses,
	sum(kills) AS kills,
	sum(deaths) AS deaths,
	sum(assists) AS assists,
	arg_min(csr_pre, start_time) FILTER (WHERE is_ranked) AS csr_start,
	arg_max(csr_post, start_time) FILTER (WHERE is_ranked) AS csr_end,
	CASE WHEN count(*) >= 12 THEN 'marathon' END AS notes
FROM match_stats
WHERE match_id IN (SELECT match_id FROM tmp_matches)
GROUP BY session_id
`

// aggregate is a table the application recomputes from the whole history
// after each sync: sql is the SELECT that gives all of its rows, keys the
// columns that identify a row (its primary key and unique columns), which
// a refresh never changes.
type aggregate struct {
	table string
	keys  []string
	sql   string
}

// The mv_* tables are what the application's dashboards read; it refreshes
// them from match_stats, and so do we. Ratios are taken over integer sums so
// that no floating-point sum, whose result depends on how rows are split
// between threads, can make two runs differ: a refresh leaves the rows of
// unchanged players, maps and sessions exactly as they were.
var aggregates = []aggregate{
	{"teammates_aggregate", []string{"teammate_xuid"}, `SELECT pms.xuid AS teammate_xuid,
	min(pp.gamertag) AS teammate_gamertag,
	count(*) AS matches_together,
	count(*) FILTER (WHERE ms.outcome = 2) AS wins_together,
	count(*) FILTER (WHERE ms.outcome IN (3, 4)) AS losses_together,
	sum(pms.kills) AS total_kills,
	sum(pms.deaths) AS total_deaths,
	sum(pms.assists) AS total_assists,
	((sum(pms.kills) + sum(pms.assists) / 3.0 - sum(pms.deaths)) / count(*))::FLOAT AS avg_kda,
	(count(*) FILTER (WHERE ms.outcome = 2) / count(*))::FLOAT AS win_rate,
	min(ms.start_time) AS first_played_together,
	max(ms.start_time) AS last_played_together,
	min(ms.gamertag) AS gamertag,
	max(ms.created_at) AS updated_at
FROM player_match_stats pms
JOIN match_stats ms ON ms.match_id = pms.match_id
JOIN tmp_people pp ON pp.xuid = pms.xuid
WHERE NOT pms.is_self AND pms.team_id = ms.team_id
GROUP BY pms.xuid`},
	{"antagonists", []string{"opponent_xuid"}, `WITH met AS (
	SELECT pms.xuid,
		min(pp.gamertag) AS opponent_gamertag,
		count(*) AS matches_against,
		count(*) FILTER (WHERE ms.outcome = 2) AS wins_against,
		count(*) FILTER (WHERE ms.outcome IN (3, 4)) AS losses_against,
		min(ms.start_time) AS first_seen,
		max(ms.start_time) AS last_seen,
		min(ms.gamertag) AS gamertag,
		max(ms.created_at) AS updated_at
	FROM player_match_stats pms
	JOIN match_stats ms ON ms.match_id = pms.match_id
	JOIN tmp_people pp ON pp.xuid = pms.xuid
	WHERE pms.team_id <> ms.team_id
	GROUP BY pms.xuid
), killed AS (
	SELECT target_xuid AS xuid, count(*) AS n
	FROM highlight_events WHERE event_type = 'kill' AND target_xuid IS NOT NULL
	GROUP BY target_xuid
), killed_by AS (
	SELECT actor_xuid AS xuid, count(*) AS n
	FROM highlight_events WHERE event_type = 'death' AND actor_xuid IS NOT NULL
	GROUP BY actor_xuid
)
SELECT met.xuid AS opponent_xuid, met.opponent_gamertag, met.matches_against,
	coalesce(killed.n, 0) AS times_killed,
	coalesce(killed_by.n, 0) AS times_killed_by,
	met.wins_against, met.losses_against,
	(coalesce(killed.n, 0) / nullif(killed_by.n, 0))::FLOAT AS kill_death_ratio,
	met.first_seen, met.last_seen, met.gamertag, met.updated_at
FROM met
LEFT JOIN killed ON killed.xuid = met.xuid
LEFT JOIN killed_by ON killed_by.xuid = met.xuid`},
	{"mv_map_stats", []string{"map_id", "map_name"}, `SELECT map_id, map_name,
	count(*) AS matches_played,
	count(*) FILTER (WHERE outcome = 2) AS wins,
	count(*) FILTER (WHERE outcome IN (3, 4)) AS losses,
	count(*) FILTER (WHERE outcome = 1) AS ties,
	(count(*) FILTER (WHERE outcome = 2) / count(*))::FLOAT AS win_rate,
	sum(kills) AS kills, sum(deaths) AS deaths, sum(assists) AS assists,
	((sum(kills) + sum(assists) / 3.0 - sum(deaths)) / count(*))::FLOAT AS avg_kda,
	(sum(shots_hit) FILTER (WHERE accuracy IS NOT NULL) * 100.0 / nullif(sum(shots_fired) FILTER (WHERE accuracy IS NOT NULL), 0))::FLOAT AS avg_accuracy,
	sum(time_played_seconds) AS time_played_seconds,
	max(start_time) AS last_played,
	(SELECT max(created_at) FROM match_stats) AS refreshed_at
FROM match_stats
GROUP BY map_id, map_name`},
	{"mv_mode_category_stats", []string{"mode_category", "is_ranked"}, `SELECT mode_category, is_ranked,
	count(*) AS matches_played,
	count(*) FILTER (WHERE outcome = 2) AS wins,
	count(*) FILTER (WHERE outcome IN (3, 4)) AS losses,
	(count(*) FILTER (WHERE outcome = 2) / count(*))::FLOAT AS win_rate,
	sum(kills) AS kills, sum(deaths) AS deaths, sum(assists) AS assists,
	((sum(kills) + sum(assists) / 3.0 - sum(deaths)) / count(*))::FLOAT AS avg_kda,
	(sum(shots_hit) FILTER (WHERE accuracy IS NOT NULL) * 100.0 / nullif(sum(shots_fired) FILTER (WHERE accuracy IS NOT NULL), 0))::FLOAT AS avg_accuracy,
	sum(objectives_completed) AS objectives_completed,
	sum(time_played_seconds) AS time_played_seconds,
	(SELECT max(created_at) FROM match_stats) AS refreshed_at
FROM match_stats
GROUP BY mode_category, is_ranked`},
	{"mv_session_stats", []string{"session_id"}, `SELECT session_id,
	count(*) AS match_count,
	count(*) FILTER (WHERE outcome = 2) AS wins,
	count(*) FILTER (WHERE outcome = 3) AS losses,
	count(*) FILTER (WHERE outcome = 1) AS ties,
	count(*) FILTER (WHERE outcome = 4) AS dnf,
	(count(*) FILTER (WHERE outcome = 2) / count(*))::FLOAT AS win_rate,
	sum(kills) AS kills, sum(deaths) AS deaths, sum(assists) AS assists,
	((sum(kills) + sum(assists) / 3.0 - sum(deaths)) / count(*))::FLOAT AS kda,
	avg(kills)::FLOAT AS avg_kills,
	(sum(shots_hit) FILTER (WHERE accuracy IS NOT NULL) * 100.0 / nullif(sum(shots_fired) FILTER (WHERE accuracy IS NOT NULL), 0))::FLOAT AS accuracy,
	sum(time_played_seconds) AS time_played_seconds,
	sum(csr_post - csr_pre) FILTER (WHERE is_ranked) AS csr_change,
	(SELECT max(created_at) FROM match_stats) AS refreshed_at
FROM match_stats
GROUP BY session_id`},
	{"mv_global_stats", []string{"gamertag"}, `SELECT p.gamertag, p.xuid,
	count(*) AS total_matches,
	count(*) FILTER (WHERE outcome = 2) AS wins,
	count(*) FILTER (WHERE outcome = 3) AS losses,
	count(*) FILTER (WHERE outcome = 1) AS ties,
	count(*) FILTER (WHERE outcome = 4) AS dnf,
	(count(*) FILTER (WHERE outcome = 2) / count(*))::FLOAT AS win_rate,
	sum(kills) AS kills, sum(deaths) AS deaths, sum(assists) AS assists,
	((sum(kills) + sum(assists) / 3.0 - sum(deaths)) / count(*))::FLOAT AS kda,
	(sum(shots_hit) FILTER (WHERE accuracy IS NOT NULL) * 100.0 / nullif(sum(shots_fired) FILTER (WHERE accuracy IS NOT NULL), 0))::FLOAT AS accuracy,
	(sum(headshot_kills) / nullif(sum(kills), 0))::FLOAT AS headshot_rate,
	sum(time_played_seconds) AS time_played_seconds,
	count(*) FILTER (WHERE is_ranked) AS ranked_matches,
	arg_max(csr_post, start_time) FILTER (WHERE is_ranked) AS current_csr,
	max(csr_post) AS peak_csr,
	min(start_time) AS first_match,
	max(start_time) AS last_match,
	max(created_at) AS refreshed_at
FROM match_stats CROSS JOIN tmp_player p
GROUP BY p.gamertag, p.xuid`},
}

const dbInfoSQL = `
INSERT INTO meta.db_info
SELECT * FROM (VALUES
	('schema_version', '4'),
	('application', 'OpenSpartan Graph'),
	('generator', 'statsnap sample'),
	('seed', {{seed_text}}),
	('matches', '{{matches}}')
)
UNION ALL SELECT 'gamertag', gamertag FROM tmp_player
UNION ALL SELECT 'xuid', xuid::VARCHAR FROM tmp_player
UNION ALL SELECT 'last_sync', strftime(max(created_at), '%Y-%m-%dT%H:%M:%SZ') FROM match_stats;
`

// launch is when Halo Infinite multiplayer went live; histories start there.
var launch = time.Date(2021, time.November, 15, 18, 0, 0, 0, time.UTC)

// history says which matches a run writes and where the player's history
// stands before the first of them.
type history struct {
	seed       int64 // chooses the matches
	peopleSeed int64 // chooses the people met: the database's own seed
	first      int   // number of the first match (0 for a new database)
	matches    int   // matches written
	total      int   // matches in the history once written
	originUS   int64 // epoch microseconds after which the first match starts
	csrBase    int   // the ranked CSR before the first match
	sessions   int64 // sessions drawn from sessions_id_seq so far
	highlights int64 // ids drawn from highlight_events_id_seq so far
}

// newHistory is the start of a new database's history.
func newHistory(matches int, seed int64) history {
	return history{seed: seed, peopleSeed: seed, matches: matches, total: matches,
		originUS: launch.UnixMicro(), csrBase: 1200}
}

// replacer fills the placeholders of the statements for h.
func (h history) replacer() *strings.Replacer {
	pick, pickN := playlistPicker()
	// Session gaps shrink for huge histories so that a 200,000-match demo
	// does not run decades into the future; small ones keep realistic gaps.
	scale := 1.0
	if h.total > 2000 {
		scale = 2000 / float64(h.total)
	}
	return strings.NewReplacer(
		"{{seed}}", "("+strconv.FormatInt(h.seed, 10)+")::BIGINT",
		"{{people_seed}}", "("+strconv.FormatInt(h.peopleSeed, 10)+")::BIGINT",
		"{{seed_text}}", sqlString(strconv.FormatInt(h.seed, 10)),
		"{{first}}", strconv.Itoa(h.first),
		"{{matches}}", strconv.Itoa(h.matches),
		"{{total}}", strconv.Itoa(h.total),
		"{{origin_us}}", strconv.FormatInt(h.originUS, 10),
		"{{csr_base}}", strconv.Itoa(h.csrBase),
		"{{session_base}}", strconv.FormatInt(h.sessions, 10),
		"{{hl_base}}", strconv.FormatInt(h.highlights, 10),
		"{{plpick}}", pick,
		"{{plpickn}}", strconv.Itoa(pickN),
		"{{session_scale}}", strconv.FormatFloat(scale, 'f', 6, 64),
		"{{base_us}}", strconv.FormatInt(launch.UnixMicro(), 10),
		"{{playlists}}", playlistValues(),
		"{{modes}}", modeValues(),
		"{{medals}}", medalValues(),
		"{{weapons}}", weaponValues(),
		"{{heads}}", sqlStringList(nameHeads),
		"{{tails}}", sqlStringList(nameTails),
		"{{weapon_count}}", strconv.Itoa(len(weapons)),
		"{{medal_count}}", strconv.Itoa(len(medals)),
	)
}

// planSteps are the statements that build the temporary tables every other
// statement reads: helpers, reference data and the plan of the matches.
func (h history) planSteps(r *strings.Replacer) []step {
	return []step{
		{"create helper macros", r.Replace(helperSQL)},
		{"create reference tables", r.Replace(referenceSQL)},
		{"plan matches", r.Replace(tmpMatchesSQL)},
	}
}

// appendSteps write the planned matches into the append-only tables.
func appendSteps(r *strings.Replacer) []step {
	return []step{
		{"fill match_stats", r.Replace(matchStatsSQL)},
		{"fill player_match_stats", r.Replace(playerMatchStatsSQL)},
		{"fill highlight_events", r.Replace(highlightEventsSQL)},
		{"fill medals_earned", r.Replace(medalsEarnedSQL)},
		{"fill weapon_kills", r.Replace(weaponKillsSQL)},
		{"fill skill_history", r.Replace(skillHistorySQL)},
		{"fill sessions", r.Replace(sessionsSQL)},
	}
}

// dataSteps returns the statements that create and fill a new database, in
// order.
func dataSteps(matches int, seed int64) []step {
	h := newHistory(matches, seed)
	r := h.replacer()
	steps := h.planSteps(r)
	for _, s := range schemaDDL {
		steps = append(steps, step{s.name, r.Replace(s.sql)})
	}
	steps = append(steps, appendSteps(r)...)
	for _, a := range aggregates {
		steps = append(steps, step{"fill " + a.table, r.Replace("INSERT INTO " + sqlIdent(a.table) + " BY NAME\n" + a.sql)})
	}
	return append(steps, step{"fill meta.db_info", r.Replace(dbInfoSQL)})
}
