package sample

// The persistent objects of an OpenSpartan Graph v4 player database. They are
// kept in one ordered list because DuckDB resolves names at creation time:
// types and sequences before the tables that use them, tables before views.
// Indexes (other than the primary keys) are created after the data is loaded,
// because bulk loading into an indexed table is much slower than indexing once.

var schemaDDL = []step{
	{"create schema meta", `CREATE SCHEMA meta`},
	{"create type highlight_kind", `CREATE TYPE highlight_kind AS ENUM ('kill', 'death', 'assist', 'medal', 'objective', 'spawn')`},
	{"create sequence highlight_events_id_seq", `CREATE SEQUENCE highlight_events_id_seq START 1`},
	{"create sequence sessions_id_seq", `CREATE SEQUENCE sessions_id_seq START 1`},
	{"create sequence pending_uploads_id_seq", `CREATE SEQUENCE pending_uploads_id_seq START 1`},
	// The application computes KDA the way Halo Infinite's service record does.
	{"create macro kda_ratio", `CREATE MACRO kda_ratio(k, d, a) AS k + a / 3.0 - d`},

	{"create match_stats", `CREATE TABLE match_stats (
	match_id VARCHAR NOT NULL,
	start_time TIMESTAMP NOT NULL,
	end_time TIMESTAMP,
	duration_seconds INTEGER NOT NULL,
	session_id INTEGER,
	season_id VARCHAR,
	playlist_id VARCHAR,
	playlist_version_id VARCHAR,
	playlist_name VARCHAR,
	map_id VARCHAR,
	map_version_id VARCHAR,
	map_name VARCHAR NOT NULL,
	pair_id VARCHAR,
	pair_name VARCHAR,
	game_variant_id VARCHAR,
	game_variant_name VARCHAR,
	game_variant_category SMALLINT,
	mode_category VARCHAR NOT NULL,
	outcome TINYINT NOT NULL CHECK (outcome BETWEEN 1 AND 4),
	team_id TINYINT,
	placement SMALLINT,
	kills SMALLINT NOT NULL DEFAULT 0,
	deaths SMALLINT NOT NULL DEFAULT 0,
	assists SMALLINT NOT NULL DEFAULT 0,
	kda FLOAT,
	accuracy FLOAT CHECK (accuracy IS NULL OR accuracy BETWEEN 0 AND 100),
	shots_fired INTEGER,
	shots_hit INTEGER,
	damage_dealt INTEGER,
	damage_taken INTEGER,
	headshot_kills SMALLINT,
	melee_kills SMALLINT,
	grenade_kills SMALLINT,
	power_weapon_kills SMALLINT,
	vehicle_destroys SMALLINT,
	betrayals SMALLINT,
	suicides SMALLINT,
	callout_assists SMALLINT,
	max_killing_spree SMALLINT,
	personal_score INTEGER,
	team_score INTEGER,
	enemy_team_score INTEGER,
	time_played_seconds INTEGER NOT NULL,
	average_life_seconds FLOAT,
	objectives_completed SMALLINT,
	flag_captures SMALLINT,
	flag_returns SMALLINT,
	flag_steals SMALLINT,
	flag_carrier_time_seconds FLOAT,
	zone_captures SMALLINT,
	zone_occupation_seconds FLOAT,
	oddball_possession_seconds FLOAT,
	oddball_kills_as_carrier SMALLINT,
	stockpile_cells_deposited SMALLINT,
	extraction_conversions SMALLINT,
	team_mmr FLOAT,
	enemy_team_mmr FLOAT,
	csr_pre SMALLINT,
	csr_post SMALLINT,
	csr_tier VARCHAR,
	expected_kills FLOAT,
	expected_deaths FLOAT,
	is_ranked BOOLEAN NOT NULL DEFAULT FALSE,
	is_firefight BOOLEAN NOT NULL DEFAULT FALSE,
	left_early BOOLEAN DEFAULT FALSE,
	gamertag VARCHAR NOT NULL,
	xuid BIGINT,
	created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
	updated_at TIMESTAMP
)`},

	{"create medals_earned", `CREATE TABLE medals_earned (
	match_id VARCHAR NOT NULL,
	medal_name_id BIGINT NOT NULL,
	medal_name VARCHAR NOT NULL,
	medal_type VARCHAR,
	difficulty TINYINT DEFAULT 0,
	count SMALLINT NOT NULL DEFAULT 1 CHECK (count > 0),
	total_personal_score INTEGER,
	earned_at TIMESTAMP,
	gamertag VARCHAR NOT NULL
)`},

	{"create weapon_kills", `CREATE TABLE weapon_kills (
	match_id VARCHAR NOT NULL,
	weapon_id UBIGINT NOT NULL,
	weapon_name VARCHAR NOT NULL,
	weapon_class VARCHAR,
	kills SMALLINT NOT NULL DEFAULT 0,
	headshots SMALLINT,
	shots_fired INTEGER,
	shots_hit INTEGER,
	damage_dealt INTEGER,
	gamertag VARCHAR NOT NULL
)`},

	{"create player_match_stats", `CREATE TABLE player_match_stats (
	match_id VARCHAR NOT NULL,
	xuid BIGINT NOT NULL,
	gamertag VARCHAR,
	team_id TINYINT,
	is_self BOOLEAN NOT NULL DEFAULT FALSE,
	outcome TINYINT,
	placement SMALLINT,
	kills SMALLINT,
	deaths SMALLINT,
	assists SMALLINT,
	kda FLOAT,
	personal_score INTEGER,
	accuracy FLOAT,
	joined_at TIMESTAMPTZ,
	left_at TIMESTAMPTZ,
	present_at_completion BOOLEAN DEFAULT TRUE
)`},

	// The application's largest table, an append-only event log: like most
	// DuckDB applications it keeps no index on it, since every index costs
	// on each of its millions of inserts.
	{"create highlight_events", `CREATE TABLE highlight_events (
	id BIGINT NOT NULL DEFAULT nextval('highlight_events_id_seq'),
	match_id VARCHAR NOT NULL,
	event_type highlight_kind NOT NULL,
	event_time TIMESTAMP NOT NULL,
	time_offset_ms INTEGER NOT NULL,
	actor_xuid BIGINT,
	target_xuid BIGINT,
	weapon_id UBIGINT,
	medal_name_id BIGINT,
	is_headshot BOOLEAN,
	position_x FLOAT,
	position_y FLOAT
)`},

	{"create skill_history", `CREATE TABLE skill_history (
	match_id VARCHAR PRIMARY KEY,
	playlist_id VARCHAR NOT NULL,
	playlist_name VARCHAR,
	recorded_at TIMESTAMP NOT NULL,
	csr_pre SMALLINT,
	csr_post SMALLINT,
	csr_delta SMALLINT,
	tier VARCHAR,
	sub_tier TINYINT,
	team_mmr FLOAT,
	enemy_team_mmr FLOAT,
	expected_kills FLOAT,
	expected_deaths FLOAT,
	kills SMALLINT,
	deaths SMALLINT,
	gamertag VARCHAR NOT NULL
)`},

	{"create sessions", `CREATE TABLE sessions (
	session_id INTEGER PRIMARY KEY DEFAULT nextval('sessions_id_seq'),
	gamertag VARCHAR NOT NULL,
	start_time TIMESTAMP NOT NULL,
	end_time TIMESTAMP NOT NULL,
	match_count INTEGER NOT NULL CHECK (match_count > 0),
	duration_seconds INTEGER,
	first_playlist VARCHAR,
	wins INTEGER,
	losses INTEGER,
	kills INTEGER,
	deaths INTEGER,
	assists INTEGER,
	csr_start SMALLINT,
	csr_end SMALLINT,
	notes VARCHAR
)`},

	{"create teammates_aggregate", `CREATE TABLE teammates_aggregate (
	teammate_xuid BIGINT PRIMARY KEY,
	teammate_gamertag VARCHAR NOT NULL,
	matches_together INTEGER NOT NULL,
	wins_together INTEGER NOT NULL DEFAULT 0,
	losses_together INTEGER NOT NULL DEFAULT 0,
	total_kills INTEGER,
	total_deaths INTEGER,
	total_assists INTEGER,
	avg_kda FLOAT,
	win_rate FLOAT,
	first_played_together TIMESTAMP,
	last_played_together TIMESTAMP,
	gamertag VARCHAR NOT NULL,
	updated_at TIMESTAMP
)`},

	{"create antagonists", `CREATE TABLE antagonists (
	opponent_xuid BIGINT PRIMARY KEY,
	opponent_gamertag VARCHAR NOT NULL,
	matches_against INTEGER NOT NULL,
	times_killed INTEGER NOT NULL DEFAULT 0,
	times_killed_by INTEGER NOT NULL DEFAULT 0,
	wins_against INTEGER,
	losses_against INTEGER,
	kill_death_ratio FLOAT,
	first_seen TIMESTAMP,
	last_seen TIMESTAMP,
	gamertag VARCHAR NOT NULL,
	updated_at TIMESTAMP
)`},

	{"create mv_map_stats", `CREATE TABLE mv_map_stats (
	map_id VARCHAR PRIMARY KEY,
	map_name VARCHAR NOT NULL UNIQUE,
	matches_played INTEGER NOT NULL,
	wins INTEGER NOT NULL DEFAULT 0,
	losses INTEGER NOT NULL DEFAULT 0,
	ties INTEGER NOT NULL DEFAULT 0,
	win_rate FLOAT,
	kills BIGINT,
	deaths BIGINT,
	assists BIGINT,
	avg_kda FLOAT,
	avg_accuracy FLOAT,
	time_played_seconds BIGINT,
	last_played TIMESTAMP,
	refreshed_at TIMESTAMP NOT NULL
)`},

	{"create mv_mode_category_stats", `CREATE TABLE mv_mode_category_stats (
	mode_category VARCHAR NOT NULL,
	is_ranked BOOLEAN NOT NULL,
	matches_played INTEGER NOT NULL,
	wins INTEGER NOT NULL DEFAULT 0,
	losses INTEGER NOT NULL DEFAULT 0,
	win_rate FLOAT,
	kills BIGINT,
	deaths BIGINT,
	assists BIGINT,
	avg_kda FLOAT,
	avg_accuracy FLOAT,
	objectives_completed BIGINT,
	time_played_seconds BIGINT,
	refreshed_at TIMESTAMP NOT NULL,
	PRIMARY KEY (mode_category, is_ranked)
)`},

	{"create mv_session_stats", `CREATE TABLE mv_session_stats (
	session_id INTEGER PRIMARY KEY,
	match_count INTEGER NOT NULL,
	wins INTEGER,
	losses INTEGER,
	ties INTEGER,
	dnf INTEGER,
	win_rate FLOAT,
	kills INTEGER,
	deaths INTEGER,
	assists INTEGER,
	kda FLOAT,
	avg_kills FLOAT,
	accuracy FLOAT,
	time_played_seconds INTEGER,
	csr_change SMALLINT,
	refreshed_at TIMESTAMP NOT NULL
)`},

	{"create mv_global_stats", `CREATE TABLE mv_global_stats (
	gamertag VARCHAR PRIMARY KEY,
	xuid BIGINT,
	total_matches INTEGER NOT NULL,
	wins INTEGER,
	losses INTEGER,
	ties INTEGER,
	dnf INTEGER,
	win_rate FLOAT,
	kills BIGINT,
	deaths BIGINT,
	assists BIGINT,
	kda FLOAT,
	accuracy FLOAT,
	headshot_rate FLOAT,
	time_played_seconds BIGINT,
	ranked_matches INTEGER,
	current_csr SMALLINT,
	peak_csr SMALLINT,
	first_match TIMESTAMP,
	last_match TIMESTAMP,
	refreshed_at TIMESTAMP NOT NULL
)`},

	// Matches waiting to be pushed to a companion service; a fresh sync leaves
	// it empty, which is exactly the case a backup tool must not trip over.
	{"create pending_uploads", `CREATE TABLE pending_uploads (
	id BIGINT PRIMARY KEY DEFAULT nextval('pending_uploads_id_seq'),
	match_id VARCHAR NOT NULL,
	payload VARCHAR,
	attempts SMALLINT NOT NULL DEFAULT 0 CHECK (attempts >= 0),
	queued_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
	last_error VARCHAR
)`},

	{"create meta.db_info", `CREATE TABLE meta.db_info (
	key VARCHAR PRIMARY KEY,
	value VARCHAR
)`},
}

// Objects that need the data in place. The primary keys of the large tables
// are among them: DuckDB builds an index over loaded rows several times faster
// than it maintains one row by row during the load, and the catalog ends up
// the same (duckdb_tables().sql shows the key either way).
var finishDDL = []step{
	{"add primary key to match_stats", `ALTER TABLE match_stats ADD PRIMARY KEY (match_id)`},
	{"add primary key to medals_earned", `ALTER TABLE medals_earned ADD PRIMARY KEY (match_id, medal_name_id)`},
	{"create index idx_match_stats_start_time", `CREATE INDEX idx_match_stats_start_time ON match_stats (start_time)`},
	{"create index idx_match_stats_playlist", `CREATE INDEX idx_match_stats_playlist ON match_stats (playlist_id, start_time)`},
	{"create index idx_medals_earned_medal", `CREATE INDEX idx_medals_earned_medal ON medals_earned (medal_name_id)`},

	{"create view v_recent_matches", `CREATE VIEW v_recent_matches AS
SELECT match_id, start_time, playlist_name, map_name, game_variant_name,
	CASE outcome WHEN 1 THEN 'Tie' WHEN 2 THEN 'Win' WHEN 3 THEN 'Loss' ELSE 'Left' END AS result,
	kills, deaths, assists, kda, accuracy
FROM match_stats
ORDER BY start_time DESC
LIMIT 25`},
	{"create view v_ranked_progress", `CREATE VIEW v_ranked_progress AS
SELECT s.recorded_at, s.playlist_name, s.csr_post AS csr, s.tier, s.sub_tier, m.map_name, m.outcome
FROM skill_history s
JOIN match_stats m USING (match_id)
ORDER BY s.recorded_at`},

	{"comment on match_stats", `COMMENT ON TABLE match_stats IS 'One row per match played by the player, as returned by the Halo Infinite stats API.'`},
	{"comment on match_stats.outcome", `COMMENT ON COLUMN match_stats.outcome IS '1 tie, 2 win, 3 loss, 4 did not finish'`},
	{"comment on highlight_events", `COMMENT ON TABLE highlight_events IS 'Kill feed and medal events extracted from film chunks.'`},
}
