"""The run's SQLite ledger: the only shared state. Every judged attempt and mined pair is written (and
committed) before it counts; unique keys make reruns after a kill idempotent."""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import UserError
from .records import MINED_KINDS, Attempt, Pair, PairView, Problem

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rounds (
    id INTEGER PRIMARY KEY, started_at REAL NOT NULL, finished_at REAL, seed INTEGER NOT NULL, stats TEXT);
CREATE TABLE IF NOT EXISTS problems (
    id INTEGER PRIMARY KEY, round_id INTEGER NOT NULL REFERENCES rounds(id), idx INTEGER NOT NULL,
    raw TEXT NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '', detail TEXT NOT NULL DEFAULT '',
    entry_point TEXT NOT NULL DEFAULT '', code TEXT NOT NULL DEFAULT '', tests TEXT NOT NULL DEFAULT '[]',
    solve_prompt TEXT NOT NULL DEFAULT '', header TEXT NOT NULL DEFAULT '', fingerprint TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL, UNIQUE (round_id, idx));
CREATE INDEX IF NOT EXISTS problems_fp ON problems (fingerprint);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY, problem_id INTEGER NOT NULL REFERENCES problems(id), kind TEXT NOT NULL,
    idx INTEGER NOT NULL, completion TEXT NOT NULL, code TEXT NOT NULL, status TEXT NOT NULL,
    passed INTEGER NOT NULL, failure_class TEXT NOT NULL DEFAULT '', failing_test TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '', finish_reason TEXT NOT NULL DEFAULT '', duration_s REAL NOT NULL DEFAULT 0,
    parent_id INTEGER REFERENCES attempts(id), created_at REAL NOT NULL, UNIQUE (problem_id, kind, idx));
CREATE TABLE IF NOT EXISTS pairs (
    id INTEGER PRIMARY KEY, problem_id INTEGER NOT NULL REFERENCES problems(id), kind TEXT NOT NULL,
    broken_id INTEGER REFERENCES attempts(id), fixed_id INTEGER NOT NULL REFERENCES attempts(id),
    failure_class TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL,
    UNIQUE (kind, problem_id, broken_id, fixed_id));
CREATE TABLE IF NOT EXISTS stages (
    name TEXT PRIMARY KEY, status TEXT NOT NULL, updated_at REAL NOT NULL, info TEXT NOT NULL DEFAULT '{}');
"""


PROBLEM_COLUMNS = [
    ("hidden_tests", "TEXT NOT NULL DEFAULT '[]'"),
    ("parent_id", "INTEGER"),
    ("variant", "TEXT NOT NULL DEFAULT ''"),
    ("difficulty", "INTEGER NOT NULL DEFAULT 0"),
    ("meta", "TEXT NOT NULL DEFAULT '{}'"),
]


class Ledger:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self._wal()
        self.db.execute("PRAGMA synchronous=FULL")  # a committed attempt survives a power cut, not just a kill
        self.db.execute("PRAGMA foreign_keys=ON")
        # Schema and migration under one write lock: two processes opening the same ledger at once (a
        # resumed run beside its killed predecessor's last writer) must not both add the same column.
        with self.transaction() as db:
            for statement in filter(str.strip, SCHEMA.split(";")):
                db.execute(statement)
            self._migrate(db)

    def _wal(self) -> None:
        # Switching to WAL takes an exclusive lock that SQLite does not wait for (no busy handler), so a
        # second process opening a fresh ledger at the same moment retries here instead of failing.
        deadline = time.monotonic() + 60
        while True:
            try:
                self.db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def _migrate(self, db: sqlite3.Connection) -> None:
        """Columns added after the first release; a ledger written before them reads with the defaults."""
        have = {r[1] for r in db.execute("PRAGMA table_info(problems)")}
        for name, decl in PROBLEM_COLUMNS:
            if name not in have:
                db.execute(f"ALTER TABLE problems ADD COLUMN {name} {decl}")

    @classmethod
    def in_run_dir(cls, run_dir: str | Path) -> Ledger:
        return cls(Path(run_dir) / "ledger.sqlite")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()

    # -- meta and stages ------------------------------------------------------------------------------
    def set_meta(self, key: str, value) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def get_meta(self, key: str, default=None):
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def domain(self) -> str:
        """The run's domain: set by an import, else by the mining config; ledgers from before: code."""
        return self.get_meta("domain") or (self.get_meta("config") or {}).get("domain") or "code"

    def set_stage(self, name: str, status: str, **info) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO stages VALUES (?, ?, ?, ?)", (name, status, time.time(), json.dumps(info))
        )

    def stage(self, name: str) -> str | None:
        row = self.db.execute("SELECT status FROM stages WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def stages(self) -> dict[str, tuple[str, dict]]:
        """{stage: (status, info)} for every recorded stage."""
        return {
            r[0]: (r[1], json.loads(r[2]) if r[2] else {})
            for r in self.db.execute("SELECT name, status, info FROM stages")
        }

    def stage_info(self, name: str) -> dict:
        row = self.db.execute("SELECT info FROM stages WHERE name = ?", (name,)).fetchone()
        return json.loads(row[0]) if row and row[0] else {}

    # -- rounds ---------------------------------------------------------------------------------------
    def open_round(self, seed: int, number: int = 1) -> int:
        """The id of the run's `number`-th mining round, created on first use (imports have their own
        rounds, seed -1). Rounds are opened in order, so the n-th mining row is round n."""
        ids = [r[0] for r in self.db.execute("SELECT id FROM rounds WHERE seed >= 0 ORDER BY id")]
        if len(ids) >= number:
            return ids[number - 1]
        if len(ids) != number - 1:
            raise ValueError(f"round {number} opened before round {len(ids) + 1}")
        return self.db.execute("INSERT INTO rounds (started_at, seed) VALUES (?, ?)", (time.time(), seed)).lastrowid

    def mining_rounds(self) -> list[dict]:
        """Finished and open mining rounds, in order: {id, number, stats or None}."""
        rows = self.db.execute("SELECT id, stats FROM rounds WHERE seed >= 0 ORDER BY id").fetchall()
        return [{"id": r[0], "number": n + 1, "stats": json.loads(r[1]) if r[1] else None} for n, r in enumerate(rows)]

    def close_round(self, round_id: int, stats: dict) -> None:
        self.db.execute(
            "UPDATE rounds SET finished_at = ?, stats = ? WHERE id = ?", (time.time(), json.dumps(stats), round_id)
        )

    # -- problems -------------------------------------------------------------------------------------
    def add_problems(self, problems: list[Problem]) -> None:
        """All proposals of one batch in one transaction: on resume a batch is either all there or absent."""
        with self.transaction() as db:
            for p in problems:
                insert_problem(db, p)

    def proposals_done(self, round_id: int) -> int:
        return self.db.execute("SELECT COUNT(*) FROM problems WHERE round_id = ?", (round_id,)).fetchone()[0]

    def problems(self, status: str | None = None, round_id: int | None = None) -> list[Problem]:
        q, args = "SELECT * FROM problems WHERE 1=1", []
        if status:
            q, args = q + " AND status = ?", args + [status]
        if round_id is not None:
            q, args = q + " AND round_id = ?", args + [round_id]
        return [_problem(r) for r in self.db.execute(q + " ORDER BY id", args)]

    def problem(self, problem_id: int) -> Problem:
        return _problem(self.db.execute("SELECT * FROM problems WHERE id = ?", (problem_id,)).fetchone())

    def fingerprints(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT fingerprint FROM problems WHERE status = 'valid'")}

    # -- attempts -------------------------------------------------------------------------------------
    def add_attempts(self, attempts: list[Attempt]) -> list[int]:
        """All attempts of one problem (and kind) in one transaction; returns their ids."""
        with self.transaction() as db:
            return [insert_attempt(db, a) for a in attempts]

    def attempts(self, problem_id: int | None = None, kind: str | None = None) -> list[Attempt]:
        q, args = "SELECT * FROM attempts WHERE 1=1", []
        if problem_id is not None:
            q, args = q + " AND problem_id = ?", args + [problem_id]
        if kind:
            q, args = q + " AND kind = ?", args + [kind]
        return [_attempt(r) for r in self.db.execute(q + " ORDER BY problem_id, kind, idx", args)]

    def has_attempts(self, problem_id: int, kind: str) -> bool:
        return (
            self.db.execute(
                "SELECT 1 FROM attempts WHERE problem_id=? AND kind=? LIMIT 1", (problem_id, kind)
            ).fetchone()
            is not None
        )

    def attempt(self, attempt_id: int) -> Attempt:
        return _attempt(self.db.execute("SELECT * FROM attempts WHERE id = ?", (attempt_id,)).fetchone())

    # -- pairs ----------------------------------------------------------------------------------------
    def add_pairs(self, pairs: list[Pair]) -> None:
        with self.transaction() as db:
            for p in pairs:
                insert_pair(db, p)

    def pairs(self, kinds: tuple[str, ...] = MINED_KINDS, classes: tuple[str, ...] | None = None) -> list[PairView]:
        q = (
            "SELECT pr.id, pr.kind, pr.failure_class, p.id AS problem_id, p.entry_point, p.header, p.tests,"
            " b.code AS broken, b.error AS error, f.code AS fixed FROM pairs pr JOIN problems p ON p.id = pr.problem_id"
            " LEFT JOIN attempts b ON b.id = pr.broken_id JOIN attempts f ON f.id = pr.fixed_id"
            f" WHERE pr.kind IN ({','.join('?' * len(kinds))})"
        )
        args: list = list(kinds)
        if classes:
            q += f" AND pr.failure_class IN ({','.join('?' * len(classes))})"
            args += list(classes)
        rows = self.db.execute(q + " ORDER BY pr.id", args)
        return [
            PairView(
                r["id"],
                r["kind"],
                r["failure_class"],
                r["entry_point"],
                r["header"],
                json.loads(r["tests"]),
                r["broken"] or "",
                r["error"] or "",
                r["fixed"],
                r["problem_id"],
            )
            for r in rows
        ]

    def round_pairs(self, round_id: int) -> list[Pair]:
        rows = self.db.execute(
            "SELECT pr.* FROM pairs pr JOIN problems p ON p.id = pr.problem_id WHERE p.round_id = ? ORDER BY pr.id",
            (round_id,),
        )
        return [
            Pair(r["problem_id"], r["kind"], r["broken_id"], r["fixed_id"], r["failure_class"], r["id"]) for r in rows
        ]

    def pair_count(self, kinds: tuple[str, ...]) -> int:
        marks = ",".join("?" * len(kinds))
        return self.db.execute(f"SELECT COUNT(*) FROM pairs WHERE kind IN ({marks})", kinds).fetchone()[0]

    def attempt_count(self, kind: str) -> int:
        return self.db.execute("SELECT COUNT(*) FROM attempts WHERE kind = ?", (kind,)).fetchone()[0]


class RunDirBusy(UserError, RuntimeError):
    pass


_HELD: dict[str, tuple[int, int]] = {}  # run dir -> (fd, depth): the lock is re-entrant within a process


@contextmanager
def run_dir_lock(run_dir: str | Path) -> Iterator[None]:
    """Hold the run dir for this process: a second selfmine process on the same run dir gets one clear
    error instead of racing this one (on the ledger's rounds, or on deleting an adapter being written)."""
    key = str(Path(run_dir).resolve())
    if key in _HELD:
        fd, depth = _HELD[key]
        _HELD[key] = (fd, depth + 1)
        try:
            yield
        finally:
            fd, depth = _HELD[key]
            _HELD[key] = (fd, depth - 1)
        return
    Path(key).mkdir(parents=True, exist_ok=True)
    fd = os.open(os.path.join(key, ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise RunDirBusy(
            f"run dir {key} is in use by another selfmine process; wait for it or use another --run-dir"
        ) from None
    _HELD[key] = (fd, 1)
    try:
        yield
    finally:
        del _HELD[key]
        os.close(fd)  # releases the lock


def insert_import_round(db: sqlite3.Connection, source: str) -> int:
    """A round that holds pairs imported from a file (seed -1: not a mining round)."""
    now = time.time()
    return db.execute(
        "INSERT INTO rounds (started_at, finished_at, seed, stats) VALUES (?, ?, -1, ?)",
        (now, now, json.dumps({"imported_from": source})),
    ).lastrowid


def set_meta_in(db: sqlite3.Connection, key: str, value) -> None:
    """set_meta inside an open transaction."""
    db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))


def insert_problem(db: sqlite3.Connection, p: Problem) -> int:
    db.execute(
        "INSERT OR IGNORE INTO problems (round_id, idx, raw, status, reason, detail, entry_point, code, tests,"
        " solve_prompt, header, fingerprint, hidden_tests, parent_id, variant, difficulty, meta, created_at)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            p.round_id,
            p.idx,
            p.raw,
            p.status,
            p.reason,
            p.detail,
            p.entry_point,
            p.code,
            json.dumps(p.tests),
            p.solve_prompt,
            p.header,
            p.fingerprint,
            json.dumps(p.hidden_tests),
            p.parent_id,
            p.variant,
            p.difficulty,
            json.dumps(p.meta),
            time.time(),
        ),
    )
    return db.execute("SELECT id FROM problems WHERE round_id=? AND idx=?", (p.round_id, p.idx)).fetchone()[0]


def insert_attempt(db: sqlite3.Connection, a: Attempt) -> int:
    db.execute(
        "INSERT OR IGNORE INTO attempts (problem_id, kind, idx, completion, code, status, passed, failure_class,"
        " failing_test, error, finish_reason, duration_s, parent_id, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            a.problem_id,
            a.kind,
            a.idx,
            a.completion,
            a.code,
            a.status,
            int(a.passed),
            a.failure_class,
            a.failing_test,
            a.error,
            a.finish_reason,
            a.duration_s,
            a.parent_id,
            time.time(),
        ),
    )
    q = "SELECT id FROM attempts WHERE problem_id=? AND kind=? AND idx=?"
    return db.execute(q, (a.problem_id, a.kind, a.idx)).fetchone()[0]


def insert_pair(db: sqlite3.Connection, p: Pair) -> None:
    db.execute(
        "INSERT OR IGNORE INTO pairs (problem_id, kind, broken_id, fixed_id, failure_class, created_at) VALUES (?,?,?,?,?,?)",
        (p.problem_id, p.kind, p.broken_id, p.fixed_id, p.failure_class, time.time()),
    )


def _problem(r: sqlite3.Row) -> Problem:
    d = dict(r)
    d.pop("created_at")
    for key in ("tests", "hidden_tests", "meta"):
        d[key] = json.loads(d[key])
    return Problem(**d)


def _attempt(r: sqlite3.Row) -> Attempt:
    d = dict(r)
    d.pop("created_at")
    d["passed"] = bool(d["passed"])
    return Attempt(**d)
