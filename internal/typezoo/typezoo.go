// Package typezoo fills a DuckDB database with tables that exercise every
// DuckDB 1.5 column type with awkward values: extremes, NULLs, NaN and
// infinities, negative and sub-millisecond intervals, NUL bytes and unicode,
// empty strings and lists, NULLs nested at every level, hostile table and
// column names, a second schema, a named ENUM and generated columns. Tests
// back these tables up and restore them end to end.
package typezoo

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/openspartan/statsnap/internal/duckdb/dberr"
	"github.com/openspartan/statsnap/internal/duckdb/sqlq"
)

// Table is one table the zoo makes.
type Table struct {
	Schema string
	Name   string
	// About says what the table is for, for test names and failure messages.
	About string
	// NeedsVariant marks the table that has VARIANT columns: DuckDB only
	// stores those in databases of storage version v1.5.0 or later, so
	// Create skips it elsewhere (see Created).
	NeedsVariant bool
	ddl          []string // CREATE and INSERT statements, in order
}

// Qualified returns "schema"."name", quoted for DuckDB SQL.
func (t Table) Qualified() string { return quoteIdent(t.Schema) + "." + quoteIdent(t.Name) }

// Key returns the name the SPEC's manifest uses: the bare name in schema
// main, schema.name elsewhere.
func (t Table) Key() string {
	if t.Schema == "main" {
		return t.Name
	}
	return t.Schema + "." + t.Name
}

const (
	// EnumType is the named ENUM type created in schema main.
	EnumType = "mood"
	// OtherSchema is the non-main schema the zoo creates; its name has a space.
	OtherSchema = "other schema"
	// WeirdTable is the table whose name and column names are hostile.
	WeirdTable = "we\"ird; DROP TABLE x; --/../select\nname"
	// ManyRows is the row count of zoo_many, more than one Parquet row group
	// (DuckDB's default row group is 122880 rows).
	ManyRows = 130000
)

// Setup holds the statements run before any table: the schema and the type.
var Setup = []string{
	"CREATE SCHEMA IF NOT EXISTS " + quoteIdent(OtherSchema),
	"CREATE TYPE " + quoteIdent(EnumType) + " AS ENUM ('sad', 'ok', 'happy', 'it''s', '', 'ünï \"q\"')",
}

// Tables lists every table the zoo knows, in creation order. Created tells
// which of them a given database actually holds.
var Tables = []Table{
	{Schema: "main", Name: "zoo_integers", About: "every integer width at its extremes", ddl: []string{
		`CREATE TABLE main.zoo_integers (id INTEGER, i8 TINYINT, i16 SMALLINT, i32 INTEGER, i64 BIGINT, i128 HUGEINT,
			u8 UTINYINT, u16 USMALLINT, u32 UINTEGER, u64 UBIGINT, u128 UHUGEINT)`,
		`INSERT INTO main.zoo_integers VALUES
			(1, -128, -32768, -2147483648, -9223372036854775808, -170141183460469231731687303715884105728, 0, 0, 0, 0, 0),
			(2, 127, 32767, 2147483647, 9223372036854775807, 170141183460469231731687303715884105727,
				255, 65535, 4294967295, 18446744073709551615, 340282366920938463463374607431768211455),
			(3, -1, -1, -1, -1, -1, 1, 1, 1, 1, 1),
			(4, 0, 0, 0, 0, 9007199254740993, 0, 0, 0, 9223372036854775808, 18446744073709551616),
			(5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
			(6, 0, 0, 0, 0, -170141183460469231731687303715884105727, 0, 0, 0, 0, 170141183460469231731687303715884105728)`,
	}},
	{Schema: "main", Name: "zoo_decimals", About: "DECIMAL of every physical width and BIGNUM", ddl: []string{
		`CREATE TABLE main.zoo_decimals (id INTEGER, d1 DECIMAL(1,0), d4 DECIMAL(4,1), d9 DECIMAL(9,4), d18 DECIMAL(18,6),
			d38 DECIMAL(38,10), d38_0 DECIMAL(38,0), d38_38 DECIMAL(38,38), big BIGNUM)`,
		`INSERT INTO main.zoo_decimals VALUES
			(1, 9, 999.9, 99999.9999, 999999999999.999999, '9999999999999999999999999999.9999999999',
				'99999999999999999999999999999999999999', '0.99999999999999999999999999999999999999', ('9' || repeat('0', 400))::BIGNUM),
			(2, -9, -999.9, -99999.9999, -999999999999.999999, '-9999999999999999999999999999.9999999999',
				'-99999999999999999999999999999999999999', '-0.99999999999999999999999999999999999999', ('-' || repeat('9', 3000))::BIGNUM),
			(3, 0, 0.1, 0.0001, 0.000001, '0.0000000001', 1, '0.00000000000000000000000000000000000001', 0::BIGNUM),
			(4, 0, -0.1, -0.0001, -0.000001, '-0.0000000001', -1, '-0.00000000000000000000000000000000000001', -1::BIGNUM),
			(5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
			(6, 1, 1, 1, 1, 1, 1, '0.5', '170141183460469231731687303715884105728'::BIGNUM),
			(7, 1, 1, 1, 1, 1, 1, '0.5', '-340282366920938463463374607431768211456'::BIGNUM)`,
	}},
	{Schema: "main", Name: "zoo_floats", About: "FLOAT and DOUBLE: NaN of both signs, infinities, -0.0, subnormals", ddl: []string{
		`CREATE TABLE main.zoo_floats (id INTEGER, f FLOAT, d DOUBLE)`,
		`INSERT INTO main.zoo_floats VALUES
			(1, 'nan', 'nan'), (2, '-nan', '-nan'), (3, 'inf', 'inf'), (4, '-inf', '-inf'),
			(5, '-0.0', '-0.0'), (6, 0, 0), (7, 1.4e-45, 5e-324), (8, 3.4028235e38, 1.7976931348623157e308),
			(9, -3.4028235e38, -1.7976931348623157e308), (10, 1.1754944e-38, 2.2250738585072014e-308),
			(11, 0.1, 0.1), (12, NULL, NULL), (13, 16777217, 9007199254740993)`,
	}},
	{Schema: "main", Name: "zoo_text", About: "BOOLEAN, VARCHAR with NUL and unicode, BLOB, BIT, UUID, JSON", ddl: []string{
		`CREATE TABLE main.zoo_text (id INTEGER, b BOOLEAN, v VARCHAR, bl BLOB, bits BIT, u UUID, j JSON)`,
		`INSERT INTO main.zoo_text VALUES
			(1, true, '', ''::BLOB, '0', '00000000-0000-0000-0000-000000000000', ' { "a" :  1 } '),
			(2, false, 'a' || chr(0) || 'b', '\x00\xFF\x80'::BLOB, '1', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '[1, 2.50, "x", 1e400]'),
			(3, NULL, 'ünïcödé 😀 中文 ' || chr(9) || chr(10) || chr(13), unhex('000102030405060708090a0b0c0d0e0f7f80fe'), '1010101', '80000000-0000-0000-0000-000000000000', 'null'),
			(4, true, 'quote '' and " and \ and ;--', NULL, repeat('10', 5000)::BIT, '7fffffff-ffff-ffff-ffff-ffffffffffff', '"\u0000 \ud83d\ude00"'),
			(5, NULL, NULL, NULL, NULL, NULL, NULL),
			(6, false, repeat('long ', 40000), repeat('\xAB', 70000)::BLOB, '0000000000000000000000000000000000000000001', '123e4567-e89b-12d3-a456-426614174000', '{"deep": {"er": [[], {}, [null]]}, "": ""}')`,
	}},
	{Schema: "main", Name: "zoo_intervals", About: "INTERVAL: negative, mixed-sign, sub-millisecond and extreme fields", ddl: []string{
		`CREATE TABLE main.zoo_intervals (id INTEGER, i INTERVAL)`,
		`INSERT INTO main.zoo_intervals VALUES
			(1, INTERVAL '1 month 2 days 3 microseconds'),
			(2, INTERVAL '-1 month -2 days -3 microseconds'),
			(3, INTERVAL '14 months -40 days 25:00:00.000001'),
			(4, to_months(2147483647) + to_days(2147483647) + to_microseconds(9223372036854775807)),
			(5, to_months(-2147483648) + to_days(-2147483648) + to_microseconds(-9223372036854775808)),
			(6, INTERVAL '-13 months 5 days -86399.999999 seconds'),
			(7, INTERVAL '0 seconds'),
			(8, INTERVAL '1 month'),
			(9, INTERVAL '30 days'),
			(10, INTERVAL '0.000001 seconds'),
			(11, INTERVAL '0.0015 seconds'),
			(12, NULL)`,
	}},
	{Schema: "main", Name: "zoo_times", About: "dates, times and timestamps of every unit, with infinities, extremes and offsets", ddl: []string{
		`CREATE TABLE main.zoo_times (id INTEGER, d DATE, t TIME, tns TIME_NS, ttz TIMETZ, ts TIMESTAMP, ts_s TIMESTAMP_S,
			ts_ms TIMESTAMP_MS, ts_ns TIMESTAMP_NS, tstz TIMESTAMPTZ)`,
		`INSERT INTO main.zoo_times VALUES
			(1, 'infinity', '00:00:00', '00:00:00', '00:00:00+15:59:59', 'infinity', 'infinity', 'infinity', 'infinity', 'infinity'),
			(2, '-infinity', '23:59:59.999999', '23:59:59.999999999', '24:00:00-15:59:59', '-infinity', '-infinity', '-infinity', '-infinity', '-infinity'),
			(3, '5881580-07-10', '24:00:00', '24:00:00', '12:34:56.999999-00:00:01', '294247-01-10 04:00:54.775806',
				'294247-01-10 04:00:54', '294247-01-10 04:00:54.775', '2262-04-11 23:47:16.854775806', '294247-01-10 04:00:54.775806+00'),
			(4, '5877642-06-25 (BC)', '00:00:00.000001', '00:00:00.000000001', '01:02:03+00:00:59', '290309-12-22 (BC) 00:00:00',
				'290309-12-22 (BC) 00:00:00', '290309-12-22 (BC) 00:00:00', '1677-09-22 00:00:00', '290309-12-22 (BC) 00:00:00+00'),
			(5, '1970-01-01', '12:00:00.5', '12:00:00.123456789', '12:00:00+05:30', '1970-01-01 00:00:00', '1969-12-31 23:59:59',
				'1969-12-31 23:59:59.999', '1969-12-31 23:59:59.999999999', '2024-03-10 02:30:00.000001+00'),
			(6, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
	}},
	{Schema: "main", Name: "zoo_enums", About: "the named ENUM type and an inline ENUM with hostile labels", ddl: []string{
		`CREATE TABLE main.zoo_enums (id INTEGER, m mood, e ENUM('it''s', 'a"b', '', 'ünï', ' sp ', 'x,y)', 'NULL'), ml mood[])`,
		`INSERT INTO main.zoo_enums VALUES
			(1, 'sad', 'it''s', ['sad', 'ok']), (2, 'it''s', 'a"b', []), (3, '', '', [NULL]), (4, 'ünï "q"', 'x,y)', NULL),
			(5, NULL, 'NULL', ['', 'happy', NULL]), (6, 'happy', ' sp ', ['ünï "q"'])`,
	}},
	{Schema: "main", Name: "zoo_nested", About: "LIST, ARRAY, STRUCT and MAP, alone and around lossy types, with NULLs at every level", ddl: []string{
		`CREATE TABLE main.zoo_nested (id INTEGER,
			l INTEGER[], ll VARCHAR[][], a INTEGER[3], ad DECIMAL(38,10)[2], aa INTEGER[2][2], la INTEGER[2][],
			s STRUCT(i INTEGER, "v c" VARCHAR, "select" BOOLEAN), m MAP(VARCHAR, INTEGER[]),
			lsh STRUCT(h HUGEINT, i INTERVAL)[], mvl MAP(VARCHAR, HUGEINT[]), su STRUCT(u UNION(n INTEGER, l INTEGER[], s STRUCT(x INTEGER)), t TIMETZ),
			mhi MAP(HUGEINT, INTERVAL), ai INTERVAL[2], lj JSON[], lts TIMESTAMP_S[], lu UNION(a INTEGER, b VARCHAR)[],
			lbit BIT[], sg STRUCT(g GEOMETRY), deep STRUCT(a STRUCT(b STRUCT(c HUGEINT[]))), le mood[][], mu MAP(UHUGEINT, BIGNUM))`,
		`INSERT INTO main.zoo_nested VALUES
			(1, [], [[]], [1, 2, 3], ['9999999999999999999999999999.9999999999', '-0.0000000001'], [[1, 2], [3, 4]], [],
				{'i': 1, 'v c': 'x', 'select': true}, MAP {}, [], MAP {}, {'u': union_value(n := 1)::UNION(n INTEGER, l INTEGER[], s STRUCT(x INTEGER)), 't': '00:00:00+15:59:59'},
				MAP {}, [INTERVAL '-1 month 1 microsecond', INTERVAL '30 days'], [], [], [],
				[], {'g': 'POINT(1 2)'}, {'a': {'b': {'c': []}}}, [], MAP {}),
			(2, [NULL], [[NULL], NULL, []], [NULL, NULL, NULL], [NULL, 1], [NULL, [NULL, 5]], [[1, NULL], NULL],
				{'i': NULL, 'v c': NULL, 'select': NULL}, MAP {'k': []}, [NULL], MAP {'a': NULL, 'b': [NULL]},
				{'u': union_value(l := [1, NULL])::UNION(n INTEGER, l INTEGER[], s STRUCT(x INTEGER)), 't': NULL}, MAP {0: NULL}, [NULL, NULL], [NULL, 'null', ' [ 1 ] '],
				[NULL, 'infinity', '-infinity'], [NULL, union_value(a := NULL::INTEGER)::UNION(a INTEGER, b VARCHAR), union_value(b := '')::UNION(a INTEGER, b VARCHAR)],
				[NULL, '0'], {'g': NULL}, {'a': {'b': NULL}}, [NULL, [NULL]], MAP {0: NULL}),
			(3, [1, 2, NULL], [['a', ''], ['ünï' || chr(0)]], NULL, NULL, NULL, NULL, NULL, NULL,
				[{'h': 170141183460469231731687303715884105727, 'i': INTERVAL '-13 months -0.000001 seconds'}, {'h': NULL, 'i': NULL}, NULL],
				MAP {'x': [-170141183460469231731687303715884105728, NULL]},
				{'u': union_value(s := {'x': NULL})::UNION(n INTEGER, l INTEGER[], s STRUCT(x INTEGER)), 't': '12:34:56.999999-00:00:01'},
				MAP {-170141183460469231731687303715884105728: INTERVAL '1 month', 170141183460469231731687303715884105727: INTERVAL '-1 day'},
				NULL, ['{"a":1}'], ['290309-12-22 (BC) 00:00:00', '294247-01-10 04:00:54'], [union_value(a := 7)::UNION(a INTEGER, b VARCHAR)],
				['1010101', NULL], NULL, NULL, [['sad', 'ok'], []], MAP {340282366920938463463374607431768211455: ('-' || repeat('7', 600))::BIGNUM}),
			(4, NULL, NULL, [7, 8, 9], [1, 2], [[1, 2], NULL], [[1, 2]], {'i': 2, 'v c': '', 'select': false}, MAP {'': [1, NULL], 'z': NULL},
				NULL, NULL, {'u': NULL, 't': '24:00:00-15:59:59'}, NULL, NULL, NULL, NULL, NULL, NULL, {'g': 'POINT EMPTY'},
				{'a': NULL}, NULL, NULL),
			(5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
	}},
	{Schema: "main", Name: "zoo_unions", About: "UNION with scalar, LIST, STRUCT and lossy members, a member called tag, NULL members", ddl: []string{
		`CREATE TABLE main.zoo_unions (id INTEGER, u1 UNION(n INTEGER, s VARCHAR),
			u2 UNION(n INTEGER, l INTEGER[], s STRUCT(x INTEGER, y HUGEINT)),
			u3 UNION("tag" VARCHAR, "_tag" INTEGER, "Tag x" INTERVAL),
			u4 UNION(t TIMETZ, h UHUGEINT, v VARCHAR, m MAP(VARCHAR, INTERVAL)))`,
		`INSERT INTO main.zoo_unions VALUES
			(1, union_value(n := 1), union_value(n := -5), union_value("tag" := 'a tag'), union_value(t := '12:34:56.999999-00:00:01')),
			(2, union_value(s := 'x'), union_value(l := [1, NULL]), union_value("_tag" := 3), union_value(h := 340282366920938463463374607431768211455)),
			(3, union_value(s := ''), union_value(s := {'x': 1, 'y': -170141183460469231731687303715884105728}), union_value("Tag x" := INTERVAL '-1 month 1 microsecond'), union_value(v := '')),
			(4, union_value(n := NULL::INTEGER), union_value(l := []), union_value("tag" := NULL::VARCHAR), union_value(m := MAP {'k': INTERVAL '-2 days'})),
			(5, union_value(s := NULL::VARCHAR), union_value(l := NULL::INTEGER[]), union_value("Tag x" := NULL::INTERVAL), union_value(m := MAP {})),
			(6, NULL, union_value(s := NULL::STRUCT(x INTEGER, y HUGEINT)), NULL, NULL),
			(7, union_value(n := 2147483647), union_value(s := {'x': NULL, 'y': NULL}), union_value("_tag" := NULL::INTEGER), union_value(t := NULL::TIMETZ))`,
	}},
	{Schema: "main", Name: "zoo_geometry", About: "GEOMETRY with and without CRS, every shape, empties, Z/M, NaN", ddl: []string{
		`CREATE TABLE main.zoo_geometry (id INTEGER, g GEOMETRY, gc GEOMETRY('OGC:CRS84'))`,
		`INSERT INTO main.zoo_geometry VALUES
			(1, 'POINT(1 2)', 'POINT(1 2)'),
			(2, 'POINT EMPTY', 'POINT EMPTY'),
			(3, 'POINT ZM (1 2 3 4)', 'POINT Z (1 2 3)'),
			(4, 'LINESTRING(0 0, 1 1, 0.1 0.30000000000000004)', 'POLYGON((0 0, 1 0, 1 1, 0 0), (0.1 0.1, 0.2 0.1, 0.2 0.2, 0.1 0.1))'),
			(5, 'GEOMETRYCOLLECTION(POINT(1 2), LINESTRING EMPTY)', 'MULTIPOINT((1 2), EMPTY)'),
			(6, 'POINT M (1 2 4)', 'MULTIPOLYGON EMPTY'),
			(7, 'POINT(-0.0 1e-300)', NULL),
			(8, NULL, 'GEOMETRYCOLLECTION EMPTY')`,
	}},
	{Schema: "main", Name: "zoo_variant", About: "VARIANT holding every kind of value a Parquet Variant can carry", NeedsVariant: true, ddl: []string{
		`CREATE TABLE main.zoo_variant (id INTEGER, v VARIANT, lv VARIANT[], sv STRUCT(v VARIANT, n INTEGER))`,
		`INSERT INTO main.zoo_variant VALUES
			(1, 42, [1::VARIANT, 'x'::VARIANT], {'v': 1.5::DOUBLE, 'n': 1}),
			(2, 'x' || chr(0), [], {'v': NULL, 'n': NULL}),
			(3, '{"a": [1, 2.5, null, true], "b": {"c": "d"}, "": []}'::JSON, [NULL, 'null'::JSON::VARIANT], NULL),
			(4, 'null'::JSON, NULL, {'v': 'null'::JSON, 'n': 2}),
			(5, NULL, [NULL], {'v': [1, 2], 'n': 3}),
			(6, 'nan'::DOUBLE, ['-0.0'::DOUBLE::VARIANT], {'v': {'k': 'v'}, 'n': 4}),
			(7, '-0.0'::DOUBLE, NULL, NULL),
			(8, DATE '2020-01-01', NULL, NULL),
			(9, TIMESTAMP '2020-01-01 12:34:56.123456', NULL, NULL),
			(10, TIMESTAMPTZ '2020-01-01 12:34:56.123456+00', NULL, NULL),
			(11, '123e4567-e89b-12d3-a456-426614174000'::UUID, NULL, NULL),
			(12, '\x00\xFF'::BLOB, NULL, NULL),
			(13, true, NULL, NULL),
			(14, 9223372036854775807, NULL, NULL),
			(15, '2020-01-01 00:00:00.123456789'::TIMESTAMP_NS, NULL, NULL),
			(16, [[]::INTEGER[], [1]], NULL, NULL),
			(17, '{}'::JSON, NULL, NULL),
			(18, 1.5::FLOAT, NULL, NULL),
			(19, -7::TINYINT, NULL, NULL),
			(20, 'infinity'::DATE, NULL, NULL)`,
	}},
	{Schema: "main", Name: WeirdTable, About: "quotes, spaces, ';', '/', '..', newlines and keywords in table and column names", ddl: []string{
		"CREATE TABLE main." + quoteIdent(WeirdTable) + ` ("a""b" INTEGER, "with space" HUGEINT, "semi;colon" INTERVAL,
			"slash/../dot" VARCHAR, "select" INTEGER, "new` + "\n" + `line" TIMETZ, "Ünïcödé" VARCHAR, "MixedCase" UNION("x y" INTEGER, "z""q" VARCHAR[]),
			"nested" STRUCT("a""b" INTEGER, "c;d" INTERVAL, "e/f" INTEGER[]))`,
		"INSERT INTO main." + quoteIdent(WeirdTable) + ` VALUES
			(1, 1, INTERVAL '-1 day', '../../etc/passwd', 1, '12:00:00+01:00', 'é', union_value("z""q" := ['a"b']), {'a"b': 1, 'c;d': INTERVAL '1 second', 'e/f': [1]}),
			(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
	}},
	{Schema: OtherSchema, Name: "nested.name", About: "a table in another schema, with a dot in its name, using the named ENUM", ddl: []string{
		"CREATE TABLE " + quoteIdent(OtherSchema) + `."nested.name" (id INTEGER, h HUGEINT, m main.mood, i INTERVAL)`,
		"INSERT INTO " + quoteIdent(OtherSchema) + `."nested.name" VALUES (1, -1, 'ok', INTERVAL '-1 microsecond'), (2, NULL, NULL, NULL)`,
	}},
	{Schema: "main", Name: "zoo_generated", About: "generated columns (stored as neither) beside a DEFAULT column", ddl: []string{
		`CREATE TABLE main.zoo_generated (a INTEGER, b INTEGER GENERATED ALWAYS AS (a * 2), c VARCHAR DEFAULT 'GENERATED ALWAYS AS',
			d VARCHAR AS (c || '!') VIRTUAL, e HUGEINT)`,
		`INSERT INTO main.zoo_generated (a, c, e) VALUES (1, 'x', 170141183460469231731687303715884105727), (NULL, NULL, NULL), (3, DEFAULT, -1)`,
	}},
	{Schema: "main", Name: "zoo_empty", About: "no rows at all", ddl: []string{
		`CREATE TABLE main.zoo_empty (h HUGEINT, i INTERVAL, u UNION(a INTEGER, b VARCHAR), v VARCHAR)`,
	}},
	{Schema: "main", Name: "zoo_many", About: fmt.Sprintf("%d rows, over more than one Parquet row group", ManyRows), ddl: []string{
		`CREATE TABLE main.zoo_many (id BIGINT, h HUGEINT, i INTERVAL, s VARCHAR, l INTEGER[], t TIMETZ)`,
		fmt.Sprintf(`INSERT INTO main.zoo_many SELECT r,
			CASE WHEN r %% 7 = 0 THEN NULL ELSE (r * 1000000000000000000000000000000)::HUGEINT - 170141183460469231731687303715884105727 END,
			to_months((r %% 25 - 12)::INTEGER) + to_days((r %% 61 - 30)::INTEGER) + to_microseconds(r * 7919 - 500000000),
			CASE WHEN r %% 11 = 0 THEN NULL ELSE 'row ' || r END,
			CASE WHEN r %% 13 = 0 THEN NULL ELSE [r::INTEGER, NULL, -r::INTEGER][1:(r %% 4)::INTEGER] END,
			make_time((r %% 24)::BIGINT, (r %% 60)::BIGINT, (r %% 60)::DOUBLE)::TIMETZ
			FROM range(%d) AS t(r)`, ManyRows),
	}},
}

// Create makes the zoo's schema, type and tables in db, which must not hold
// them yet. The VARIANT table is left out when the database's storage
// version is older than v1.5.0 (DuckDB refuses VARIANT columns there); open
// or attach the database with STORAGE_VERSION 'v1.5.0' to get it.
func Create(ctx context.Context, db *sql.DB) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("typezoo: %w", err)
	}
	defer conn.Close()
	for _, s := range Setup {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("typezoo: %s: %w", s, err)
		}
	}
	for _, t := range Tables {
		for i, s := range t.ddl {
			if _, err := conn.ExecContext(ctx, s); err != nil {
				if i == 0 && t.NeedsVariant && dberr.Is(err, dberr.ErrStorageTooOld) {
					break
				}
				return fmt.Errorf("typezoo: table %s: %w", t.Qualified(), err)
			}
		}
	}
	return nil
}

// Created returns the zoo tables that db holds, in creation order.
func Created(ctx context.Context, db *sql.DB) ([]Table, error) {
	var out []Table
	for _, t := range Tables {
		var n int
		err := db.QueryRowContext(ctx, "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = ? AND table_name = ?",
			t.Schema, t.Name).Scan(&n)
		if err != nil {
			return nil, fmt.Errorf("typezoo: looking for %s: %w", t.Qualified(), err)
		}
		if n > 0 {
			out = append(out, t)
		}
	}
	return out, nil
}

func quoteIdent(s string) string { return sqlq.Ident(s) }
