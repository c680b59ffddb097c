"""The bad-input list of the reliability review, a row each: exit 2, one line ``error: ...`` naming the
problem, and no file touched: the folder's files (inputs, a simulation cache, a runs.db) and the
coexplore home keep their bytes, and nothing is created."""

import hashlib
import json
import sqlite3

import pytest

HW = {
    "pe_rows": 14,
    "pe_cols": 12,
    "rf_bytes": 64,
    "glb_kib": 108,
    "dataflow": "WS",
    "bits": 8,
    "clock_mhz": 200,
}
BIG_KERNEL = [{"in_channels": 8, "out_channels": 8, "kernel": 99, "stride": 1, "groups": 1, "in_hw": [7, 7]}]


def _write(folder, name, content):
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def _a_cache(folder):
    from accel_model.cache import SimulationCache

    SimulationCache(folder / "sim.sqlite").close()
    return folder / "sim.sqlite"


def _a_runs_db(folder):
    from search.sweep import RunsDB

    (folder / "sweep").mkdir()
    RunsDB(folder / "sweep" / "runs.db").close()
    return folder / "sweep" / "runs.db"


def _corrupt_pages(folder):
    path = _a_cache(folder)
    with sqlite3.connect(path) as db:  # enough rows for several pages, then damage one in the middle
        db.execute("CREATE TABLE padding (x TEXT)")
        db.executemany("INSERT INTO padding VALUES (?)", [("x" * 500,) for _ in range(100)])
    db.close()
    data = bytearray(path.read_bytes())
    data[4096 * 2 : 4096 * 2 + 512] = b"\xff" * 512
    path.write_bytes(bytes(data))
    return path


def _sim_cache_as_runs_folder(folder):
    from accel_model.cache import SimulationCache

    (folder / "runs").mkdir()
    SimulationCache(folder / "runs" / "runs.db").close()
    return folder / "runs"


def _sim(folder, hw=None, command="simulate", *extra):
    """``simulate`` (or ``predict``) of the default child on the accelerator ``hw``."""
    return [command, "--net", "default", "--hw", _write(folder, "hw.json", HW if hw is None else hw), *extra]


def _big_kernel(folder, command):
    return [command, "--layers", _write(folder, "l.json", BIG_KERNEL), "--hw", _write(folder, "hw.json", HW)]


# (command and arguments built in the folder, what the one line must say)
ROWS = {
    "float bit width": (
        lambda f: _sim(f, {**HW, "bits": 8.0}),
        "bits must be one of [4, 8, 16] (an integer)",
    ),
    "float bit width, predict": (lambda f: _sim(f, {**HW, "bits": 8.0}, "predict"), "got 8.0"),
    "bool field": (lambda f: _sim(f, {**HW, "bits": True}), "bits"),
    "empty accelerator": (lambda f: _sim(f, {}), "missing field(s)"),
    "unknown accelerator field": (lambda f: _sim(f, {**HW, "colour": 1}), "colour"),
    "kernel larger than the input": (
        lambda f: _big_kernel(f, "simulate"),
        "99x99 on a 7x7 input",
    ),
    "kernel larger than the input, predict": (lambda f: _big_kernel(f, "predict"), "is wider than the input"),
    "--cache at a runs.db": (lambda f: _sim(f, None, "simulate", "--cache", _a_runs_db(f)), "runs database"),
    "runs list on a simulation cache": (
        lambda f: ["runs", "list", _sim_cache_as_runs_folder(f)],
        "simulation cache",
    ),
    "garbage cache file": (
        lambda f: _sim(f, None, "simulate", "--cache", _write(f, "sim.sqlite", b"\x00garbage" * 600)),
        "move it aside",
    ),
    "corrupt cache pages": (lambda f: _sim(f, None, "simulate", "--cache", _corrupt_pages(f)), "sim.sqlite"),
    "misspelt --net": (
        lambda f: ["simulate", "--net", "defualt", "--hw", _write(f, "hw.json", HW)],
        "--net: 'defualt' is not 'default'",
    ),
    "sweep target": (lambda f: ["sweep", "--min-fps", "abc", "--out", f / "sw"], "'--min-fps'"),
    "random-bytes .npz": (
        lambda f: ["train", "--data-dir", _write(f, "d.npz", bytes(range(256)) * 12), "--out", f / "t"],
        "not a NumPy .npz archive",
    ),
    "not a checkpoint": (lambda f: ["evaluate", _write(f, "x.pt", b"not torch")], "x.pt"),
    "missing checkpoint": (lambda f: ["evaluate", f / "missing.pt"], "missing.pt"),
}


def _snapshot(folder):
    return {
        p.relative_to(folder): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file()
    }


@pytest.mark.parametrize("row", list(ROWS))
def test_each_bad_input_is_one_line_exit_2_and_touches_nothing(cli, tmp_path, monkeypatch, row):
    home = tmp_path / "home"
    monkeypatch.setenv("COEXPLORE_HOME", str(home))
    build, says = ROWS[row]
    args = build(tmp_path)
    before = _snapshot(tmp_path)
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1 and result.output.startswith("error: "), result.output
    assert says in result.output, result.output
    assert "allow_pickle" not in result.output and "Traceback" not in result.output
    if row.startswith("missing checkpoint"):
        assert result.output.count("missing.pt") == 1  # the path named once
    assert _snapshot(tmp_path) == before and not home.exists()
