"""``mfdiff demo --quick`` end to end in a subprocess (≈10–20 s on 2 cores)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def test_demo_quick_subprocess(tmp_path):
    user_minari = tmp_path / "user_minari"
    user_minari.mkdir()
    (user_minari / "sentinel").write_text("mine")
    out = tmp_path / "demo"
    env = {**os.environ, "MINARI_DATASETS_PATH": str(user_minari), "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    res = subprocess.run([sys.executable, "-m", "mfdiff", "demo", "--quick", "--out", str(out),
                          "--no-progress"], capture_output=True, text=True, timeout=600, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    # the comparison table is printed
    for name in ("random", "expert (scripted)", "BC", "MF-Diffuser"):
        assert f"| {name} |" in res.stdout
    recs = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert len(recs) == 4 * 2
    assert {r["method"] for r in recs} == {"random", "expert (scripted)", "BC", "MF-Diffuser"}
    for r in recs:
        assert r["n_agents"] == 1000 and r["dataset_id"] == "mfdiff/squeeze-n1000/mixed-v0"
        assert r["ref_min"] < r["ref_max"]
        assert 0.0 <= r["optimum_gap"] <= 1.0
    expert = [r for r in recs if r["method"] == "expert (scripted)"]
    assert all(r["normalized_score"] > 50 for r in expert)
    assert (out / "demo.png").read_bytes()[:4] == b"\x89PNG"
    assert f"mfdiff demo --quick --out {out} --threads " in (out / "table.md").read_text()
    for ckpt in ("bc", "mfdiffuser"):
        assert (out / ckpt / "config.json").is_file()
    # the user's Minari root is untouched: the demo used its private root under --out
    assert sorted(p.name for p in user_minari.iterdir()) == ["sentinel"]
    assert (out / "minari").is_dir()


@pytest.mark.parametrize("flag", ["--help"])
def test_demo_help(flag):
    res = subprocess.run([sys.executable, "-m", "mfdiff", "demo", flag], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0 and "--quick" in res.stdout


def test_demo_trains_and_acts_as_the_squeeze_config():
    """The demo spells the Squeeze family settings of MF-Diffuser and BC out (as DemoConfig
    fields a user can change); at its default budget they must stay the family files'."""
    from mfdiff.demo import DemoConfig
    from mfdiff_agents.family_configs import family_config

    demo = DemoConfig()
    mine = {"steps": demo.mf_steps, "head_noise": demo.mf_head_noise,
            "head_temperature": demo.mf_head_temperature, "head_min_p": demo.mf_head_min_p,
            "plan_samples": demo.mf_plan_samples, "plan_combine": demo.mf_plan_combine,
            "head_remove_uniform": demo.mf_head_remove_uniform,
            "replan_every": demo.mf_replan_every, "head_ensemble": demo.mf_head_ensemble}
    cfg = family_config("mfdiffuser", "squeeze")
    assert set(cfg) <= set(mine) and all(mine[k] == v for k, v in cfg.items())
    assert family_config("bc", "squeeze") == {"steps": demo.bc_steps,
                                              "temperature": demo.bc_temperature}


def test_demo_refuses_a_directory_it_did_not_write(tmp_path):
    """``mfdiff demo --out runs`` would have deleted ``runs/bc`` (mfdiff train's default output
    for BC) before training its own: a non-empty directory without the demo's marker is
    refused, an empty or new one is claimed, and an earlier demo's is reused."""
    from mfdiff.demo import MARKER, claim_out_dir
    from mfdiff_agents.config import ConfigError

    runs = tmp_path / "runs"
    (runs / "bc" / "my-run").mkdir(parents=True)
    (runs / "bc" / "my-run" / "config.json").write_text("{}")
    with pytest.raises(ConfigError, match="did not write"):
        claim_out_dir(runs)
    assert (runs / "bc" / "my-run" / "config.json").read_text() == "{}"
    res = subprocess.run([sys.executable, "-m", "mfdiff", "demo", "--quick", "--out", str(runs),
                          "--no-progress"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "did not write" in res.stderr
    assert (runs / "bc" / "my-run" / "config.json").is_file()
    for fresh in (tmp_path / "new", tmp_path / "empty"):
        if fresh.name == "empty":
            fresh.mkdir()
        claim_out_dir(fresh)
        assert (fresh / MARKER).is_file()
        (fresh / "bc").mkdir()
        claim_out_dir(fresh)  # the demo's own directory: accepted again
    older = tmp_path / "older"  # a demo's output from before the marker
    (older / "bc").mkdir(parents=True)
    (older / "table.md").write_text("# mfdiff demo\n\nRegenerate with: ...\n")
    claim_out_dir(older)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ConfigError, match="not a directory"):
        claim_out_dir(tmp_path / "afile")


def test_demo_refuses_bad_counts_before_any_work():
    """Outside audit: `mfdiff demo --quick --seeds 0` built the dataset and trained both models
    before refusing the seeds; `--n-agents -5` was reported as a bad dataset id."""
    from mfdiff.demo import DemoConfig
    from mfdiff_agents.config import ConfigError

    for kw in ({"seeds": 0}, {"n_agents": -5}, {"episodes": 0}, {"mf_steps": 1.5}):
        with pytest.raises(ConfigError, match="integer >= 1"):
            DemoConfig.quick().replace(**kw)


def test_demo_table_command_reproduces_the_run():
    """table.md's "Regenerate with" said `mfdiff demo --quick` after `--n-agents 37` (rerunning
    N = 1000; an outside review): it now carries every flag that differs from the budget's
    config, --out and the threads, and names fields only Python can set."""
    from pathlib import Path

    from mfdiff.demo import DemoConfig, demo_command

    cmd = demo_command(DemoConfig.quick().replace(n_agents=37, seeds=3, out_dir=Path("x")))
    assert cmd.startswith("mfdiff demo --quick --n-agents 37 --seeds 3 --out x --threads ")
    assert "#" not in cmd and "--episodes" not in cmd and "--tier" not in cmd
    cmd = demo_command(DemoConfig().replace(tier="medium", mf_steps=99, out_dir=Path("y")))
    assert cmd.startswith("mfdiff demo --tier medium --out y --threads ")
    assert cmd.endswith("# and from Python: mf_steps=99")
    assert demo_command(DemoConfig()).startswith("mfdiff demo --out runs/demo --threads ")
    cmd = demo_command(DemoConfig.quick().replace(mf_steps=5, out_dir=Path("my runs")))
    assert cmd.startswith("mfdiff demo --quick --out 'my runs' --threads ")  # quoted
    assert cmd.endswith("# and from Python: mf_steps=5")  # the closest budget: --quick


def test_ci_runs_the_readmes_test_command():
    """.ci/run must run exactly the README's test command (the quick start's second command):
    its pytest arguments once drifted apart only by hand-kept comments."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    ci = (root / ".ci" / "run").read_text()
    readme_cmds = re.findall(r"^python3 -m venv .*?&& (python -m pytest [^\n]*)$", readme, re.M)
    assert len(readme_cmds) == 1, readme_cmds  # the one install-and-test command
    ci_cmds = re.findall(r"^MFDIFF_CI=1 (python -m pytest [^\n]*)$", ci, re.M)
    assert ci_cmds == readme_cmds
    assert "-n auto" in ci_cmds[0]  # the suite on both cores of CI: ~8 min instead of ~15
