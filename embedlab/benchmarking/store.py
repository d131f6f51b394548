"""Saved benchmark runs: :class:`BenchmarkStore`, SQLite in embedlab's data directory.

The file's schema and the JSON of each record are the same as before the results became typed,
so runs saved by earlier versions open unchanged (their rows read as :func:`~embedlab.benchmarking.
results.upgrade_row` says). Newer keys live in each run's ``extra`` JSON: its ``state`` and, while
it runs, the process that runs it (``pid``), and the thread and batch-size ``sweep``.

A run given a store (``embedlab.benchmark(..., store=...)``) is saved as "running" when it starts
and again each time a model finishes, so a reload, a closed tab or a killed process keeps the
finished rows; :meth:`BenchmarkStore.runs` lists such a run as "interrupted".
"""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from ..storage import sqlite as sqlite_files
from ..storage.home import data_dir
from .results import COLUMNS, SWEEP_COLUMNS, BenchmarkRun, BenchmarkSettings, plain, records, typed, upgrade_row

__all__ = ["SCHEMA", "STATES", "BenchmarkStore"]

#: What a saved run's ``state`` can be.
STATES = ("running", "finished", "stopped", "interrupted")

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    models TEXT NOT NULL,
    stopped INTEGER NOT NULL,
    machine TEXT NOT NULL,
    settings TEXT NOT NULL,
    extra TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
    run_id INTEGER NOT NULL,
    position INTEGER NOT NULL,
    row TEXT NOT NULL,
    PRIMARY KEY (run_id, position)
);
"""


class BenchmarkStore:
    """Benchmark runs kept in SQLite (``benchmarks.sqlite3`` in :func:`embedlab.data_dir`).

    A run — its machine, settings and rows — is saved in one transaction, so a crash while
    saving leaves either the whole run or nothing. Safe to use from several threads and
    processes (one connection per call, WAL journal, busy timeout). A file that fails SQLite's
    integrity check when opened is set aside (renamed, never deleted), started afresh, and
    a line about it is added to :attr:`notices`.

    Examples
    --------
    >>> store = BenchmarkStore()                                  # doctest: +SKIP
    >>> run_id = store.save(embedlab.benchmark(["static-64d"], ["some text"]))  # doctest: +SKIP
    >>> store.load(run_id).id == run_id                           # doctest: +SKIP
    True
    """

    FILE_NAME = "benchmarks.sqlite3"

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else data_dir() / self.FILE_NAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.notices: list[str] = []
        notice = sqlite_files.open_checked(self.path, SCHEMA, "saved benchmark runs")
        if notice:
            self.notices.append(notice)

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite_files.connect(self.path)
        connection.executescript(SCHEMA)  # cheap, and a file removed while the app runs comes back whole
        return connection

    def save(self, run: BenchmarkRun, *, label: str = "", state: str | None = None) -> int:
        """Save a run (rows, machine, settings, times) in one transaction; return its id.

        ``state`` is one of :data:`STATES`; default "stopped" when ``run.stopped``, else "finished".
        A "running" run records this process, so that it reads as "interrupted" once the process is gone.
        """
        _check_run(run)
        if not isinstance(label, str):
            raise TypeError(f"label must be a str, got {type(label).__name__}.")
        connection = self._connect()
        try:
            with connection:  # one transaction: the run and all its rows, or nothing
                cursor = connection.execute(
                    "INSERT INTO runs (created, label, models, stopped, machine, settings, extra)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (_now(), label.strip()[:200], *_head(run, state)),
                )
                run_id = int(cursor.lastrowid)
                _write_rows(connection, run_id, run)
        finally:
            connection.close()
        return run_id

    def update(self, run_id: int, run: BenchmarkRun, *, state: str | None = None) -> bool:
        """Replace a saved run's rows, machine, settings and state with ``run``'s (one transaction).

        Returns False, and writes nothing, when there is no such run (deleted meanwhile).
        """
        run_id = _check_id(run_id)
        _check_run(run)
        connection = self._connect()
        try:
            with connection:
                changed = connection.execute(
                    "UPDATE runs SET models = ?, stopped = ?, machine = ?, settings = ?, extra = ? WHERE id = ?",
                    (*_head(run, state), run_id),
                ).rowcount
                if changed:
                    connection.execute("DELETE FROM results WHERE run_id = ?", (run_id,))
                    _write_rows(connection, run_id, run)
        finally:
            connection.close()
        return bool(changed)

    def runs(self) -> pd.DataFrame:
        """Saved runs, newest first: id, created (UTC), label, models, n_texts, batch_size,
        repeats, stopped, cpu, state (see :data:`STATES`; a run whose process is gone reads "interrupted")."""
        connection = self._connect()
        try:
            rows = connection.execute(
                "SELECT id, created, label, models, stopped, machine, settings, extra FROM runs ORDER BY id DESC"
            ).fetchall()
        finally:
            connection.close()
        out = []
        for run_id, created, label, models, stopped, machine, settings, extra in rows:
            machine, settings, models = _loads(machine, {}), _loads(settings, {}), _loads(models, [])
            out.append(
                {
                    "id": run_id,
                    "created": created,
                    "label": label,
                    "models": ", ".join(map(str, models)) if isinstance(models, list) else "(damaged)",
                    "n_texts": settings.get("n_texts") if isinstance(settings, dict) else None,
                    "batch_size": settings.get("batch_size") if isinstance(settings, dict) else None,
                    "repeats": settings.get("repeats") if isinstance(settings, dict) else None,
                    "stopped": bool(stopped),
                    "cpu": machine.get("cpu_model") if isinstance(machine, dict) else None,
                    "state": _state(_loads(extra, {}), bool(stopped)),
                }
            )
        columns = ["id", "created", "label", "models", "n_texts", "batch_size", "repeats", "stopped", "cpu", "state"]
        frame = pd.DataFrame(out, columns=columns)
        for column in ("id", "n_texts", "batch_size", "repeats"):
            frame[column] = frame[column].astype("Int64")
        return frame

    def load(self, run_id: int) -> BenchmarkRun:
        """The saved run as :func:`embedlab.benchmark` returned it, with ``id``, ``label`` and ``created``.

        Raises
        ------
        KeyError
            No run has this id (never saved, or deleted).
        ValueError
            The record is damaged (it cannot be read back).
        """
        run_id = _check_id(run_id)
        connection = self._connect()
        try:
            head = connection.execute(
                "SELECT created, label, stopped, machine, settings, extra FROM runs WHERE id = ?", (run_id,)
            ).fetchone()
            rows = connection.execute(
                "SELECT row FROM results WHERE run_id = ? ORDER BY position", (run_id,)
            ).fetchall()
        finally:
            connection.close()
        if head is None:
            raise KeyError(f"no saved benchmark run has id {run_id}; it may have been deleted.")
        created, label, stopped, machine, settings, extra = head
        try:
            rows = [upgrade_row(json.loads(row)) for (row,) in rows]
            machine, settings, extra = json.loads(machine), json.loads(settings), json.loads(extra)
            table = typed(pd.DataFrame(rows, columns=list(COLUMNS)))
            sweep = extra.get("sweep")
            if sweep is not None:
                sweep = typed(pd.DataFrame(sweep, columns=list(SWEEP_COLUMNS)), SWEEP_COLUMNS)
            return BenchmarkRun(
                table=table,
                machine=dict(machine),
                settings=BenchmarkSettings.from_dict(settings),
                times={str(m): [float(t) for t in ts] for m, ts in dict(extra.get("times") or {}).items()},
                baseline=extra.get("baseline"),
                stopped=bool(stopped),
                id=run_id,
                label=label,
                created=created,
                sweep=sweep,
                state=_state(extra, bool(stopped)),
                choices={str(k): dict(v) for k, v in dict(extra.get("choices") or {}).items()},
            )
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            raise ValueError(f"saved benchmark run {run_id} is damaged and cannot be read ({error}).") from None

    def delete(self, run_id: int) -> bool:
        """Delete a run and its rows (one transaction). Returns False when there was no such run."""
        run_id = _check_id(run_id)
        connection = self._connect()
        try:
            with connection:
                deleted = connection.execute("DELETE FROM runs WHERE id = ?", (run_id,)).rowcount
                connection.execute("DELETE FROM results WHERE run_id = ?", (run_id,))
        finally:
            connection.close()
        return bool(deleted)

    def __len__(self) -> int:
        connection = self._connect()
        try:
            return int(connection.execute("SELECT COUNT(*) FROM runs").fetchone()[0])
        finally:
            connection.close()

    def __repr__(self) -> str:
        return f"BenchmarkStore({str(self.path)!r})"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _check_run(run: object) -> None:
    if not isinstance(run, BenchmarkRun):
        raise TypeError(f"run must be the BenchmarkRun benchmark() returned, got {type(run).__name__}.")


def _head(run: BenchmarkRun, state: str | None) -> tuple:
    """The runs-table values of ``run`` after created and label: models, stopped, machine, settings, extra."""
    state = state if state is not None else ("stopped" if run.stopped else "finished")
    if state not in STATES:
        raise ValueError(f"state must be one of {', '.join(STATES)}, got {state!r}.")
    extra = {"times": run.times, "baseline": run.baseline, "state": state}
    if state == "running":
        extra["pid"] = os.getpid()
    if run.sweep is not None:
        extra["sweep"] = records(run.sweep)
    if run.choices:
        extra["choices"] = run.choices
    return (
        json.dumps(run.names),
        int(bool(run.stopped) or state in ("stopped", "interrupted")),
        json.dumps(plain(run.machine)),
        json.dumps(plain(run.settings.as_dict())),
        json.dumps(plain(extra)),
    )


def _write_rows(connection: sqlite3.Connection, run_id: int, run: BenchmarkRun) -> None:
    connection.executemany(
        "INSERT INTO results (run_id, position, row) VALUES (?, ?, ?)",
        [(run_id, i, json.dumps(row)) for i, row in enumerate(records(run.table))],
    )


def _state(extra: object, stopped: bool) -> str:
    """A saved run's state; runs saved before states were recorded read "stopped" or "finished"."""
    state = extra.get("state") if isinstance(extra, dict) else None
    if state not in STATES:
        return "stopped" if stopped else "finished"
    if state == "running" and not _alive(extra.get("pid")):
        return "interrupted"  # the process that ran it ended mid-run
    return state


def _alive(pid: object) -> bool:
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, but belongs to someone else
        return True
    return True


def _check_id(run_id: object) -> int:
    if isinstance(run_id, bool) or not isinstance(run_id, (int, np.integer)):
        raise TypeError(f"run_id must be an integer, got {type(run_id).__name__} {run_id!r}.")
    return int(run_id)


def _loads(text: str, default):
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return default
