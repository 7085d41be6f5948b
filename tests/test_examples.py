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
    "torchrl_native.py": (("torchrl",), ["--n-agents", "16"], "steps 10"),
    "torchrl_pettingzoo.py": (("torchrl",), ["--n-agents", "20"], "steps 10"),
    "tianshou_collector.py": (("tianshou",), ["--n-agents", "20"], "SubprocVectorEnv"),
    "sb3_supersuit.py": (("supersuit",), ["--n-agents", "20"], "copies steps 10 team returns"),
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
    lines = [ln for ln in out.stdout.splitlines() if "partial returns" in ln]
    assert len(lines) == 2, out.stdout
    for line in lines:
        returns = line.split("partial returns")[1].strip()
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
    from _common import env_kwargs_for

    (ckpt / "config.json").write_text(json.dumps({
        "format_version": FORMAT_VERSION, "method": "bc", "config": {}, "weights_sha256": "",
        "env": {"env_id": "mfdiff/Battle-v0", "env_kwargs": {
            "n_agents": 20, "opponent": "expert", "map_size": 14, "max_cycles": 200}}}))
    # the training kwargs less the population ones (Battle's map follows N)
    assert env_kwargs_for(str(ckpt), "mfdiff/Battle-v0") == {"opponent": "expert",
                                                              "max_cycles": 200}
    assert env_kwargs_for(str(ckpt), "mfdiff/Ising-v0") == {}  # another env: its defaults
    assert env_kwargs_for("expert", "mfdiff/Battle-v0") == {}
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


def _team_return(script: str, *args: str) -> float:
    out = subprocess.run([sys.executable, str(EXAMPLES / script), *args], capture_output=True,
                         text=True, timeout=120, cwd=EXAMPLES.parent,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    return float(out.stdout.split("team return ")[1].split()[0])


@pytest.mark.parametrize("steps", ["1", "3", "50"])
def test_aec_example_counts_the_rewards_of_a_truncated_run(steps: str) -> None:
    """Audit: the AEC loop stopped at --steps before last() handed each agent the last cycle's
    rewards (Ising expert, --steps 1: 0.0 against the parallel loop's 1.5 at N = 16; --steps 50
    = max_cycles lost them too). Both loops must count the same rewards for the same steps."""
    args = ["--env", "mfdiff/Ising-v0", "--n-agents", "16", "--steps", steps]
    aec = _team_return("pettingzoo_aec.py", *args)
    # printed to 4 decimals; the two loops divide by N at different places
    assert aec == pytest.approx(_team_return("pettingzoo_parallel.py", *args), abs=2e-4)
    assert aec > 0  # the expert's return: not two loops that both count nothing


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


ISING_N = "16"


@pytest.fixture(scope="module")
def ising_checkpoint(tmp_path_factory) -> Path:
    """A tiny BC checkpoint trained on a 2-episode Ising dataset (N = 16, the family's kwargs:
    max_cycles = 50) in a temporary MINARI_DATASETS_PATH: a checkpoint of another family than
    Squeeze, which six examples were hard-wired to."""
    root = tmp_path_factory.mktemp("ising_ckpt")
    env = {**os.environ, "MINARI_DATASETS_PATH": str(root / "minari"), "OMP_NUM_THREADS": "1"}
    build = ("from mfdiff_envs.offline.build import build_dataset; "
             f"build_dataset('ising', n_agents={ISING_N}, tier='medium', episodes=2, "
             "ref_scores=(0.0, 1.0), progress=False)")
    subprocess.run([sys.executable, "-c", build], env=env, check=True, capture_output=True,
                   timeout=120)
    out = root / "bc"
    subprocess.run([sys.executable, "-m", "mfdiff", "train", "--dataset",
                    f"mfdiff/ising-n{ISING_N}/medium-v0", "--algo", "bc", "--set", "steps=5",
                    "--set", "hidden=16", "--set", "batch_size=4", "--set", "device=cpu",
                    "--out", str(out), "--threads", "1", "--no-progress"],
                   env=env, check=True, capture_output=True, timeout=180)
    return out


@pytest.mark.parametrize("script", sorted(CASES))
def test_example_plays_an_ising_checkpoint_on_its_training_env(script: str,
                                                               ising_checkpoint: Path) -> None:
    """Audit: six examples built Squeeze whatever the checkpoint (an Ising one ended in a
    family-mismatch traceback), and every example shortened max_cycles (the time feature
    t / max_cycles then differed from training; check_env warned "env differs"). Each now
    plays the checkpoint's env with its training kwargs and stops after --steps steps."""
    needs = CASES[script][0]
    missing = [m for m in needs if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"{script} needs {missing}")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NUMBA_DISABLE_JIT": "1"}
    out = subprocess.run([sys.executable, str(EXAMPLES / script), "--n-agents", ISING_N,
                          "--policy", str(ising_checkpoint), "--steps", "4"],
                         capture_output=True, text=True, timeout=180, env=env,
                         cwd=EXAMPLES.parent)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "ising" in out.stdout.lower(), out.stdout
    assert "env differs" not in out.stderr, out.stderr[-2000:]


@pytest.mark.parametrize("script", sorted(CASES))
def test_example_refuses_a_bad_policy_path_as_a_usage_error(script: str, tmp_path) -> None:
    """A --policy that is neither a tier nor a checkpoint directory: argparse's exit 2 and one
    message naming the path, not a CheckpointError traceback."""
    needs = CASES[script][0]
    missing = [m for m in needs if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"{script} needs {missing}")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    bad = tmp_path / "no_such_run"
    out = subprocess.run([sys.executable, str(EXAMPLES / script), "--n-agents", ISING_N,
                          "--policy", str(bad)], capture_output=True, text=True, timeout=120,
                         env=env, cwd=EXAMPLES.parent)
    assert out.returncode == 2, (out.returncode, out.stderr[-2000:])
    assert "Traceback" not in out.stderr and "no such checkpoint directory" in out.stderr, \
        out.stderr


def test_supersuit_example_acts_for_squeeze_agents_at_the_first_step() -> None:
    """Review: the example masked rows with o.any(-1) in every family, but a Squeeze agent's
    first observation is all zeros (no level played yet): every agent was masked out and played
    level 0 at step 0. Copy 0 (env and policy seed 0) must play the native first step."""
    if importlib.util.find_spec("supersuit") is None:
        pytest.skip("needs supersuit")
    from mfdiff_agents.baselines.scripted import make_scripted
    from mfdiff_envs.squeeze import GaussianSqueezeCore

    core = GaussianSqueezeCore(20)
    obs, _ = core.reset(seed=0)
    policy = make_scripted("expert", core, seed=0)
    policy.reset(0)
    _, rewards, *_ = core.step(policy.act_batch(obs, core.alive.copy()))
    out = subprocess.run([sys.executable, str(EXAMPLES / "sb3_supersuit.py"), "--n-agents", "20",
                          "--policy", "expert", "--steps", "1", "--base-class", "gymnasium"],
                         capture_output=True, text=True, timeout=120, cwd=EXAMPLES.parent,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    first = float(out.stdout.split("team returns [")[1].split(",")[0])
    assert first == pytest.approx(core.team_reward(rewards), abs=1e-4), out.stdout
