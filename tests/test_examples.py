"""Run every example script in a subprocess at small N (the script users run is the one tested).

Examples whose library is not installed are skipped. Tianshou's first Collector compiles numba
kernels (~10 s here), so its run disables the JIT (same results, interpreted)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

#: script -> (modules it needs, arguments, text its last line must contain)
CASES = {
    "pettingzoo_parallel.py": ((), ["--n-agents", "20"], "team return"),
    "pettingzoo_aec.py": ((), ["--n-agents", "16"], "team return"),
    "gymnasium_joint.py": ((), ["--n-agents", "50"], "team return"),
    "torchrl_native.py": (("torchrl",), ["--n-agents", "16"], "steps 20"),
    "torchrl_pettingzoo.py": (("torchrl",), ["--n-agents", "20"], "steps 10"),
    "tianshou_collector.py": (("tianshou",), ["--n-agents", "20"], "SubprocVectorEnv"),
    "sb3_supersuit.py": (("supersuit",), ["--n-agents", "20"], "copies team returns"),
    "minari_recover.py": (("minari",), ["--n-agents", "20"], "recovered env N=20"),
}


def test_every_example_is_tested() -> None:
    scripts = {p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("_")}
    assert scripts == set(CASES)


@pytest.mark.parametrize("script", sorted(CASES))
def test_example_runs(script: str) -> None:
    needs, args, expect = CASES[script]
    missing = [m for m in needs if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"{script} needs {missing}")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NUMBA_DISABLE_JIT": "1"}
    out = subprocess.run([sys.executable, str(EXAMPLES / script), *args], capture_output=True,
                         text=True, timeout=120, env=env, cwd=EXAMPLES.parent)
    assert out.returncode == 0, out.stderr[-2000:]
    assert expect in out.stdout, out.stdout


def test_example_refuses_an_env_argument_as_a_usage_error() -> None:
    """An N the env refuses (Ising: not L x L) ends the example with argparse's exit 2 and the
    env's own message, not a traceback."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, str(EXAMPLES / "pettingzoo_aec.py"), "--n-agents", "37"],
                         capture_output=True, text=True, timeout=120, env=env,
                         cwd=EXAMPLES.parent)
    assert out.returncode == 2
    assert "error: n_agents must be a perfect square" in out.stderr
    assert "Traceback" not in out.stderr


def test_tianshou_example_seeds_each_env_apart() -> None:
    """Each vector env's policy gets its own seed: with one seed for all, Squeeze (no env
    randomness) played the same episode in every env and the collected data was duplicated."""
    if importlib.util.find_spec("tianshou") is None:
        pytest.skip("needs tianshou")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NUMBA_DISABLE_JIT": "1"}
    out = subprocess.run([sys.executable, str(EXAMPLES / "tianshou_collector.py"), "--n-agents",
                          "20", "--policy", "random"], capture_output=True, text=True,
                         timeout=120, env=env, cwd=EXAMPLES.parent)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = [ln for ln in out.stdout.splitlines() if "returns" in ln]
    assert len(lines) == 2, out.stdout
    for line in lines:
        returns = line.split("returns")[1].strip()
        first, second = (float(v) for v in returns.strip("[]").split(","))
        assert first != second, line


def test_examples_play_the_checkpoints_env_and_refuse_bad_n(tmp_path) -> None:
    """The AEC and TorchRL-native examples play ``--env``, else the env a checkpoint was trained
    on (they were hard-wired to Ising and crashed on a Squeeze checkpoint), else Ising; the
    parallel example's N = 0 is a usage error, not a traceback."""
    sys.path.insert(0, str(EXAMPLES))
    try:
        from _common import env_id_for
    finally:
        sys.path.remove(str(EXAMPLES))
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    from mfdiff_agents.checkpoint import FORMAT_VERSION

    (ckpt / "config.json").write_text(json.dumps({
        "format_version": FORMAT_VERSION, "method": "bc", "config": {}, "weights_sha256": "",
        "env": {"env_id": "mfdiff/GaussianSqueeze-v0"}}))
    assert env_id_for(str(ckpt), None, "mfdiff/Ising-v0") == "mfdiff/GaussianSqueeze-v0"
    assert env_id_for(str(ckpt), "mfdiff/Battle-v0", "mfdiff/Ising-v0") == "mfdiff/Battle-v0"
    assert env_id_for("expert", None, "mfdiff/Ising-v0") == "mfdiff/Ising-v0"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, str(EXAMPLES / "pettingzoo_aec.py"), "--n-agents",
                          "20", "--env", "mfdiff/GaussianSqueeze-v0"], capture_output=True,
                         text=True, timeout=120, env=env, cwd=EXAMPLES.parent)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "pettingzoo AEC mfdiff/GaussianSqueeze-v0: N=20" in out.stdout
    out = subprocess.run([sys.executable, str(EXAMPLES / "pettingzoo_parallel.py"),
                          "--n-agents", "0"], capture_output=True, text=True, timeout=120,
                         env=env, cwd=EXAMPLES.parent)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr


@pytest.mark.parametrize("base", ["gymnasium", "stable_baselines3"])
def test_supersuit_example_seeds_both_base_classes(base: str) -> None:
    """Audit: under SB3 the example called venv.seed(0), which SB3 forwards to SuperSuit's
    ConcatVecEnv (no seed method): AttributeError. Both base classes now run and, seeded alike,
    play the same episodes (the SB3 run is skipped where stable_baselines3 is missing)."""
    needs = ["supersuit"] + (["stable_baselines3"] if base == "stable_baselines3" else [])
    missing = [m for m in needs if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"needs {missing}")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    lines = []
    for b in ("gymnasium", base):
        out = subprocess.run([sys.executable, str(EXAMPLES / "sb3_supersuit.py"), "--n-agents",
                              "20", "--policy", "random", "--base-class", b],
                             capture_output=True, text=True, timeout=120, env=env,
                             cwd=EXAMPLES.parent)
        assert out.returncode == 0, out.stderr[-2000:]
        assert f"supersuit ({b})" in out.stdout, out.stdout
        lines.append(out.stdout.split("team returns")[1].strip())
    assert lines[0] == lines[1]
