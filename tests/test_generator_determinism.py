"""The generator's output depends on the seed only: not on how many worker processes made it."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import date

from bua_synth.generator import GeneratorConfig, generate


def _files(root):
    return {
        p.relative_to(root): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.suffix in (".csv", ".parquet")
    }


def _dump(path) -> list[str]:
    con = sqlite3.connect(path)
    try:
        return list(con.iterdump())
    finally:
        con.close()


def test_same_output_with_one_or_two_workers(tmp_path):
    config = GeneratorConfig(accounts=150, seed=11, as_at=date(2026, 11, 1), history_months=3)
    one, two = tmp_path / "one", tmp_path / "two"
    generate(config, one, f"sqlite:///{one / 'core.db'}", workers=1)
    # Two workers in a fresh process, as the CLI runs it: this test process may run other threads
    # (the moto server), in which case the generator declines to fork.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bua_synth.cli",
            "generate",
            "--accounts",
            "150",
            "--seed",
            "11",
            "--as-at",
            "2026-11-01",
            "--history-months",
            "3",
            "--out",
            str(two),
            "--core-url",
            f"sqlite:///{two / 'core.db'}",
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "BUA_GENERATOR_WORKERS": "2"},
    )
    files = _files(one)
    assert files and files.keys() == _files(two).keys()
    assert files == _files(two)
    assert _dump(one / "core.db") == _dump(two / "core.db")


def test_a_tiny_retailer_generates_too(tmp_path):
    """One to a few dozen accounts: parts with no bills or no reads, no controlled-load register."""
    for accounts in (1, 3, 25):
        out = tmp_path / str(accounts)
        manifest = generate(
            GeneratorConfig(accounts=accounts, seed=7, as_at=date(2026, 11, 1), history_months=4),
            out,
            f"sqlite:///{out / 'core.db'}",
        )
        counts = manifest["counts"]
        assert counts["rows_Account"] >= accounts and counts["rows_Utility"] == accounts
        with sqlite3.connect(out / "core.db") as con:
            orphans = con.execute(
                "SELECT count(*) FROM InvoiceLineItem l LEFT JOIN Invoice i ON i.id = l.invoice_id WHERE i.id IS NULL"
            ).fetchone()[0]
            ids = con.execute("SELECT typeof(id), count(*) FROM Invoice GROUP BY 1").fetchall()
        assert orphans == 0 and all(kind == "integer" for kind, _ in ids)


def _sigterm_disposition(_) -> int:
    import signal

    handler = signal.getsignal(signal.SIGTERM)
    return int(handler) if isinstance(handler, int) else -1  # -1: a Python function handles it


def test_pool_workers_can_be_terminated_when_the_launcher_ignores_sigterm():
    """Pool.terminate() stops idle workers with SIGTERM. Started from a process that ignores it
    (nohup-style launchers, some CI runners), a worker waiting on the task queue's lock used to
    ignore it too, and the generator waited on it forever; its workers restore the default."""
    import multiprocessing as mp
    import signal

    from bua_synth.generator import _terminable_worker

    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        plain = mp.get_context("fork").Pool(1)
        try:
            assert plain.map(_sigterm_disposition, [0]) == [int(signal.SIG_IGN)]  # what a worker inherits
        finally:
            plain.close()  # not terminate(): this worker would ignore it
            plain.join()
        with mp.get_context("fork").Pool(1, initializer=_terminable_worker) as pool:
            assert pool.map(_sigterm_disposition, [0]) == [int(signal.SIG_DFL)]
    finally:
        signal.signal(signal.SIGTERM, previous)
