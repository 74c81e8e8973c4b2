"""SQLite results store: one committed row per finished sweep point.

A point is identified by a :class:`PointKey` ``(experiment, detector,
channel, csi, snr_db, config_hash)``, unique in the table. Each
:meth:`ResultsStore.add_point` is one committed transaction, so a killed
run loses at most the points in flight, and a rerun skips every point for
which :meth:`ResultsStore.has_point` is true (resume).

Decisions
---------
- ``snr_db`` is stored as REAL, rounded to ``SNR_DECIMALS`` (1e-9 dB) when
  a :class:`PointKey` is built. Keys are compared after that rounding, so
  ``3``, ``3.0`` and ``0.1 + 0.2 + 2.7`` name the same point, and equality
  in SQL is exact (an IEEE double round-trips through SQLite unchanged).
- Adding a point that is already stored keeps the stored row and returns
  ``False`` (``INSERT OR IGNORE``): a rerun, or two workers racing on the
  same point, never duplicates nor overwrites. ``replace=True`` overwrites
  on purpose.
- The file is marked with ``PRAGMA application_id`` and versioned with
  ``PRAGMA user_version``; opening another application's database, a newer
  schema or a file that is not SQLite raises :class:`StoreError`.
- Schema 2 adds the nullable coded-link columns ``block_errors, blocks,
  bler, bler_lo, bler_hi, bler_cp_lo, bler_cp_hi`` (``NULL`` for uncoded
  points). A schema-1 file is migrated in place when opened: the columns
  are added and ``user_version`` is bumped in one transaction, so a crash
  leaves either the old or the new schema, and its rows keep their values
  (with ``NULL`` in the new columns). For coded points ``bit_errors, bits,
  ber`` count information bits after decoding (see
  :mod:`rxsim.montecarlo`).
- Schema 3 adds ``ser_deff``, the design effect of the symbol errors
  (:func:`rxsim.stats.design_effect`; ``NULL`` in rows of older code).
- Schema 4 adds the table ``frame_counts``: a point's per-frame counts
  (:attr:`rxsim.montecarlo.PointResult.frame_counts`, what paired
  comparisons between detectors of one point need, :mod:`rxsim.paired`),
  one row per counter (``errors``, ``bit_errors``, ``block_errors``) keyed
  by the point's row id, the values a zlib-compressed little-endian
  int32 (int64 when a count needs it) array (about 1 byte a frame in the
  usual case of few errors per frame). They are written in the
  transaction of the point's row, so a point is stored with all its
  counts or not at all. A schema-3 file gets the (empty) table on open;
  its rows have no frame counts (:meth:`ResultsStore.frame_counts`
  returns ``None`` for them) and are compared unpaired.
- Schema 5 adds ``axis``, the unit of a row's ``snr_db`` value: ``'snr'``
  (``no = 10**(-snr_db/10)``) or ``'ebno'`` (Eb/N0 in dB, ``[sweep] axis
  = "ebno"``, :func:`rxsim.sweep.noise_variance`). The value's column
  keeps its name ``snr_db``. The column is ``NOT NULL DEFAULT 'snr'``, so
  a schema-4 file migrated in place reads its rows as ``'snr'``. The axis
  is not a key column: a point on the Eb/N0 grid has its own config hash
  (:meth:`rxsim.config.SweepConfig.point_hash`).
- WAL journal: readers (plots, exports) never block the writer.
"""

import csv
import math
import numbers
import sqlite3
import sys
import zlib
from array import array
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

__all__ = ["ResultsStore", "PointKey", "StoreError", "SCHEMA_VERSION",
           "SNR_DECIMALS", "COLUMNS", "AXES"]

SCHEMA_VERSION = 5
SNR_DECIMALS = 9
# "rxsm" in ASCII: marks a database as an rxsim results store.
APPLICATION_ID = 0x7278736D

_KEY_COLUMNS = ("experiment", "detector", "channel", "csi", "snr_db",
                "config_hash")

_SCHEMA = """
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
    block_errors INTEGER,
    blocks       INTEGER,
    bler         REAL,
    bler_lo      REAL,
    bler_hi      REAL,
    bler_cp_lo   REAL,
    bler_cp_hi   REAL,
    ser_deff     REAL,
    axis         TEXT    NOT NULL DEFAULT 'snr',
    confidence   REAL    NOT NULL,
    batches      INTEGER NOT NULL,
    wall_time    REAL    NOT NULL,
    stop_reason  TEXT    NOT NULL,
    created_at   TEXT    NOT NULL,
    UNIQUE (experiment, detector, channel, csi, snr_db, config_hash)
);
"""

# Schema 4: per-frame counts of a point, one row per counter; point_id is
# the points.id of the row written in the same transaction.
_FRAME_COUNTS_SCHEMA = """
CREATE TABLE frame_counts (
    point_id INTEGER NOT NULL,
    counter  TEXT    NOT NULL,
    frames   INTEGER NOT NULL,
    format   TEXT    NOT NULL,
    data     BLOB    NOT NULL,
    PRIMARY KEY (point_id, counter)
)
"""
_SCHEMA = _SCHEMA + _FRAME_COUNTS_SCHEMA

# Schema 1 -> 2: the coded-link columns (all nullable, so old rows stay
# valid with NULL in them).
_V2_COLUMNS = (("block_errors", "INTEGER"), ("blocks", "INTEGER"),
               ("bler", "REAL"), ("bler_lo", "REAL"), ("bler_hi", "REAL"),
               ("bler_cp_lo", "REAL"), ("bler_cp_hi", "REAL"))
# user_version -> statements bringing a file from that version to the next
_MIGRATIONS = {
    1: [f"ALTER TABLE points ADD COLUMN {name} {kind}"
        for name, kind in _V2_COLUMNS],
    # Schema 2 -> 3: the design effect of the symbol errors.
    2: ["ALTER TABLE points ADD COLUMN ser_deff REAL"],
    # Schema 3 -> 4: per-frame counts (old points have none).
    3: [_FRAME_COUNTS_SCHEMA],
    # Schema 4 -> 5: the unit of snr_db (older rows are on the SNR axis).
    4: ["ALTER TABLE points ADD COLUMN axis TEXT NOT NULL DEFAULT 'snr'"],
}
#: Values of the ``axis`` column (and of :attr:`PointKey.axis`).
AXES = ("snr", "ebno")


def _typecode(size):
    """The signed ``array`` typecode of ``size`` bytes on this platform."""
    return next(t for t in "hilq" if array(t).itemsize == size)


# format name -> (array typecode, largest value it holds); stored little
# endian whatever the platform.
_FORMATS = {"zlib:int32le": (_typecode(4), 2 ** 31 - 1),
            "zlib:int64le": (_typecode(8), 2 ** 63 - 1)}
# PointResult counters whose per-frame counts must add up to them
_FRAME_TOTALS = ("errors", "bit_errors", "block_errors")

#: Columns of a row as returned by :meth:`ResultsStore.points` and written
#: by :meth:`ResultsStore.export_csv`, in order.
COLUMNS = ("experiment", "detector", "channel", "csi", "snr_db", "axis",
           "config_hash", "seed", "code_version", "errors", "symbols",
           "bit_errors", "bits", "ser", "ber", "ser_lo", "ser_hi",
           "ser_cp_lo", "ser_cp_hi", "ber_lo", "ber_hi", "ber_cp_lo",
           "ber_cp_hi", "block_errors", "blocks", "bler", "bler_lo",
           "bler_hi", "bler_cp_lo", "bler_cp_hi", "ser_deff", "confidence",
           "batches", "wall_time", "stop_reason", "created_at")

_ORDER = "experiment, detector, csi, channel, snr_db, config_hash, id"


class StoreError(ValueError):
    """The file at the given path cannot be used as an rxsim results store."""


def normalise_snr(snr_db):
    """``snr_db`` as the float stored and compared (rounded to 1e-9 dB)."""
    if isinstance(snr_db, bool) or not isinstance(snr_db, numbers.Real):
        raise TypeError(f"`snr_db` must be a real number, got "
                        f"{type(snr_db).__name__}.")
    x = float(snr_db)
    if not math.isfinite(x):
        raise ValueError(f"`snr_db` must be finite, got {snr_db!r}.")
    return round(x, SNR_DECIMALS) + 0.0          # + 0.0: no -0.0


@dataclass(frozen=True)
class PointKey:
    """Identity of a sweep point in the store.

    Parameters
    ----------
    experiment, detector, channel, csi : str
        Names as given by the config (non-empty).
    snr_db : float
        Rounded to 1e-9 dB on construction (see module notes).
    config_hash : str
        Hash of the configuration that produced the point; a changed
        config makes new points instead of mixing results.
    axis : "snr" | "ebno"
        What ``snr_db`` holds: SNR or Eb/N0 in dB (stored in the ``axis``
        column; not a key column, the config hash tells the two apart).
    """

    experiment: str
    detector: str
    channel: str
    csi: str
    snr_db: float
    config_hash: str
    axis: str = "snr"

    def __post_init__(self):
        for name in ("experiment", "detector", "channel", "csi",
                     "config_hash"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise TypeError(f"`{name}` must be a str, got "
                                f"{type(value).__name__}.")
            if not value:
                raise ValueError(f"`{name}` must not be empty.")
        object.__setattr__(self, "snr_db", normalise_snr(self.snr_db))
        if self.axis not in AXES:
            raise ValueError(f"`axis` must be one of {AXES}, got "
                             f"{self.axis!r}.")

    def as_tuple(self):
        """The key in column order."""
        return tuple(getattr(self, c) for c in _KEY_COLUMNS)


def _interval(ci):
    if ci is None:
        return None, None
    lo, hi = ci
    return float(lo), float(hi)


class ResultsStore:
    """Results of Monte Carlo points in one SQLite file.

    Parameters
    ----------
    path : str or pathlib.Path
        Database file; missing parent directories are created. A new or
        empty file gets the schema.

    Raises
    ------
    StoreError
        The file is not SQLite, belongs to another application, or has a
        newer schema than this rxsim understands. An older schema with a
        migration (versions 1 to 4) is upgraded in place.

    Notes
    -----
    Use as a context manager or call :meth:`close`. Several processes may
    open the same file; writes are serialised by SQLite (``timeout``
    seconds of waiting for a lock).

    Example
    -------
    >>> import tempfile, pathlib
    >>> from channels import ISIChannel
    >>> from detectors import SymbolwiseDetector
    >>> from rxsim import Link, PointKey, ResultsStore, Transmitter
    >>> from rxsim import simulate_point
    >>> link = Link(Transmitter(), ISIChannel([1.0]),
    ...             SymbolwiseDetector([1.0]), num_symbols=100)
    >>> result = simulate_point(link, 1.0, batch_size=50, target_errors=10,
    ...                         max_symbols=5000, seed=3, xla=False)
    >>> key = PointKey(experiment="demo", detector="symbolwise",
    ...                channel="awgn", csi="perfect", snr_db=0.0,
    ...                config_hash="0123456789abcdef")
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     db = pathlib.Path(tmp) / "demo.sqlite"
    ...     with ResultsStore(db) as store:
    ...         written = store.add_point(key, result, seed=3,
    ...                                   code_version="doc")
    ...         again = store.add_point(key, result, seed=3,
    ...                                 code_version="doc")
    ...         (row,) = store.points(experiment="demo")
    >>> written, again, row["errors"] == result.errors, row["symbols"]
    (True, False, True, 5000)
    """

    def __init__(self, path, timeout=30.0):
        self.path = Path(path)
        self._conn = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Autocommit mode: transactions are opened explicitly below.
            self._conn = sqlite3.connect(str(self.path), timeout=timeout,
                                         isolation_level=None)
            self._open()
        except (OSError, sqlite3.OperationalError) as exc:
            self.close()
            raise StoreError(
                f"cannot open the results store {self.path} for writing "
                f"({exc}); check that its directory exists, is a directory "
                "and is writable, or pass another --db path.") from exc
        except BaseException:
            self.close()
            raise

    # -- opening ---------------------------------------------------------
    def _pragma(self, name):
        return self._conn.execute(f"PRAGMA {name}").fetchone()[0]

    def _open(self):
        try:
            app_id = self._pragma("application_id")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not an SQLite database "
                             f"({exc}); give a new file name.") from exc
        self._check_owner(app_id)
        mode = self._pragma("journal_mode=WAL")
        self.journal_mode = str(mode).lower()
        # BEGIN IMMEDIATE: two processes creating the same store at once
        # are serialised; the second sees the schema of the first.
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            self._check_owner(self._pragma("application_id"))
            version = self._pragma("user_version")
            if version == 0:
                for stmt in _SCHEMA.split(";"):
                    if stmt.strip():
                        self._conn.execute(stmt)
                self._conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
                self._conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            else:
                # Older schema: migrate inside this transaction (another
                # process may have migrated it between the check above and
                # BEGIN IMMEDIATE, hence the version read in here).
                while version < SCHEMA_VERSION:
                    for stmt in _MIGRATIONS[version]:
                        self._conn.execute(stmt)
                    version += 1
                    self._conn.execute(f"PRAGMA user_version={version}")
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

    def _check_owner(self, app_id):
        version = self._pragma("user_version")
        tables = self._conn.execute(
            "SELECT count(*) FROM sqlite_master").fetchone()[0]
        if app_id == 0 and version == 0 and tables == 0:
            return                                   # new or empty file
        if app_id != APPLICATION_ID:
            raise StoreError(
                f"{self.path} is an SQLite database of another application "
                f"(application_id={app_id}, {tables} schema objects), not an "
                "rxsim results store; give a new file name.")
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has results schema version {version}, newer "
                f"than this rxsim understands ({SCHEMA_VERSION}); upgrade "
                "rxsim.")
        if version < SCHEMA_VERSION and tables and version not in _MIGRATIONS:
            raise StoreError(
                f"{self.path} has results schema version {version}; this "
                f"rxsim needs {SCHEMA_VERSION} and has no migration for it.")

    # -- context manager -------------------------------------------------
    def close(self):
        """Close the connection (idempotent)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _db(self):
        if self._conn is None:
            raise ValueError(f"the results store {self.path} is closed.")
        return self._conn

    # -- points ----------------------------------------------------------
    def has_point(self, key: PointKey) -> bool:
        """True when the point ``key`` is stored (resume: skip it)."""
        key = _as_key(key)
        row = self._db().execute(
            "SELECT 1 FROM points WHERE " +
            " AND ".join(f"{c} = ?" for c in _KEY_COLUMNS) + " LIMIT 1",
            key.as_tuple()).fetchone()
        return row is not None

    def add_point(self, key: PointKey, result, *, seed, code_version,
                  replace=False) -> bool:
        """Store a finished point in one committed transaction.

        Parameters
        ----------
        key : PointKey
        result : rxsim.montecarlo.PointResult
        seed : int
            The point's seed (see ``rxsim.montecarlo.point_seed``).
        code_version : str
            Version of the code that produced the point (e.g. package
            version and git commit).
        replace : bool
            Overwrite a stored row with the same key. By default a stored
            row is kept.

        Output
        ------
        : bool
            True if the row was written, False if the key was already
            stored (and ``replace`` is False).
        """
        key = _as_key(key)
        # stdlib only: the store opens without loading TensorFlow
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise TypeError(f"`seed` must be an int, got "
                            f"{type(seed).__name__}.")
        if not -2 ** 63 <= int(seed) < 2 ** 63:
            raise ValueError("`seed` must fit in a signed 64-bit integer.")
        if not isinstance(code_version, str):
            raise TypeError("`code_version` must be a str, got "
                            f"{type(code_version).__name__}.")
        ser_lo, ser_hi = _interval(result.ser_ci_wilson)
        ser_cp_lo, ser_cp_hi = _interval(result.ser_ci_cp)
        ber_lo, ber_hi = _interval(result.ber_ci_wilson)
        ber_cp_lo, ber_cp_hi = _interval(result.ber_ci_cp)
        # Results of older code (or uncoded points) have no block fields.
        bler_lo, bler_hi = _interval(getattr(result, "bler_ci_wilson", None))
        bler_cp_lo, bler_cp_hi = _interval(getattr(result, "bler_ci_cp",
                                                   None))

        def opt_int(v):
            return None if v is None else int(v)

        def opt_float(v):
            return None if v is None else float(v)

        row = dict(zip(_KEY_COLUMNS, key.as_tuple()))
        row.update(
            axis=key.axis, seed=int(seed), code_version=code_version,
            errors=int(result.errors), symbols=int(result.symbols),
            bit_errors=opt_int(result.bit_errors), bits=opt_int(result.bits),
            ser=float(result.ser), ber=opt_float(result.ber),
            ser_lo=ser_lo, ser_hi=ser_hi, ser_cp_lo=ser_cp_lo,
            ser_cp_hi=ser_cp_hi, ber_lo=ber_lo, ber_hi=ber_hi,
            ber_cp_lo=ber_cp_lo, ber_cp_hi=ber_cp_hi,
            block_errors=opt_int(getattr(result, "block_errors", None)),
            blocks=opt_int(getattr(result, "blocks", None)),
            bler=opt_float(getattr(result, "bler", None)),
            bler_lo=bler_lo, bler_hi=bler_hi, bler_cp_lo=bler_cp_lo,
            bler_cp_hi=bler_cp_hi,
            ser_deff=opt_float(getattr(result, "ser_deff", None)),
            confidence=float(result.confidence),
            batches=int(result.batches), wall_time=float(result.wall_time),
            stop_reason=str(result.stop_reason),
            created_at=datetime.now(timezone.utc).isoformat(
                timespec="seconds"))
        # Checked and encoded before the transaction: a bad count raises
        # with nothing written.
        blobs = _encode_frame_counts(getattr(result, "frame_counts", None),
                                     result)
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        sql = (f"{verb} INTO points ({', '.join(COLUMNS)}) VALUES "
               f"({', '.join('?' for _ in COLUMNS)})")
        db = self._db()
        try:
            db.execute("BEGIN IMMEDIATE")
            if replace:
                # REPLACE deletes the old row (and gives a new id): its
                # frame counts go with it.
                db.execute(
                    "DELETE FROM frame_counts WHERE point_id IN (SELECT id "
                    "FROM points WHERE " +
                    " AND ".join(f"{c} = ?" for c in _KEY_COLUMNS) + ")",
                    key.as_tuple())
            cur = db.execute(sql, [row[c] for c in COLUMNS])
            written = cur.rowcount == 1
            if written and blobs:
                point_id = cur.lastrowid
                # rows deleted by hand (or by another tool) leave their
                # counts behind, and SQLite may reuse their id
                db.execute("DELETE FROM frame_counts WHERE point_id = ?",
                           (point_id,))
                db.executemany(
                    "INSERT INTO frame_counts (point_id, counter, frames, "
                    "format, data) VALUES (?, ?, ?, ?, ?)",
                    [(point_id, name, frames, fmt, data)
                     for name, (frames, fmt, data) in blobs.items()])
            db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            # e.g. disk full or read-only file: the transaction is rolled
            # back whole, so no partial row can remain.
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise StoreError(
                f"could not save a point to {self.path} ({exc}); nothing of "
                "it was written. Free disk space or fix permissions, then "
                "rerun the same command: finished points are kept and the "
                "sweep resumes.") from exc
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return written

    def points(self, experiment=None, config_hash=None):
        """Stored points as dicts (keys :data:`COLUMNS`).

        Parameters
        ----------
        experiment, config_hash : None or str
            Filters; ``None`` means all.

        Output
        ------
        : list of dict
            Ordered by experiment, detector, csi, channel, snr_db,
            config_hash (deterministic, SNR ascending within a curve).
        """
        where, args = [], []
        for name, value in (("experiment", experiment),
                            ("config_hash", config_hash)):
            if value is not None:
                where.append(f"{name} = ?")
                args.append(value)
        sql = f"SELECT {', '.join(COLUMNS)} FROM points"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY {_ORDER}"
        return [dict(zip(COLUMNS, r))
                for r in self._db().execute(sql, args).fetchall()]

    def frame_counts(self, key):
        """Per-frame counts of a stored point, in simulation order.

        Parameters
        ----------
        key : PointKey or dict
            The point, or a row of :meth:`points` (its key columns are
            read).

        Output
        ------
        : None or dict of str -> list of int
            Counter name (``"errors"``, and ``"bit_errors"`` /
            ``"block_errors"`` where counted) -> one count per frame, as
            in :attr:`rxsim.montecarlo.PointResult.frame_counts`. ``None``
            when the point is not stored or was stored without frame
            counts (older code or schema).

        Example
        -------
        >>> import dataclasses, tempfile, pathlib
        >>> from rxsim import PointKey, PointResult, ResultsStore
        >>> r = PointResult.from_counts(dict(frames=3, symbols=30, errors=4,
        ...                                  sum_sq=10))
        >>> r = dataclasses.replace(r, frame_counts={"errors": (1, 0, 3)})
        >>> key = PointKey("demo", "bcjr", "awgn", "perfect", 0.0, "h")
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     with ResultsStore(pathlib.Path(tmp) / "d.sqlite") as st:
        ...         _ = st.add_point(key, r, seed=1, code_version="doc")
        ...         counts = st.frame_counts(key)
        >>> counts
        {'errors': [1, 0, 3]}
        """
        if isinstance(key, dict):
            try:
                key = PointKey(*(key[c] for c in _KEY_COLUMNS))
            except KeyError as exc:
                raise ValueError(
                    f"`key` as a row needs the columns {_KEY_COLUMNS}; "
                    f"missing {exc}.") from None
        key = _as_key(key)
        found = self._db().execute(
            "SELECT f.counter, f.frames, f.format, f.data FROM frame_counts "
            "f JOIN points p ON p.id = f.point_id WHERE " +
            " AND ".join(f"p.{c} = ?" for c in _KEY_COLUMNS) +
            " ORDER BY f.counter", key.as_tuple()).fetchall()
        if not found:
            return None
        return {name: _decode(frames, fmt, data, name)
                for name, frames, fmt, data in found}

    def experiments(self):
        """Sorted list of the experiment names in the store."""
        return [r[0] for r in self._db().execute(
            "SELECT DISTINCT experiment FROM points ORDER BY experiment")]

    def export_csv(self, path, experiment=None):
        """Write the points (optionally of one experiment) to a CSV file.

        The header is :data:`COLUMNS`; missing values are empty cells;
        floats are written with ``repr`` so they read back exactly.
        Parent directories are created.

        Output
        ------
        : int, the number of rows written
        """
        rows = self.points(experiment=experiment)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(COLUMNS)
            for row in rows:
                writer.writerow(["" if row[c] is None else row[c]
                                 for c in COLUMNS])
        return len(rows)

    def __len__(self):
        return self._db().execute("SELECT count(*) FROM points").fetchone()[0]

    def __repr__(self):
        return f"ResultsStore({str(self.path)!r})"


def _encode_frame_counts(counts, result):
    """``{counter: (frames, format, blob)}`` of a result's per-frame counts
    (``{}`` without any), after checking them: whole non-negative counts,
    one length for all counters, adding up to the result's totals."""
    if counts is None:
        return {}
    if not isinstance(counts, dict):
        raise TypeError("`result.frame_counts` must be None or a dict of "
                        "counter name -> per-frame counts, got "
                        f"{type(counts).__name__}.")
    out, lengths = {}, set()
    for name, values in counts.items():
        if not isinstance(name, str) or not name:
            raise TypeError("`result.frame_counts` keys must be counter "
                            f"names (non-empty str), got {name!r}.")
        values = list(values)
        if any(isinstance(v, bool) or not isinstance(v, numbers.Integral)
               for v in values):
            raise TypeError(f"`result.frame_counts[{name!r}]` must hold "
                            "integer counts.")
        values = [int(v) for v in values]
        if values and min(values) < 0:
            raise ValueError(f"`result.frame_counts[{name!r}]` has a "
                             "negative count.")
        total = getattr(result, name, None) if name in _FRAME_TOTALS \
            else None
        if total is not None and sum(values) != int(total):
            raise ValueError(
                f"`result.frame_counts[{name!r}]` adds up to {sum(values)}, "
                f"not to the result's {name} ({int(total)}); store the "
                "counts of every simulated frame.")
        lengths.add(len(values))
        biggest = max(values, default=0)
        if biggest > _FORMATS["zlib:int64le"][1]:
            raise ValueError(f"`result.frame_counts[{name!r}]` has a count "
                             "beyond 64 bits.")
        fmt = next(f for f, (_, top) in _FORMATS.items() if biggest <= top)
        arr = array(_FORMATS[fmt][0], values)
        if sys.byteorder == "big":
            arr.byteswap()
        out[name] = (len(values), fmt, zlib.compress(arr.tobytes(), 6))
    if len(lengths) > 1:
        raise ValueError("`result.frame_counts` counters differ in length "
                         f"({sorted(lengths)} frames); each needs one count "
                         "per simulated frame.")
    return out


def _decode(frames, fmt, data, name):
    if fmt not in _FORMATS:
        raise StoreError(f"frame counts {name!r} are stored in an unknown "
                         f"format {fmt!r}; upgrade rxsim.")
    arr = array(_FORMATS[fmt][0])
    arr.frombytes(zlib.decompress(data))
    if sys.byteorder == "big":
        arr.byteswap()
    if len(arr) != frames:
        raise StoreError(f"frame counts {name!r} hold {len(arr)} values, "
                         f"their row says {frames}: the file is damaged.")
    return arr.tolist()


def _as_key(key):
    if not isinstance(key, PointKey):
        raise TypeError(f"`key` must be a PointKey, got "
                        f"{type(key).__name__}.")
    return key
