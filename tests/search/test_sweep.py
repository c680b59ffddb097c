import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from search.sweep import RunsDB, plan, run_sweep


def test_plan_crosses_targets_seeds_modes_and_penalties():
    runs = plan(
        {"min_fps": (100.0, 200.0), "max_area_mm2": ()},
        seeds=2,
        modes=["hdx", "penalty"],
        penalties=[0.1, 1.0],
        common=["--profile", "smoke"],
    )
    assert len(runs) == 2 * 2 * (1 + 2)
    assert len({r.id for r in runs}) == len(runs)
    run = next(r for r in runs if r.id == "penalty_min_fps200_seed1_pen0.1")
    assert run.args == (
        "--profile",
        "smoke",
        "--min-fps",
        "200",
        "--seed",
        "1",
        "--constraint-mode",
        "penalty",
        "--penalty",
        "0.1",
    )
    with pytest.raises(ValueError, match="at least one constraint"):
        plan({"min_fps": ()}, 1, ["hdx"], [])


def _smoke_runs(npz):
    return plan(
        {"min_fps": (1000.0,)},
        seeds=1,
        modes=["hdx", "penalty"],
        penalties=[1.0],
        common=["--profile", "smoke", "--data-dir", str(npz), "--hw", "free"],
    )


def test_a_resumed_sweep_keeps_finished_runs_and_redoes_interrupted_ones(tmp_path, make_npz):
    npz = make_npz(tmp_path / "d.npz", n_train=120, n_test=30, size=28, channels=1, layout="nhw")
    runs, root = _smoke_runs(npz), tmp_path / "sweep"
    root.mkdir()
    db = RunsDB(root / "runs.db")
    db.add(runs, root)
    finished = {"test_acc": 0.5, "simulated": {}, "constraints": []}  # as a completed run left it
    db.set_status(runs[0].id, "done", metrics=json.dumps(finished), finished=123.0)
    db.set_status(runs[1].id, "queued", started=100.0)  # the sweep was killed during this run
    db.close()

    db = RunsDB(root / "runs.db")  # a new process opens the same file
    rows = {r["id"]: r for r in run_sweep(db, runs, root, jobs=1)}
    db.close()
    kept, redone = rows[runs[0].id], rows[runs[1].id]
    assert kept["status"] == "done" and kept["finished"] == 123.0 and kept["metrics"] == finished
    assert redone["status"] == "done", redone["error"]
    assert redone["metrics"]["constraint_status"] in ("final", "fallback")
    assert all(check["met"] for check in redone["metrics"]["constraints"])
    assert (root / runs[1].id / "metrics.json").is_file()


@pytest.mark.slow
def test_a_killed_sweep_resumes_from_runs_db(cli, tmp_path, make_npz):
    npz = make_npz(tmp_path / "d.npz", n_train=120, n_test=30, size=28, channels=1, layout="nhw")
    runs, root = _smoke_runs(npz), tmp_path / "sweep"
    root.mkdir()

    def kill(row):
        raise KeyboardInterrupt

    db = RunsDB(root / "runs.db")
    with pytest.raises(KeyboardInterrupt):
        run_sweep(db, runs, root, jobs=1, on_done=kill)
    db.close()
    first = {r["id"]: r for r in RunsDB(root / "runs.db").rows()}
    done = [i for i, r in first.items() if r["status"] == "done"]
    assert len(done) == 1
    assert [r["status"] for i, r in first.items() if i not in done] == ["killed"]
    args = (
        "sweep",
        "--min-fps",
        "1000",
        "--seeds",
        "1",
        "--penalties",
        "1",
        "--profile",
        "smoke",
        "--hw",
        "free",
        "--data-dir",
        npz,
        "--out",
        root,
    )
    result = cli(*args)
    assert result.exit_code == 0, result.output
    after = {r["id"]: r for r in RunsDB(root / "runs.db").rows()}
    assert all(r["status"] == "done" for r in after.values())
    assert after[done[0]]["finished"] == first[done[0]]["finished"]  # not run again
    listing = cli("runs", "list", root)
    assert listing.exit_code == 0 and all(i in listing.output for i in after)
    summary = cli("runs", "summary", root, "--markdown")
    assert summary.exit_code == 0 and "| fps >= 1000 |" in summary.output, summary.output
    plot = cli("pareto", root)
    assert plot.exit_code == 0, plot.output
    assert (root / "pareto.png").stat().st_size > 10_000 and (root / "pareto.csv").is_file()


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text in cmdline.read_bytes().decode(errors="replace"):
                found.append(cmdline.parent.name)
        except OSError:
            pass
    return found


def test_a_terminated_sweep_marks_its_runs_killed_and_leaves_no_search_running(tmp_path, make_npz):
    npz = make_npz(tmp_path / "d.npz", n_train=120, n_test=30, size=28, channels=1, layout="nhw")
    root = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "search.cli", "sweep", "--min-fps", "1000", "--seeds", "1", "--modes", "hdx",
           "--profile", "smoke", "--hw", "free", "--data-dir", str(npz), "--out", str(root)]  # fmt: skip
    sweep = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and not _processes_mentioning(f"{root}/hdx_"):
        time.sleep(0.5)  # until the search itself runs
    assert _processes_mentioning(f"{root}/hdx_"), "the search never started"
    sweep.send_signal(signal.SIGTERM)
    assert sweep.wait(timeout=60) == 128 + signal.SIGTERM
    rows = RunsDB(root / "runs.db").rows()
    assert [r["status"] for r in rows] == ["killed"]
    deadline = time.time() + 30
    while time.time() < deadline and _processes_mentioning(f"{root}/hdx_"):
        time.sleep(0.5)
    assert not _processes_mentioning(f"{root}/hdx_"), "a search outlived its sweep"


def test_runs_and_pareto_need_a_sweep(cli, tmp_path):
    for args in (("runs", "list", tmp_path), ("runs", "summary", tmp_path), ("pareto", tmp_path)):
        result = cli(*args)
        assert result.exit_code == 2 and "runs.db not found" in result.output
    bad = cli("sweep", "--min-fps", "10,x", "--out", tmp_path / "s")
    assert bad.exit_code == 2 and "comma-separated" in bad.output
    none = cli("sweep", "--out", tmp_path / "s")
    assert none.exit_code == 2 and "at least one constraint" in none.output


def test_runs_summary_reads_finished_runs(cli, tmp_path):
    runs = plan({"min_fps": (1000.0,)}, seeds=2, modes=["hdx", "penalty"], penalties=[1.0])
    db = RunsDB(tmp_path / "runs.db")
    db.add(runs, tmp_path)
    sim = {"latency_ms": 0.5, "fps": 2000.0, "energy_uj": 3.0, "area_mm2": 0.4, "edap": 2e-9}
    for i, run in enumerate(runs):
        met = run.mode == "hdx" or run.seed == 0
        check = {"constraint": "fps >= 1000", "simulated": 2000.0, "met": met}
        acc = {"acc_fp": 0.8 + 0.01 * i, "acc_q": 0.7 + 0.01 * i, "bits": 4, "val_acc": 0.8}
        metrics = {**acc, "simulated": sim, "constraints": [check]}
        db.set_status(run.id, "done", metrics=json.dumps(metrics))
    db.close()
    result = cli("runs", "summary", tmp_path, "--csv", tmp_path / "summary.csv")
    assert result.exit_code == 0, result.output
    line = result.output.splitlines()[1].split()
    assert line[:4] == ["fps", ">=", "1000", "2/2"] and "1/2" in line
    assert (tmp_path / "summary.csv").read_text().startswith("target,hdx_met")
    listing = cli("runs", "list", tmp_path, "--csv", tmp_path / "runs.csv")
    assert listing.exit_code == 0 and len((tmp_path / "runs.csv").read_text().splitlines()) == 1 + len(runs)


@pytest.mark.slow
def test_a_sweep_runs_on_a_dask_cluster(tmp_path, make_npz):
    distributed = pytest.importorskip("distributed")
    npz = make_npz(tmp_path / "d.npz", n_train=120, n_test=30, size=28, channels=1, layout="nhw")
    runs, root = _smoke_runs(npz)[:1], tmp_path / "sweep"
    root.mkdir()
    db = RunsDB(root / "runs.db")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cl:
        rows = run_sweep(db, runs, root, scheduler=cl.scheduler_address)
    db.close()
    assert [r["status"] for r in rows] == ["done"], rows[0]["error"]
