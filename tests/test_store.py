"""SQLite results store: round trip, uniqueness, resume, CSV, guards."""

import csv
import dataclasses
import random
import sqlite3

import pytest

from rxsim.montecarlo import PointResult
from rxsim.store import (COLUMNS, SCHEMA_VERSION, PointKey, ResultsStore,
                         StoreError)
from rxsim.stats import clopper_pearson_interval, wilson_interval


def make_result(errors=123, symbols=10_000, bits_per_symbol=2, seed=42,
                **overrides):
    bits = symbols * bits_per_symbol
    bit_errors = errors + errors // 3
    fields = dict(
        errors=errors, symbols=symbols, bit_errors=bit_errors, bits=bits,
        ser=errors / symbols, ber=bit_errors / bits,
        ser_ci_wilson=wilson_interval(errors, symbols),
        ser_ci_cp=clopper_pearson_interval(errors, symbols),
        ber_ci_wilson=wilson_interval(bit_errors, bits),
        ber_ci_cp=clopper_pearson_interval(bit_errors, bits),
        confidence=0.95, batches=7, wall_time=1.25, seed=seed,
        stop_reason="target_errors")
    fields.update(overrides)
    return PointResult(**fields)


def key(snr=3.0, detector="viterbi", csi="perfect", experiment="fig9",
        channel="exp4", config_hash="abc123"):
    return PointKey(experiment, detector, channel, csi, snr, config_hash)


def test_round_trip_is_exact(tmp_path):
    r = make_result()
    with ResultsStore(tmp_path / "r.db") as st:
        assert st.add_point(key(), r, seed=42, code_version="0.1.0+g1234")
    with ResultsStore(tmp_path / "r.db") as st:             # reopened
        (row,) = st.points()
    assert list(row) == list(COLUMNS)
    assert (row["experiment"], row["detector"], row["channel"], row["csi"],
            row["snr_db"], row["config_hash"]) == key().as_tuple()
    assert row["seed"] == 42 and row["code_version"] == "0.1.0+g1234"
    for f in ("errors", "symbols", "bit_errors", "bits", "ser", "ber",
              "confidence", "batches", "wall_time", "stop_reason"):
        assert row[f] == getattr(r, f), f
    assert (row["ser_lo"], row["ser_hi"]) == r.ser_ci_wilson
    assert (row["ser_cp_lo"], row["ser_cp_hi"]) == r.ser_ci_cp
    assert (row["ber_lo"], row["ber_hi"]) == r.ber_ci_wilson
    assert (row["ber_cp_lo"], row["ber_cp_hi"]) == r.ber_ci_cp
    assert row["created_at"].endswith("+00:00")


def test_point_without_bit_labels_stores_nulls(tmp_path):
    r = make_result(bit_errors=None, bits=None, ber=None, ber_ci_wilson=None,
                    ber_ci_cp=None)
    with ResultsStore(tmp_path / "r.db") as st:
        st.add_point(key(), r, seed=1, code_version="x")
        (row,) = st.points()
    assert [row[c] for c in ("bit_errors", "bits", "ber", "ber_lo", "ber_hi",
                             "ber_cp_lo", "ber_cp_hi")] == [None] * 7


def test_no_duplicates_first_row_kept_unless_replace(tmp_path):
    with ResultsStore(tmp_path / "r.db") as st:
        assert st.add_point(key(3.0), make_result(errors=100), seed=1,
                            code_version="a")
        # Same key written as int, float noise below 1e-9 dB: same point.
        for snr in (3, 3.0, 3.0000000000004, 1.0 + 2.0):
            assert not st.add_point(key(snr), make_result(errors=999),
                                    seed=2, code_version="b")
        assert len(st) == 1
        assert st.points()[0]["errors"] == 100
        assert st.add_point(key(3), make_result(errors=555), seed=3,
                            code_version="c", replace=True)
        assert len(st) == 1
        assert st.points()[0]["errors"] == 555
        # Any differing key column makes a new point.
        for k in (key(3.001), key(detector="bcjr"), key(csi="estimated"),
                  key(experiment="other"), key(channel="exp2"),
                  key(config_hash="def456")):
            assert st.add_point(k, make_result(), seed=1, code_version="a")
        assert len(st) == 7


def test_unique_constraint_holds_at_sql_level(tmp_path):
    with ResultsStore(tmp_path / "r.db") as st:
        st.add_point(key(), make_result(), seed=1, code_version="a")
    raw = sqlite3.connect(tmp_path / "r.db")
    row = raw.execute("SELECT * FROM points").fetchone()
    with pytest.raises(sqlite3.IntegrityError):
        raw.execute("INSERT INTO points VALUES (NULL" + ",?" * (len(row) - 1)
                    + ")", row[1:])
    raw.close()


def test_two_connections_racing_on_one_point_write_one_row(tmp_path):
    a = ResultsStore(tmp_path / "r.db")
    b = ResultsStore(tmp_path / "r.db")
    try:
        assert a.add_point(key(), make_result(errors=1), seed=1,
                           code_version="a")
        assert not b.add_point(key(), make_result(errors=2), seed=1,
                               code_version="b")
        assert b.has_point(key()) and len(a) == 1
    finally:
        a.close()
        b.close()


def test_resume_skips_finished_points_and_crash_loses_only_point_in_flight(
        tmp_path):
    path = tmp_path / "sub" / "dir" / "r.db"       # directories created
    todo = [key(s, d) for d in ("viterbi", "bcjr") for s in (0.0, 2.0, 4.0)]
    simulated = []

    def sweep(crash_at=None):
        with ResultsStore(path) as st:
            for k in todo:
                if st.has_point(k):
                    continue
                if len(simulated) == crash_at:
                    raise KeyboardInterrupt            # killed mid-point
                simulated.append(k)
                st.add_point(k, make_result(), seed=1, code_version="a")

    with pytest.raises(KeyboardInterrupt):
        sweep(crash_at=4)
    with ResultsStore(path) as st:
        assert len(st) == 4
        assert [st.has_point(k) for k in todo] == [True] * 4 + [False] * 2
    sweep()
    assert simulated == todo                  # each point exactly once
    sweep()
    assert simulated == todo                  # nothing left to do
    with ResultsStore(path) as st:
        assert len(st) == 6


def test_points_order_and_filters(tmp_path):
    keys = [key(s, d, c, e, config_hash=h)
            for e in ("e1", "e2") for d in ("viterbi", "bcjr", "lmmse")
            for c in ("perfect", "noisy") for s in (10.0, -2.0, 0.5, 4)
            for h in ("h1", "h2")]
    shuffled = keys[:]
    random.Random(0).shuffle(shuffled)
    with ResultsStore(tmp_path / "r.db") as st:
        for k in shuffled:
            st.add_point(k, make_result(), seed=1, code_version="a")
        rows = st.points()
        got = [(r["experiment"], r["detector"], r["csi"], r["snr_db"],
                r["config_hash"]) for r in rows]
        assert got == sorted(got)
        assert len(rows) == len(keys)
        e1 = st.points(experiment="e1")
        assert {r["experiment"] for r in e1} == {"e1"}
        assert len(e1) == len(keys) // 2
        h2 = st.points(experiment="e2", config_hash="h2")
        assert len(h2) == len(keys) // 4
        assert [r["snr_db"] for r in h2[:4]] == [-2.0, 0.5, 4.0, 10.0]
        assert st.points(experiment="nope") == []
        assert st.experiments() == ["e1", "e2"]


def test_export_csv_round_trip(tmp_path):
    r_none = make_result(bit_errors=None, bits=None, ber=None,
                         ber_ci_wilson=None, ber_ci_cp=None)
    with ResultsStore(tmp_path / "r.db") as st:
        st.add_point(key(1 / 3), make_result(), seed=2**61, code_version="a")
        st.add_point(key(-1.5), r_none, seed=0, code_version="a")
        st.add_point(key(0.0, experiment="other"), make_result(), seed=1,
                     code_version="a")
        n = st.export_csv(tmp_path / "out" / "fig9.csv", experiment="fig9")
        expected = st.points(experiment="fig9")
    assert n == 2
    with open(tmp_path / "out" / "fig9.csv", newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == COLUMNS
        rows = list(reader)
    assert len(rows) == 2
    for got, want in zip(rows, expected):
        for c in COLUMNS:
            w = want[c]
            if w is None:
                assert got[c] == ""
            elif isinstance(w, float):
                assert float(got[c]) == w, c               # exact floats
            else:
                assert got[c] == str(w), c
    assert rows[1]["snr_db"] == repr(round(1 / 3, 9))


def test_wal_mode_and_schema_version(tmp_path):
    with ResultsStore(tmp_path / "r.db") as st:
        assert st.journal_mode == "wal"
    raw = sqlite3.connect(tmp_path / "r.db")
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    raw.close()


def test_not_sqlite_file_is_refused(tmp_path):
    p = tmp_path / "notes.db"
    p.write_text("these are my notes, not a database\n" * 20)
    with pytest.raises(StoreError, match="not an SQLite database"):
        ResultsStore(p)
    assert p.read_text().startswith("these are my notes")    # untouched


def test_foreign_sqlite_database_is_refused(tmp_path):
    p = tmp_path / "other.db"
    raw = sqlite3.connect(p)
    raw.execute("CREATE TABLE customers (name TEXT)")
    raw.commit()
    raw.close()
    with pytest.raises(StoreError, match="another application"):
        ResultsStore(p)
    raw = sqlite3.connect(p)                     # and left untouched
    assert raw.execute("SELECT name FROM sqlite_master").fetchall() == [
        ("customers",)]
    raw.close()


def test_newer_schema_is_refused(tmp_path):
    p = tmp_path / "r.db"
    ResultsStore(p).close()
    raw = sqlite3.connect(p)
    raw.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    raw.commit()
    raw.close()
    with pytest.raises(StoreError, match="newer"):
        ResultsStore(p)


def test_empty_file_becomes_a_store(tmp_path):
    p = tmp_path / "empty.db"
    p.touch()
    with ResultsStore(p) as st:
        assert len(st) == 0 and st.experiments() == []


def test_closed_store_and_bad_arguments(tmp_path):
    st = ResultsStore(tmp_path / "r.db")
    with pytest.raises(TypeError, match="key"):
        st.has_point(("fig9", "viterbi", "exp4", "perfect", 3.0, "abc"))
    with pytest.raises(TypeError, match="seed"):
        st.add_point(key(), make_result(), seed=1.5, code_version="a")
    with pytest.raises(TypeError, match="code_version"):
        st.add_point(key(), make_result(), seed=1, code_version=None)
    assert len(st) == 0
    st.close()
    st.close()                                              # idempotent
    with pytest.raises(ValueError, match="closed"):
        st.points()


@pytest.mark.parametrize("field, value, exc", [
    ("experiment", "", ValueError),
    ("detector", 3, TypeError),
    ("snr_db", float("nan"), ValueError),
    ("snr_db", float("inf"), ValueError),
    ("snr_db", "3", TypeError),
    ("config_hash", None, TypeError),
])
def test_point_key_validation(field, value, exc):
    kwargs = dataclasses.asdict(key())
    kwargs[field] = value
    with pytest.raises(exc, match=field):
        PointKey(**kwargs)


def test_point_key_normalises_snr():
    assert key(3).snr_db == 3.0 and isinstance(key(3).snr_db, float)
    assert key(0.1 + 0.2) == key(0.3)
    assert key(-0.0).snr_db == 0.0 and str(key(-0.0).snr_db) == "0.0"
    assert key(2.0000000004) != key(2.000000002)


# -- schema 2: coded points, migration from schema 1 --------------------------

# The schema-1 table exactly as rxsim 0.1.0 created it (before coded links).
_V1_SCHEMA = """
CREATE TABLE points (
    id           INTEGER PRIMARY KEY,
    experiment   TEXT    NOT NULL,
    detector     TEXT    NOT NULL,
    channel      TEXT    NOT NULL,
    csi          TEXT    NOT NULL,
    snr_db       REAL    NOT NULL,
    config_hash  TEXT    NOT NULL,
    seed         INTEGER NOT NULL,
    code_version TEXT    NOT NULL,
    errors       INTEGER NOT NULL,
    symbols      INTEGER NOT NULL,
    bit_errors   INTEGER,
    bits         INTEGER,
    ser          REAL    NOT NULL,
    ber          REAL,
    ser_lo       REAL    NOT NULL,
    ser_hi       REAL    NOT NULL,
    ser_cp_lo    REAL    NOT NULL,
    ser_cp_hi    REAL    NOT NULL,
    ber_lo       REAL,
    ber_hi       REAL,
    ber_cp_lo    REAL,
    ber_cp_hi    REAL,
    confidence   REAL    NOT NULL,
    batches      INTEGER NOT NULL,
    wall_time    REAL    NOT NULL,
    stop_reason  TEXT    NOT NULL,
    created_at   TEXT    NOT NULL,
    UNIQUE (experiment, detector, channel, csi, snr_db, config_hash)
)
"""
_V2_NEW = ("block_errors", "blocks", "bler", "bler_lo", "bler_hi",
           "bler_cp_lo", "bler_cp_hi")


def make_v1_store(path, extra_sql=()):
    """A schema-1 store with one point, written with raw SQL."""
    raw = sqlite3.connect(path)
    raw.execute(_V1_SCHEMA)
    for stmt in extra_sql:
        raw.execute(stmt)
    raw.execute(f"PRAGMA application_id={0x7278736D}")    # "rxsm"
    raw.execute("PRAGMA user_version=1")
    raw.execute(
        "INSERT INTO points (experiment, detector, channel, csi, snr_db, "
        "config_hash, seed, code_version, errors, symbols, bit_errors, bits, "
        "ser, ber, ser_lo, ser_hi, ser_cp_lo, ser_cp_hi, ber_lo, ber_hi, "
        "ber_cp_lo, ber_cp_hi, confidence, batches, wall_time, stop_reason, "
        "created_at) VALUES ('fig9', 'viterbi', 'exp4', 'perfect', 3.0, "
        "'abc123', 42, '0.1.0', 123, 10000, 164, 20000, 0.0123, 0.0082, "
        "0.01, 0.015, 0.0101, 0.0148, 0.007, 0.0095, 0.0069, 0.0096, 0.95, "
        "7, 1.25, 'target_errors', '2026-01-01T00:00:00+00:00')")
    raw.commit()
    raw.close()


def _columns(path):
    raw = sqlite3.connect(path)
    cols = [r[1] for r in raw.execute("PRAGMA table_info(points)")]
    version = raw.execute("PRAGMA user_version").fetchone()[0]
    raw.close()
    return cols, version


def test_v1_store_is_migrated_in_place_and_keeps_its_rows(tmp_path):
    p = tmp_path / "old.db"
    make_v1_store(p)
    with ResultsStore(p) as st:
        (old,) = st.points()
        assert st.has_point(key())                        # still resumes
        assert not st.add_point(key(), make_result(), seed=1,
                                code_version="x")         # kept, not replaced
        coded = make_result(block_errors=7, blocks=500, bler=7 / 500,
                            bler_ci_wilson=wilson_interval(7, 500),
                            bler_ci_cp=clopper_pearson_interval(7, 500))
        assert st.add_point(key(snr=4.0), coded, seed=2, code_version="y")
    cols, version = _columns(p)
    assert version == SCHEMA_VERSION == 5
    assert set(_V2_NEW) <= set(cols) and set(COLUMNS) == set(cols) - {"id"}
    assert "ser_deff" in cols
    assert old["errors"] == 123 and old["ser"] == 0.0123
    assert old["ber_cp_hi"] == 0.0096 and old["seed"] == 42
    assert all(old[c] is None for c in _V2_NEW + ("ser_deff",))
    assert old["axis"] == "snr"                  # schema 5: SNR rows
    with ResultsStore(p) as st:                           # reopen: no-op
        rows = st.points()
        st.export_csv(tmp_path / "all.csv")
    assert _columns(p) == (cols, SCHEMA_VERSION)
    assert [r["snr_db"] for r in rows] == [3.0, 4.0]
    new = rows[1]
    assert (new["block_errors"], new["blocks"], new["bler"]) == (7, 500,
                                                                 7 / 500)
    assert (new["bler_lo"], new["bler_hi"]) == coded.bler_ci_wilson
    assert (new["bler_cp_lo"], new["bler_cp_hi"]) == coded.bler_ci_cp
    with open(tmp_path / "all.csv", newline="") as f:
        got = list(csv.DictReader(f))
    assert got[0]["bler"] == "" and float(got[1]["bler"]) == 7 / 500
    assert got[1]["blocks"] == "500"


def test_failed_migration_leaves_the_v1_file_untouched(tmp_path):
    """The migration is one transaction: when a later ALTER fails (here a
    hand-added ``bler`` column collides), the columns added before it are
    rolled back and the file stays schema 1."""
    p = tmp_path / "odd.db"
    make_v1_store(p, ["ALTER TABLE points ADD COLUMN bler REAL"])
    with pytest.raises(StoreError):
        ResultsStore(p)
    cols, version = _columns(p)
    assert version == 1
    assert "block_errors" not in cols and "blocks" not in cols


def test_coded_round_trip_and_uncoded_nulls(tmp_path):
    coded = make_result(block_errors=3, blocks=200, bler=0.015,
                        bler_ci_wilson=wilson_interval(3, 200),
                        bler_ci_cp=clopper_pearson_interval(3, 200))
    with ResultsStore(tmp_path / "r.db") as st:
        st.add_point(key(), coded, seed=1, code_version="a")
        st.add_point(key(snr=5.0), make_result(), seed=1, code_version="a")
        a, b = st.points()
    assert (a["block_errors"], a["blocks"], a["bler"]) == (3, 200, 0.015)
    assert (a["bler_lo"], a["bler_hi"]) == coded.bler_ci_wilson
    assert (a["bler_cp_lo"], a["bler_cp_hi"]) == coded.bler_ci_cp
    assert all(b[c] is None for c in _V2_NEW)


# -- schema 4: per-frame counts, migration from schema 3 ----------------------


def with_frames(errors, bit_errors=None, **overrides):
    """A result whose totals are those of the given per-frame counts."""
    counts = {"errors": tuple(errors)}
    if bit_errors is not None:
        counts["bit_errors"] = tuple(bit_errors)
    e = sum(errors)
    b = sum(bit_errors) if bit_errors is not None else e + e // 3
    return make_result(errors=e, bit_errors=b, symbols=100 * len(errors),
                       frame_counts=counts, **overrides)


def test_frame_counts_round_trip_exactly_and_compactly(tmp_path):
    rng = random.Random(5)
    errors = [rng.choice((0, 0, 0, 0, 1, 3, 7)) for _ in range(5000)]
    bits = [2 * e for e in errors]
    wide = [0] * 4999 + [2 ** 40]             # a counter needing 64 bits
    r = with_frames(errors, bits)
    r = dataclasses.replace(r, frame_counts={**r.frame_counts,
                                             "wide": tuple(wide)})
    with ResultsStore(tmp_path / "r.db") as st:
        assert st.add_point(key(), r, seed=1, code_version="a")
        st.add_point(key(snr=4.0), make_result(), seed=1, code_version="a")
    with ResultsStore(tmp_path / "r.db") as st:               # reopened
        got = st.frame_counts(key())
        (row, other) = st.points()
        assert st.frame_counts(row) == got        # a row names its point
        assert st.frame_counts(other) is None     # stored without counts
        assert st.frame_counts(key(snr=9.0)) is None          # not stored
    assert got == {"errors": errors, "bit_errors": bits, "wide": wide}
    assert all(type(v) is int for v in got["errors"])
    raw = sqlite3.connect(tmp_path / "r.db")
    sizes = dict(raw.execute("SELECT counter, length(data) FROM "
                             "frame_counts").fetchall())
    formats = dict(raw.execute("SELECT counter, format FROM frame_counts"))
    raw.close()
    assert formats == {"errors": "zlib:int32le",
                       "bit_errors": "zlib:int32le", "wide": "zlib:int64le"}
    assert sizes["errors"] < 5000 * 2             # well under 8 B a frame
    small = with_frames([0, 1, 0, 2] * 1000)
    with ResultsStore(tmp_path / "s.db") as st:
        st.add_point(key(), small, seed=1, code_version="a")
        assert st.frame_counts(key()) == {"errors": [0, 1, 0, 2] * 1000}
        fmt, size = st._conn.execute(
            "SELECT format, length(data) FROM frame_counts").fetchone()
    assert fmt == "zlib:int32le" and size < 200       # repetitive: tiny


def test_frame_counts_follow_the_row_on_ignore_and_replace(tmp_path):
    first, second = with_frames([1, 2, 3]), with_frames([4, 0, 0, 5])
    with ResultsStore(tmp_path / "r.db") as st:
        assert st.add_point(key(), first, seed=1, code_version="a")
        assert not st.add_point(key(), second, seed=2, code_version="b")
        assert st.frame_counts(key()) == {"errors": [1, 2, 3]}
        assert st.add_point(key(), second, seed=2, code_version="b",
                            replace=True)
        assert st.frame_counts(key()) == {"errors": [4, 0, 0, 5]}
        # replaced by a result without counts: none are left behind
        assert st.add_point(key(), make_result(), seed=3, code_version="c",
                            replace=True)
        assert st.frame_counts(key()) is None
        (n,) = st._conn.execute("SELECT count(*) FROM frame_counts")\
            .fetchone()
    assert n == 0


@pytest.mark.parametrize("counts, exc, word", [
    ({"errors": (1, 2)}, ValueError, "adds up to 3"),       # total is 4
    ({"errors": (1, 3), "bit_errors": (1, 1, 3)}, ValueError, "length"),
    ({"errors": (5, -1)}, ValueError, "negative"),
    ({"errors": (1.0, 3.0)}, TypeError, "integer"),
    ({"errors": (True, 3)}, TypeError, "integer"),
    ([(1, 3)], TypeError, "dict"),
])
def test_bad_frame_counts_are_refused_with_nothing_written(tmp_path, counts,
                                                           exc, word):
    r = make_result(errors=4, bit_errors=None, bits=None, ber=None,
                    ber_ci_wilson=None, ber_ci_cp=None, frame_counts=counts)
    with ResultsStore(tmp_path / "r.db") as st:
        with pytest.raises(exc, match=word):
            st.add_point(key(), r, seed=1, code_version="a")
        assert len(st) == 0 and not st.has_point(key())


# The schema-3 file as rxsim wrote it before frame counts: the schema-1
# table with the columns of migrations 1 -> 2 -> 3.
_V3_EXTRA = [f"ALTER TABLE points ADD COLUMN {c} "
             f"{'INTEGER' if c in ('block_errors', 'blocks') else 'REAL'}"
             for c in _V2_NEW] + ["ALTER TABLE points ADD COLUMN ser_deff REAL"]


def make_v3_store(path):
    make_v1_store(path, _V3_EXTRA)
    raw = sqlite3.connect(path)
    raw.execute("UPDATE points SET ser_deff = 1.5")
    raw.execute("PRAGMA user_version=3")
    raw.commit()
    raw.close()


def test_v3_store_gets_the_frame_counts_table_and_keeps_its_rows(tmp_path):
    p = tmp_path / "v3.db"
    make_v3_store(p)
    with ResultsStore(p) as st:
        (old,) = st.points()
        assert st.frame_counts(old) is None            # none recorded
        assert st.has_point(key())
        assert st.add_point(key(snr=4.0), with_frames([2, 0, 1]), seed=2,
                            code_version="y")
    raw = sqlite3.connect(p)
    tables = {n for (n,) in raw.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    raw.close()
    assert {"points", "frame_counts"} <= tables
    cols, version = _columns(p)
    assert version == SCHEMA_VERSION == 5
    assert old["errors"] == 123 and old["ser_deff"] == 1.5
    with ResultsStore(p) as st:                           # reopen: no-op
        assert st.frame_counts(key(snr=4.0)) == {"errors": [2, 0, 1]}
        assert [r["snr_db"] for r in st.points()] == [3.0, 4.0]
    assert _columns(p) == (cols, SCHEMA_VERSION)
