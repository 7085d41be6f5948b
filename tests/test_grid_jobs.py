"""experiments/grid_jobs.py: the grid's jobs through submitit (local executor here)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("submitit")
ROOT = Path(__file__).resolve().parents[1]


def _module():
    spec = importlib.util.spec_from_file_location("grid_jobs", ROOT / "experiments/grid_jobs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_jobs_cover_the_grid_and_skip_finished(tmp_path):
    gj = _module()
    jobs = gj.train_jobs(["ising"], tmp_path)
    per_tier = sum(len(seeds) for _, seeds, _ in gj.METHODS.values())
    assert len(jobs) == 2 * per_tier
    done = Path(jobs[0][2])
    done.parent.mkdir(parents=True)
    done.touch()
    assert len(gj.train_jobs(["ising"], tmp_path)) == 2 * per_tier - 1
    assert all(cmd[:2] == ["mfdiff", "train"] and "--threads" in cmd for cmd, _, _ in jobs)
    # the Ising MF-Diffuser checkpoints were trained with p_uncond = 0.1: spelled out, only there
    mfd = [cmd for cmd, _, _ in jobs if "mfdiffuser" in cmd]
    assert mfd and all("p_uncond=0.1" in cmd for cmd in mfd)
    assert not any("p_uncond=0.1" in cmd for cmd, _, _ in gj.train_jobs(["squeeze"], tmp_path))


def test_local_dispatch_runs_and_reports_failures(tmp_path):
    import submitit

    gj = _module()
    ex = submitit.LocalExecutor(folder=tmp_path / "s")
    ex.update_parameters(timeout_min=2)
    ok = ([sys.executable, "-c", "print('hi')"], str(tmp_path / "ok.log"), str(tmp_path / "ok"))
    gj.dispatch(ex, [ok], wave=2)
    assert (tmp_path / "ok").exists() and "hi" in (tmp_path / "ok.log").read_text()
    bad = ([sys.executable, "-c", "raise SystemExit(3)"], str(tmp_path / "bad.log"), None)
    with pytest.raises(SystemExit, match="job failed"):
        gj.dispatch(ex, [bad], wave=2)


def test_eval_jobs_keep_records_resumes_instead_of_deleting(tmp_path):
    gj = _module()
    records = tmp_path / "records-ising.jsonl"
    records.write_text('{"kept": true}\n')
    (cmd, _, _), = gj.eval_jobs(["ising"], tmp_path, keep=True)
    assert "--resume" in cmd and records.exists()
    sweep = (tmp_path / "sweep_ising.toml").read_text()
    assert 'label = "MF-Diffuser"' in sweep and "head_temperature = 0.3" in sweep
    (cmd, _, _), = gj.eval_jobs(["ising"], tmp_path)
    assert "--resume" not in cmd and not records.exists()
