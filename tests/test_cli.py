"""The command line as a user runs it: a subprocess smoke run of every verb and every ``--algo``,
and user errors as one line with exit code 2 (never a traceback)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import DEVICE

from mfdiff_agents.family_configs import family_config

ROOT = Path(__file__).resolve().parents[1]
DS = "mfdiff/squeeze-n40/medium-v0"
ENV_ID = "mfdiff/GaussianSqueeze-v0"
TINY = {
    "mfdiffuser": ["replan_every=3", "width=16", "depth=1", "n_timesteps=20", "stats_windows=32",
                   "k_schedule=4,16", "ddim_steps=4"],
    "bc": ["hidden=16"],
    "mfq": ["hidden=16"],
    "iql": ["hidden=16"],
    "indep_diffuser": ["width=16", "n_timesteps=10", "ddim_steps=2", "norm_batches=2"],
    "joint_diffuser": ["width=16", "n_timesteps=10", "ddim_steps=2", "norm_batches=2"],
}
COMMON = ["steps=3", "horizon=4", "n_particles=8", "batch_size=4", f"device={DEVICE}"]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    env = {**os.environ, "MINARI_DATASETS_PATH": str(root / "minari"), "OMP_NUM_THREADS": "1"}
    env.pop("MFDIFF_DEBUG", None)
    build = ("from mfdiff_envs.offline.build import build_dataset; "
             "build_dataset('squeeze', n_agents=40, tier='medium', episodes=2, "
             "env_kwargs={'max_cycles': 6}, ref_scores=(0.0, 1.0), progress=False)")
    subprocess.run([sys.executable, "-c", build], env=env, check=True, capture_output=True,
                   timeout=120)
    return {"env": env, "root": root}


def mfdiff(ctx, *args: str, timeout: int = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mfdiff", *args], env=ctx["env"],
                          capture_output=True, text=True, timeout=timeout)


def assert_user_error(r: subprocess.CompletedProcess, needle: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr and needle in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_version_and_help(env):
    r = mfdiff(env, "--version")
    assert r.returncode == 0 and r.stdout.startswith("mfdiff ")
    for verb in ("env", "data", "train", "eval", "demo"):
        r = mfdiff(env, verb, "--help")
        assert r.returncode == 0 and "usage" in r.stdout.lower(), (verb, r.stderr)
        assert "%%" not in r.stdout and ":func:" not in r.stdout
    r = mfdiff(env, "env", "demo", "--help")
    assert "--n-agents" in r.stdout and "population size" in r.stdout


@pytest.mark.parametrize("algo", sorted(TINY))
def test_train_help_lists_every_config_field(env, algo):
    import dataclasses

    from mfdiff_agents.methods import get_method

    r = mfdiff(env, "train", "--algo", algo, "--help")
    assert r.returncode == 0, r.stderr
    for f in dataclasses.fields(get_method(algo).config):
        assert f"  {f.name} (" in r.stdout, f.name
    # an unknown method: one line, no help printed before it (an outside review)
    r = mfdiff(env, "train", "--algo", algo + "x", "--help")
    assert r.returncode == 2 and "unknown method" in r.stderr and "usage" not in r.stdout


@pytest.mark.parametrize("algo", sorted(TINY))
def test_train_then_eval_every_algo(env, algo):
    out = env["root"] / "runs" / algo
    sets = [a for s in COMMON + TINY[algo] for a in ("--set", s)]
    r = mfdiff(env, "train", "--dataset", DS, "--algo", algo, "--out", str(out), "--no-progress",
               "--threads", "1", *sets)
    assert r.returncode == 0, r.stderr
    meta = json.loads((out / "config.json").read_text())
    assert meta["method"] == algo and meta["env"]["family"] == "squeeze"
    # the dataset's family settings under the --set overrides: what the grid trains with
    fam = family_config(algo, "squeeze")
    overridden = {s.split("=")[0] for s in COMMON + TINY[algo]}
    assert fam and all(_plain(meta["config"][k]) == v for k, v in fam.items()
                       if k not in overridden)
    assert "family_configs" in r.stdout and f"{algo}/squeeze.json" in r.stdout
    extra = ["--set", "replan_every=2"] if algo == "mfdiffuser" else []
    r = mfdiff(env, "eval", "--policy", str(out), "--env", "mfdiff/GaussianSqueeze-v0",
               "--n-agents", "30", "--seeds", "1", "--env-kwargs", '{"max_cycles": 4}',
               "--no-progress", "--out", str(out / "eval.jsonl"), *extra)
    assert r.returncode == 0, r.stderr
    assert f"| {algo} |" in r.stdout
    if algo == "bc":  # a trained deviation reaches evaluate: refused on Squeeze (exact gain)
        r = mfdiff(env, "eval", "--policy", "random", "--env", "mfdiff/GaussianSqueeze-v0",
                   "--n-agents", "30", "--seeds", "1", "--env-kwargs", '{"max_cycles": 4}',
                   "--no-progress", "--exploitability", "--deviation", str(out))
        assert r.returncode == 2 and "takes no extra deviation" in r.stderr, r.stderr


def test_eval_defaults_to_the_checkpoints_env(env, tmp_path):
    """A checkpoint alone is enough: the env, N and env kwargs it was trained on (said on
    stderr); --n-agents and --env-kwargs change them; a scripted policy still needs both."""
    out = tmp_path / "bc"
    sets = [a for s in COMMON + TINY["bc"] for a in ("--set", s)]
    r = mfdiff(env, "train", "--dataset", DS, "--algo", "bc", "--out", str(out), "--no-progress",
               *sets)
    assert r.returncode == 0, r.stderr

    def records(*args):
        r = mfdiff(env, "eval", "--policy", str(out), "--seeds", "1", "--no-progress", "--out",
                   str(tmp_path / "r.jsonl"), *args)
        assert r.returncode == 0, r.stderr
        lines = (tmp_path / "r.jsonl").read_text().splitlines()
        (tmp_path / "r.jsonl").unlink()
        return r.stderr, [json.loads(x) for x in lines]

    err, recs = records()
    assert f"the checkpoint's env {ENV_ID}, N=40" in err and '"max_cycles": 6' in err
    assert {(x["env_id"], x["n_agents"], x["env_kwargs"]["max_cycles"]) for x in recs} == {
        (ENV_ID, 40, 6)}
    err, recs = records("--n-agents", "30", "--env-kwargs", '{"max_cycles": 4}')
    assert {(x["n_agents"], x["env_kwargs"]["max_cycles"]) for x in recs} == {(30, 4)}
    # the notice names what is evaluated and what was trained (it printed N=30 with the
    # training kwargs, max_cycles 6, and no word of the change: an outside audit)
    assert f"the checkpoint's env {ENV_ID}, N=30" in err and '"max_cycles": 4' in err
    assert "trained with N=40" in err and '"max_cycles": 6' in err
    # one env written two ways is one setting: the same run again is refused, and another
    # seed pools with it (the kwargs were compared as written: stored twice, never pooled)
    rec = tmp_path / "twice.jsonl"
    base = ("eval", "--policy", str(out), "--no-progress", "--out", str(rec))
    assert mfdiff(env, *base, "--seeds", "1").returncode == 0
    r = mfdiff(env, *base, "--seeds", "1", "--env", ENV_ID, "--n-agents", "40",
               "--env-kwargs", '{"max_cycles": 6}')
    assert_user_error(r, "already holds this run")
    sweep = tmp_path / "more.toml"
    sweep.write_text(f'seeds = [3]\n[[runs]]\npolicy = "{out}"\nenv = "{ENV_ID}"\n'
                     'n_agents = 40\nenv_kwargs = { max_cycles = 6 }\n')
    r = mfdiff(env, "eval", "--sweep", str(sweep), "--out", str(rec), "--no-progress")
    assert r.returncode == 0, r.stderr
    r = mfdiff(env, "eval", "--records", str(rec))
    assert r.returncode == 0 and "| 2 |" in r.stdout, r.stdout + r.stderr
    _, recs = records("--env", ENV_ID)  # its own env named: N defaults, kwargs are the env's
    assert {(x["n_agents"], x["env_kwargs"].get("max_cycles")) for x in recs} != {(40, 6)}
    assert {x["n_agents"] for x in recs} == {40}
    r = mfdiff(env, "eval", "--policy", "random", "--n-agents", "20")
    assert_user_error(r, "give --env and --n-agents")
    # a --set given twice is said once, the last value recorded (eval parsed --set twice and
    # warned twice: an outside review, sixty-first update)
    err, recs = records("--set", "temperature=0.5", "--set", "temperature=0.7")
    assert err.count("given twice") == 1, err
    assert {x["config"]["set"]["temperature"] for x in recs} == {"0.7"}


def _plain(v):
    return list(v) if isinstance(v, tuple) else v


def test_train_defaults_are_the_family_settings(env, monkeypatch):
    """``mfdiff train``'s config = Config defaults < the dataset family's file < --config <
    --set; ``--no-family-config`` drops the family layer."""
    import dataclasses

    from mfdiff_agents.config import build_config
    from mfdiff_agents.family_configs import family_config_path
    from mfdiff_agents.methods import get_method, train_config

    monkeypatch.setenv("MINARI_DATASETS_PATH", env["env"]["MINARI_DATASETS_PATH"])
    cls = get_method("mfdiffuser").config
    cfg, path = train_config("mfdiffuser", DS)
    assert path == family_config_path("mfdiffuser", "squeeze")
    assert cfg == build_config(cls, config_path=path)
    assert cfg.plan_samples == 4 and cfg.steps == 800 != cls().steps
    bare, none = train_config("mfdiffuser", DS, family_defaults=False)
    assert none is None and bare == cls()
    user = env["root"] / "user.json"
    user.write_text('{"plan_samples": 2, "head_noise": 0.1}')
    mine, _ = train_config("mfdiffuser", DS, config_path=user, overrides=["plan_samples=3"])
    assert (mine.plan_samples, mine.head_noise, mine.steps) == (3, 0.1, 800)
    diff = {f.name for f in dataclasses.fields(cls)
            if getattr(mine, f.name) != getattr(cfg, f.name)}
    assert diff == {"plan_samples", "head_noise"}


def test_eval_records_and_sweep(env, tmp_path):
    sweep = {"seeds": 1, "runs": [{"policy": "random", "env": "mfdiff/GaussianSqueeze-v0",
                                   "n_agents": [20, 30], "env_kwargs": {"max_cycles": 3}}]}
    (tmp_path / "s.json").write_text(json.dumps(sweep))
    r = mfdiff(env, "eval", "--sweep", str(tmp_path / "s.json"), "--out", str(tmp_path / "r.jsonl"),
               "--no-progress")
    assert r.returncode == 0, r.stderr
    r = mfdiff(env, "eval", "--records", str(tmp_path / "r.jsonl"), "--report-dir",
               str(tmp_path / "rep"), "--command", "bash make.sh")
    assert r.returncode == 0 and "bash make.sh" in (tmp_path / "rep" / "eval.md").read_text()


def test_user_errors_are_one_line_exit_2(env, tmp_path, monkeypatch, capsys):
    """In-process (fast): ``main`` returns 2 and prints exactly one line, no traceback."""
    from mfdiff.cli import main

    monkeypatch.setenv("MINARI_DATASETS_PATH", env["env"]["MINARI_DATASETS_PATH"])
    monkeypatch.delenv("MFDIFF_DEBUG", raising=False)

    def check(args, needle):
        capsys.readouterr()
        assert main(args) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and needle in err, err
        assert len(err.strip().splitlines()) == 1, err

    base = ["eval", "--policy", "random", "--env", "mfdiff/GaussianSqueeze-v0", "--n-agents", "20"]
    check([*base, "--seeds", "0"], "--seeds")
    check([*base, "--env-kwargs", "notjson"], "not JSON")
    check([*base, "--env-kwargs", '{"mu": -436}'], "mu")
    check([*base, "--env-kwargs", '{"n_agents": 50}'], "give the population size once")
    check([*base, "--resume"], "--resume continues a sweep")
    # options that would be ignored, and a --set given twice (outside audit, 2026-12-05)
    rec = tmp_path / "some.jsonl"
    rec.write_text("")
    check(["eval", "--records", str(rec), "--out", str(tmp_path / "x.jsonl")], "--records only")
    check([*base, "--name", "t"], "give --report-dir")
    check([*base, "--report-dir", str(rec)], "--report-dir")  # a file: before any episode
    check([*base, "--video", str(rec)], "--video")
    check(["eval", "--policy", "random", "--env", "mfdiff/Nope-v0"], "no registered env")
    check(["eval", "--policy", "random", "--env", "mfdiff/Ising-v0"], "give --n-agents")
    check([*base, "--command", "echo"], "give --report-dir")
    # a --set given twice: the last wins, as for any repeated option, and is said
    from mfdiff.cli_agents import _overrides
    from mfdiff_agents.baselines.bc import Config as BCConfig
    from mfdiff_agents.config import build_config

    with pytest.warns(UserWarning, match="given twice.*'2', is used"):
        assert _overrides(["temperature=1", "temperature=2"]) == {"temperature": "2"}
    with pytest.warns(UserWarning, match="given twice.*'4', is used"):
        assert build_config(BCConfig, {}, overrides=["steps=3", "steps=4"]).steps == 4
    check([*base, "--deviation", "runs"], "give --exploitability")
    check([*base, "--exploitability", "--deviation", "expert"], "checkpoint directory")
    check([*base, "--deviation-set", "expert"], "give --exploitability")
    ising = ["eval", "--policy", "random", "--env", "mfdiff/Ising-v0", "--n-agents", "16",
             "--exploitability"]
    check([*ising, "--deviation-set", "expert,bc"], "distinct names out of")
    check(["eval", "--policy", "random", "--env", "mfdiff/Squeeze-v0", "--n-agents", "20"],
          "Did you mean: `GaussianSqueeze`")
    check([*base, "--dataset", "mfdiff/squeeze-n999/medium-v0"], "mfdiff data list")
    # options of one run beside --records / --sweep would be ignored: refused
    (tmp_path / "r.jsonl").write_text("")
    check(["eval", "--records", str(tmp_path / "r.jsonl"), "--policy", "random"],
          "would be ignored")
    check(["eval", "--sweep", str(tmp_path / "s.toml"), "--seeds", "10"], "would be ignored")
    check([*base, "--set", "device=cuda"], "give --device instead")
    # every episode re-seeds the policy from --seeds: a policy seed would change nothing
    check([*base, "--set", "seed=5"], "would change nothing")
    check(["eval", "--sweep", str(tmp_path / "s.toml"), "--device", "cuda"], "would be ignored")
    check(["eval", "--policy", "random", "--env", "mfdiff/Ising-v0", "--n-agents", "3"],
          "nearest: 9")
    check(["train", "--dataset", DS, "--algo", "bc", "--set", "seed=-1"], "seed must be an int")
    # a dataset's reference returns normalise its own env only (another N or max_cycles: refused)
    from mfdiff_agents.evaluation.run import reference_scores

    assert reference_scores(ENV_ID, {"n_agents": 40, "max_cycles": 6}, dataset_id=DS) == (0, 1)
    check([*base, "--dataset", DS, "--env-kwargs", '{"max_cycles": 6}'],
          "n_agents=20 (dataset: 40)")
    with pytest.raises(ValueError, match="max_cycles=7 .dataset: 6."):
        reference_scores(ENV_ID, {"n_agents": 40, "max_cycles": 7}, dataset_id=DS)
    with pytest.raises(ValueError, match=r"\(another env id, not mfdiff/GaussianSqueeze-v0\)"):
        reference_scores("mfdiff/Ising-v0", {"n_agents": 36}, dataset_id=DS)
    train = ["train", "--dataset", DS, "--set", "horizon=4", "--no-progress"]
    check([*train, "--algo", "nope"], "unknown method")
    check(["train", "--dataset", "mfdiff/squeeze-n40/expert-v0", "--algo", "bc"],
          "not in the dataset catalogue")  # no recipe: `mfdiff data build` would fail too
    check(["train", "--dataset", "mfdiff/squeeze-n100/expert-v0", "--algo", "bc"],
          "build it with `mfdiff data build mfdiff/squeeze-n100/expert-v0`")
    check([*train, "--algo", "bc", "--set", "hiden=3"], "hiden")
    check([*train, "--algo", "bc", "--resume", "--out", str(tmp_path / "empty")],
          "no training run")
    check(["train", "--dataset", DS, "--algo", "bc", "--no-progress"], "shorter than horizon 8")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{oops")
    check([*base[:1], "--policy", str(broken), *base[3:]], "JSON")
    check([*base[:1], "--policy", str(tmp_path / "none"), *base[3:]], "neither")


def test_squeeze_checkpoint_acts_on_its_mixture_and_the_latency_benchmark_compares(env):
    """A Squeeze checkpoint trained with the family config carries its mixture of 4 plans
    (plan_combine "mean", thirty-eighth update): particle actions on it are one user error that
    names the fix, and act with that fix; benchmarks/acting_settings.py times both plan rules
    on it in alternating episodes and refuses two equal settings."""
    out = env["root"] / "runs" / "mixture"
    sets = [a for s in COMMON + TINY["mfdiffuser"] for a in ("--set", s)]
    r = mfdiff(env, "train", "--dataset", DS, "--algo", "mfdiffuser", "--out", str(out),
               "--no-progress", "--threads", "1", *sets)
    assert r.returncode == 0, r.stderr
    cfg = json.loads((out / "config.json").read_text())["config"]
    assert (cfg["plan_samples"], cfg["plan_combine"]) == (4, "mean")
    ev = ["eval", "--policy", str(out), "--env", ENV_ID, "--n-agents", "12", "--seeds", "1",
          "--env-kwargs", '{"max_cycles": 3}', "--no-progress", "--set", "act_with=particle"]
    assert_user_error(mfdiff(env, *ev), 'set plan_combine="best" with them')
    r = mfdiff(env, *ev, "--set", "plan_combine=best")
    assert r.returncode == 0, r.stderr
    bench = [sys.executable, str(ROOT / "benchmarks/acting_settings.py"), str(out), "--env",
             ENV_ID, "--env-kwargs", '{"max_cycles": 3}', "--sizes", "12", "--episodes", "2",
             "--a", "plan_combine=best", "--b", "plan_combine=mean"]
    r = subprocess.run(bench, env=env["env"], capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    (row,) = [line for line in r.stdout.splitlines() if line.startswith("| 12 |")]
    assert all(float(x) > 0 for x in row.strip("|").split("|")[1:4]), row
    same = bench[:-2] + ["--b", "plan_combine=best"]
    r = subprocess.run(same, env=env["env"], capture_output=True, text=True, timeout=180)
    assert r.returncode == 2 and "nothing to compare" in r.stderr, r.stderr


def test_eval_label_names_a_setting_and_records_keep_rows_apart(env, tmp_path):
    """``mfdiff eval --label``: one checkpoint evaluated with two settings into one --out gets
    two rows; without labels the report refuses to pool them (one row would describe
    neither), and ``--out`` refuses the second setting before playing it (an audit: it was
    appended, and only the file's reports refused it)."""
    out, other = tmp_path / "r.jsonl", tmp_path / "o.jsonl"
    base = ["eval", "--policy", "random", "--env", ENV_ID, "--n-agents", "12", "--seeds", "2",
            "--no-progress"]
    assert mfdiff(env, *base, "--out", str(out), "--env-kwargs",
                  '{"max_cycles": 3}').returncode == 0
    held = out.read_text()
    r = mfdiff(env, *base, "--out", str(out), "--env-kwargs", '{"max_cycles": 2}')
    assert_user_error(r, "own label")
    assert str(out) in r.stderr and out.read_text() == held  # nothing played, nothing appended
    assert mfdiff(env, *base, "--out", str(other), "--env-kwargs",
                  '{"max_cycles": 2}').returncode == 0
    assert_user_error(mfdiff(env, "eval", "--records", str(out), str(other)), "own label")
    r = mfdiff(env, *base, "--out", str(out), "--env-kwargs", '{"max_cycles": 2}',
               "--label", "random, 2 steps")
    assert r.returncode == 0 and "| random, 2 steps |" in r.stdout, r.stderr
    r = mfdiff(env, "eval", "--records", str(out))
    assert r.returncode == 0 and "| random, 2 steps |" in r.stdout, r.stderr


def test_eval_out_refuses_another_deviating_share_and_a_run_scored_again(env, tmp_path):
    """An outside review of the fifty-seventh update: the probe's exploitability share is
    compared before playing; and the same run measured again with --exploitability plays the
    same episodes, so it is the run the file holds (it was appended and pooled as more seeds)."""
    out = tmp_path / "r.jsonl"
    base = ["eval", "--policy", "random", "--env", "mfdiff/Ising-v0", "--n-agents", "16",
            "--env-kwargs", '{"max_cycles": 2}', "--seeds", "1", "--no-progress",
            "--out", str(out)]
    assert mfdiff(env, *base, "--exploitability", "--deviation-fraction", "0.2").returncode == 0
    held = out.read_text()
    two = [*base[:-5], "--seeds", "2", "--no-progress", "--out", str(out), "--exploitability"]
    assert_user_error(mfdiff(env, *two), "measured exploitability with 0.2")
    plain = tmp_path / "p.jsonl"
    base[-1] = str(plain)
    assert mfdiff(env, *base).returncode == 0
    assert_user_error(mfdiff(env, *base, "--exploitability"), "already holds this run")
    assert out.read_text() == held and len(plain.read_text().splitlines()) == 1


def test_eval_refuses_to_append_runs_its_out_file_holds(env, tmp_path):
    """A new user's audit: re-running an interrupted eval loop into the same --out appended the
    same runs again, and every report of the file then refused it until edited by hand. The
    eval is refused before it runs; other seeds, N or a label are appended as before. A
    mistyped --policy path is named as such (it said --env was missing)."""
    out = tmp_path / "r.jsonl"
    base = ["eval", "--policy", "random", "--env", ENV_ID, "--n-agents", "12",
            "--no-progress", "--out", str(out), "--env-kwargs", '{"max_cycles": 3}']
    assert mfdiff(env, *base, "--seeds", "2").returncode == 0
    before = out.read_text()
    assert_user_error(mfdiff(env, *base, "--seeds", "3"), "at evaluation seeds [0, 1]")
    assert out.read_text() == before
    assert mfdiff(env, *base[:6], "13", *base[7:], "--seeds", "2").returncode == 0  # other N
    assert mfdiff(env, *base, "--seeds", "2", "--label", "again").returncode == 0
    r = mfdiff(env, "eval", "--records", str(out))
    assert r.returncode == 0 and "| again |" in r.stdout, r.stderr
    assert_user_error(mfdiff(env, "eval", "--policy", str(tmp_path / "runs" / "nowhere"),
                             "--seeds", "2"), "nor a checkpoint directory")


def test_an_interrupted_train_says_where_its_last_save_is(tmp_path, monkeypatch, capsys):
    """A new user's audit: Ctrl-C in `mfdiff train` said only "interrupted"; it now names the
    last save's step and --resume (or that nothing was saved yet)."""
    from conftest import squeeze_episodes

    from mfdiff import cli, cli_agents
    from mfdiff_agents.methods import get_method
    from mfdiff_envs.offline.windows import WindowSampler

    out = tmp_path / "bc"

    def stop(args):
        args.out = out
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_agents, "_train", stop)
    argv = ["train", "--dataset", "mfdiff/squeeze-n40/medium-v0", "--algo", "bc"]
    assert cli.main(argv) == 130
    assert "before its first save" in capsys.readouterr().err
    bc = get_method("bc")
    sampler = WindowSampler(squeeze_episodes(10, 2, 5, skill=0.5), horizon=2, n_particles=4,
                            seed=0)
    bc.fit(sampler, bc.config(steps=2, batch_size=4, horizon=2, n_particles=4),
           progress=False).save(out)
    meta = json.loads((out / "config.json").read_text())
    meta.pop("config_sha256", None)
    meta["steps_done"], meta["config"]["steps"] = 1, 4
    (out / "config.json").write_text(json.dumps(meta))
    assert cli.main(argv) == 130
    err = capsys.readouterr().err
    assert "is at step 1 of 4" in err and "--resume" in err and len(err.splitlines()) == 1
    meta["steps_done"] = 4  # finished (resumed for more steps, stopped before a new save)
    (out / "config.json").write_text(json.dumps(meta))
    assert cli.main(argv) == 130
    assert "is at step 4: the same command with --resume" in capsys.readouterr().err


def test_train_refuses_a_mixture_of_plans_without_an_action_head(env, tmp_path):
    """The Squeeze config averages the action head over plans (plan_combine "mean"): training
    it without a head made a checkpoint every evaluation refused; refused at train time."""
    sets = [a for s in COMMON + TINY["mfdiffuser"] for a in ("--set", s)]
    r = mfdiff(env, "train", "--dataset", DS, "--algo", "mfdiffuser", "--out",
               str(tmp_path / "nohead"), "--no-progress", *sets, "--set", "action_head=false")
    assert_user_error(r, 'needs action_head=true')
    assert not (tmp_path / "nohead" / "model.safetensors").exists()


def test_train_resume_keeps_the_runs_own_settings(env, tmp_path):
    """`--resume` goes on with the settings in the run's config.json, not today's family file
    or defaults: resumed without repeating its --set, the run once trained its second half with
    other settings while config.json named one set for all of it. A changed training field is
    refused; a step budget below the steps done too (config.json would say the smaller one)."""
    out = str(tmp_path / "bc")
    sets = [a for s in [*COMMON, *TINY["bc"], "steps=2", "lr=0.002", "temperature=0.7"]
            for a in ("--set", s)]
    base = ["train", "--dataset", DS, "--algo", "bc", "--out", out, "--no-progress"]
    r = mfdiff(env, *base, *sets)
    assert r.returncode == 0, r.stderr
    r = mfdiff(env, *base, "--resume", "--set", "steps=4")
    assert r.returncode == 0, r.stderr
    assert "resuming with the settings of" in r.stdout
    saved = json.loads((tmp_path / "bc" / "config.json").read_text())["config"]
    assert saved["steps"] == 4 and saved["lr"] == 0.002 and saved["temperature"] == 0.7
    assert saved["hidden"] == 16
    # a training field changed on resume: refused, named
    assert_user_error(mfdiff(env, *base, "--resume", "--set", "steps=6", "--set", "lr=0.01"),
                      "lr: 0.002 -> 0.01")
    # an acting field may change (it does not touch the weights)
    r = mfdiff(env, *base, "--resume", "--set", "steps=5", "--set", "temperature=0.2")
    assert r.returncode == 0, r.stderr
    assert_user_error(mfdiff(env, *base, "--resume", "--set", "steps=3"), "already at step 5")


def test_records_know_their_checkpoint(env, tmp_path):
    """Records keep the checkpoint's identity and settings: a sweep --resume re-evaluates a
    checkpoint retrained in place (it kept the old weights' records), and a report refuses to
    pool checkpoints trained with other settings under one label (it averaged them)."""
    sets = [a for s in [*COMMON, *TINY["bc"]] for a in ("--set", s)]
    train = ["train", "--dataset", DS, "--algo", "bc", "--no-progress", *sets]
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    assert mfdiff(env, *train, "--out", a).returncode == 0
    assert mfdiff(env, *train, "--out", b, "--set", "temperature=3").returncode == 0
    sweep = tmp_path / "s.toml"
    sweep.write_text(f'seeds = 2\n[[runs]]\npolicy = "{a}"\nenv = "{ENV_ID}"\nn_agents = 40\n'
                     'env_kwargs = { max_cycles = 6 }\n')
    out = tmp_path / "r.jsonl"
    assert mfdiff(env, "eval", "--sweep", str(sweep), "--out", str(out),
                  "--no-progress").returncode == 0
    first = [json.loads(line) for line in out.read_text().splitlines()]
    assert first[0]["config"]["checkpoint"]["id"]
    # unchanged: resume keeps the records as they are
    assert mfdiff(env, "eval", "--sweep", str(sweep), "--out", str(out), "--resume",
                  "--no-progress").returncode == 0
    assert [json.loads(line) for line in out.read_text().splitlines()] == first
    # retrained in place: resume evaluates it again
    assert mfdiff(env, "train", "--dataset", DS, "--algo", "bc", "--no-progress", "--out", a,
                  "--resume", "--set", "steps=6").returncode == 0
    assert mfdiff(env, "eval", "--sweep", str(sweep), "--out", str(out), "--resume",
                  "--no-progress").returncode == 0
    again = [json.loads(line) for line in out.read_text().splitlines()]
    assert again[0]["config"]["checkpoint"]["id"] != first[0]["config"]["checkpoint"]["id"]
    # two settings under one label: refused, named (by the report; and by --out before the
    # second is played)
    pooled, lone = tmp_path / "p.jsonl", tmp_path / "b.jsonl"
    for ckpt, to in ((a, pooled), (b, lone), (b, pooled)):
        r = mfdiff(env, "eval", "--policy", ckpt, "--env", ENV_ID, "--n-agents", "40",
                   "--env-kwargs", '{"max_cycles": 6}', "--seeds", "2", "--no-progress",
                   "--out", str(to))
        if to is pooled and ckpt is b:
            assert_user_error(r, "trained with different settings")
        else:
            assert r.returncode == 0, r.stderr
    assert_user_error(mfdiff(env, "eval", "--records", str(pooled), str(lone)),
                      "trained with different settings")


def test_reports_refuse_a_checkpoint_counted_twice_or_changed_in_place(env, tmp_path):
    """Outside audit: records of one checkpoint under two spellings of its path counted as new
    seeds; records of a checkpoint retrained in place pooled with the old weights' ones; an
    interrupted run's save pooled with finished seeds. All three are refused now."""
    import warnings

    from mfdiff_agents import load_policy
    from mfdiff_agents.checkpoint import checkpoint_identity

    sets = [a for s in [*COMMON, *TINY["bc"]] for a in ("--set", s)]
    a = str(tmp_path / "a")
    assert mfdiff(env, "train", "--dataset", DS, "--algo", "bc", "--no-progress", *sets,
                  "--out", a).returncode == 0
    ev = ["eval", "--env", ENV_ID, "--n-agents", "40", "--env-kwargs", '{"max_cycles": 6}',
          "--seeds", "2", "--no-progress"]
    spelt = tmp_path / "spelt.jsonl"
    assert mfdiff(env, *ev, "--policy", a, "--out", str(spelt)).returncode == 0
    # appended again under another spelling: refused before it runs (a new user's audit) …
    assert_user_error(mfdiff(env, *ev, "--policy", a + "/", "--out", str(spelt)),
                      "already holds this run")
    # … and a file that holds it twice anyway (e.g. two files joined) is refused by reports
    records = [json.loads(x) for x in spelt.read_text().splitlines()]
    records[0]["config"]["policy"] = a + "/"
    spelt.write_text("".join(json.dumps(r) + "\n" for r in [*records, records[0]]))
    assert_user_error(mfdiff(env, "eval", "--records", str(spelt)), "duplicate evaluation")
    moved, later = tmp_path / "moved.jsonl", tmp_path / "later.jsonl"
    assert mfdiff(env, *ev, "--policy", a, "--out", str(moved)).returncode == 0
    assert mfdiff(env, "train", "--dataset", DS, "--algo", "bc", "--no-progress", "--out", a,
                  "--resume", "--set", "steps=5").returncode == 0
    # into the same file: refused before it is played; joined later: refused by the report
    assert_user_error(mfdiff(env, *ev, "--policy", a, "--out", str(moved)),
                      "two different checkpoints at one path")
    assert mfdiff(env, *ev, "--policy", a, "--out", str(later)).returncode == 0
    assert_user_error(mfdiff(env, "eval", "--records", str(moved), str(later)),
                      "two different checkpoints at one path")
    # a save short of its run's steps: warned at load, named in its identity, not pooled
    short = tmp_path / "short"
    load_policy(a).save(short, steps_done=2)
    with pytest.warns(UserWarning, match="saved at step 2 of its 5"):
        load_policy(str(short))
    assert checkpoint_identity(short)["steps_done"] == 2
    assert "steps_done" not in checkpoint_identity(a)  # finished: steps_done = steps
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_policy(a)
    b = str(tmp_path / "b")
    assert mfdiff(env, "train", "--dataset", DS, "--algo", "bc", "--no-progress", *sets,
                  "--set", "steps=5", "--set", "seed=1", "--out", b).returncode == 0
    mixed, cut = tmp_path / "mixed.jsonl", tmp_path / "cut.jsonl"
    for path, to in ((b, mixed), (str(short), cut)):
        assert mfdiff(env, *ev, "--policy", path, "--out", str(to),
                      "--label", "bc").returncode == 0
    r = mfdiff(env, *ev, "--policy", str(short), "--out", str(mixed), "--label", "bc")
    assert r.returncode == 2 and "saved at step 2 of its 5" in r.stderr, r.stderr  # load's warning
    assert "error: " in r.stderr and "unfinished or interrupted" in r.stderr, r.stderr
    assert_user_error(mfdiff(env, "eval", "--records", str(mixed), str(cut)),
                      "unfinished or interrupted")


def test_resume_refuses_a_dataset_rebuilt_under_its_id(tmp_path):
    """Outside audit: --resume continued on a dataset rebuilt (other episodes) under the same
    id. The checkpoint records the dataset's content digest; another digest is refused."""
    root = tmp_path
    ctx = {"env": {**os.environ, "MINARI_DATASETS_PATH": str(root / "minari"),
                   "OMP_NUM_THREADS": "1"}}

    def build(episodes: int) -> None:
        code = ("from mfdiff_envs.offline.build import build_dataset; "
                f"build_dataset('squeeze', n_agents=40, tier='medium', episodes={episodes}, "
                "env_kwargs={'max_cycles': 6}, ref_scores=(0.0, 1.0), progress=False, "
                "overwrite=True)")
        subprocess.run([sys.executable, "-c", code], env=ctx["env"], check=True,
                       capture_output=True, timeout=120)

    build(2)
    sets = [a for s in [*COMMON, *TINY["bc"], "steps=4", "ckpt_every=2"] for a in ("--set", s)]
    out = str(root / "run")
    assert mfdiff(ctx, "train", "--dataset", DS, "--algo", "bc", "--no-progress", *sets,
                  "--out", out).returncode == 0
    meta = json.loads((root / "run" / "config.json").read_text())
    assert meta["env"]["dataset_content"] and meta["steps_done"] == 4
    build(3)
    assert_user_error(mfdiff(ctx, "train", "--dataset", DS, "--algo", "bc", "--no-progress",
                             "--out", out, "--resume", "--set", "steps=6"), "dataset_content")
    # a second training seed on the rebuilt data: one report row may not pool the two
    other = str(root / "other")
    assert mfdiff(ctx, "train", "--dataset", DS, "--algo", "bc", "--no-progress", *sets,
                  "--set", "seed=1", "--out", other).returncode == 0
    recs, more = root / "r.jsonl", root / "more.jsonl"
    for ckpt, to in ((out, recs), (other, more), (other, recs)):
        r = mfdiff(ctx, "eval", "--policy", ckpt, "--env", ENV_ID, "--n-agents", "40",
                   "--env-kwargs", '{"max_cycles": 6}', "--seeds", "2", "--no-progress",
                   "--label", "bc", "--out", str(to))
        if to is recs and ckpt is other:  # refused before it is played
            assert_user_error(r, "different data")
        else:
            assert r.returncode == 0, r.stderr
    assert_user_error(mfdiff(ctx, "eval", "--records", str(recs), str(more)), "different data")


def test_eval_out_knows_a_deviation_checkpoint_under_another_spelling(env, tmp_path):
    """Review of the forty-fourth update: `--deviation runs/bc` and `--deviation runs/bc/` (or
    its absolute path) were two runs to both duplicate checks; a deviation is named by its
    checkpoint's identity, as the evaluated policy is."""
    build = ("from mfdiff_envs.offline.build import build_dataset; "
             "build_dataset('ising', n_agents=16, tier='expert', episodes=1, version=7, "
             "env_kwargs={'max_cycles': 4}, ref_episodes=1, progress=False)")
    subprocess.run([sys.executable, "-c", build], env=env["env"], check=True,
                   capture_output=True, timeout=120)
    bc = tmp_path / "bc"
    sets = [a for s in COMMON + TINY["bc"] for a in ("--set", s)]
    r = mfdiff(env, "train", "--dataset", "mfdiff/ising-n16/expert-v7", "--algo", "bc",
               "--out", str(bc), "--no-progress", *sets)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "dev.jsonl"
    ev = ["eval", "--policy", "expert", "--env", "mfdiff/Ising-v0", "--n-agents", "16",
          "--env-kwargs", '{"max_cycles": 4}', "--seeds", "1", "--no-progress",
          "--exploitability", "--deviation-set", "bc", "--out", str(out)]
    assert mfdiff(env, *ev, "--deviation", str(bc)).returncode == 0
    rec = json.loads(out.read_text())
    assert rec["config"]["deviation_ids"] and "bc" in rec["deviation_gains"]
    for spelt in (f"{bc}/", os.path.relpath(bc)):
        assert_user_error(mfdiff(env, *ev, "--deviation", spelt), "already holds this run")
    # joined into one file anyway, the reports refuse it
    twice = dict(rec, config={**rec["config"], "deviations": [f"{bc}/"]})
    out.write_text(json.dumps(rec) + "\n" + json.dumps(twice) + "\n")
    assert_user_error(mfdiff(env, "eval", "--records", str(out)), "duplicate evaluation")
    # a record written before deviation_ids (its path only) and a newer one of the same run
    # are one run too (the review's case: the old record's path is read for its identity)
    old = {k: v for k, v in rec["config"].items() if k != "deviation_ids"}
    out.write_text(json.dumps(dict(rec, config=old)) + "\n")
    assert_user_error(mfdiff(env, *ev, "--deviation", f"{bc}/"), "already holds this run")
    out.write_text(json.dumps(dict(rec, config=old)) + "\n" + json.dumps(rec) + "\n")
    assert_user_error(mfdiff(env, "eval", "--records", str(out)), "duplicate evaluation")
    # another checkpoint as the deviation measures the gain otherwise, but plays the same
    # seeded episodes: their score would count twice (an outside review of the fifty-seventh
    # update; this was read as another run until then)
    other = dict(rec, config={**rec["config"], "deviation_ids": ["another"]})
    out.write_text(json.dumps(rec) + "\n" + json.dumps(other) + "\n")
    assert_user_error(mfdiff(env, "eval", "--records", str(out)), "duplicate evaluation")


def test_eval_deviation_fraction_is_recorded(tmp_path, capsys):
    """`mfdiff eval --deviation-fraction` (an outside audit: only evaluate() had it): the
    share is recorded with the gains, refused without --exploitability or outside (0, 1]."""
    from mfdiff.cli import main

    out = tmp_path / "r.jsonl"
    base = ["eval", "--policy", "expert", "--env", "mfdiff/Ising-v0", "--n-agents", "25",
            "--seeds", "1", "--env-kwargs", '{"max_cycles": 4}', "--no-progress"]
    assert main([*base, "--deviation-fraction", "0.2"]) == 2
    assert "give --exploitability" in capsys.readouterr().err
    assert main([*base, "--exploitability", "--deviation-fraction", "1.5"]) == 2
    # the default's value, given, applies like any other: refused where it cannot
    assert main([*base, "--deviation-fraction", "0.01"]) == 2
    assert "give --exploitability" in capsys.readouterr().err
    sq = ["eval", "--policy", "expert", "--env", "mfdiff/GaussianSqueeze-v0", "--n-agents", "20",
          "--seeds", "1", "--env-kwargs", '{"max_cycles": 2}', "--no-progress"]
    assert main([*sq, "--exploitability", "--deviation-fraction", "0.01"]) == 2
    assert "no deviators" in capsys.readouterr().err
    assert main([*base, "--exploitability", "--deviation-fraction", "0.2", "--out",
                 str(out)]) in (0, None)
    (rec,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert rec["deviation_fraction"] == 0.2 and rec["config"]["deviation_fraction"] == 0.2
    assert set(rec["deviation_gains"]) and np.isfinite(rec["exploitability"])


def test_divergence_is_one_line_exit_1_and_its_checkpoint_refuses_to_act(env, tmp_path):
    """An outside audit: a diverged training printed a traceback; its last save (weights of
    1e30) was then evaluated as a policy playing action 0 with exit 0."""
    out = tmp_path / "bc"
    r = mfdiff(env, "train", "--dataset", "mfdiff/squeeze-n40/medium-v0", "--algo", "bc",
               "--set", "lr=1e30", "--set", "steps=4", "--set", "ckpt_every=1",
               "--set", "horizon=4", "--set", "n_particles=8", "--no-family-config",
               "--no-progress", "--out", str(out))
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert "non-finite loss at step" in last and "holds its last save" in last, r.stderr
    r = mfdiff(env, "eval", "--policy", str(out), "--seeds", "1", "--no-progress")
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert "NaN or infinite numbers" in r.stderr.strip().splitlines()[-1]


def test_warnings_name_their_source_unless_ours_and_are_restored():
    """An outside audit: every warning printed as "mfdiff: warning: …", a third-party
    deprecation included, and main() left its formatter installed in the caller's process."""
    import warnings

    from mfdiff import cli
    from mfdiff_envs.core import MfdiffWarning

    own = os.path.join(os.path.dirname(cli.__file__), "cli_agents.py")
    assert cli._one_line_warning("x", MfdiffWarning, own, 1) == "mfdiff: warning: x\n"
    torchs = cli._one_line_warning("size", UserWarning, own, 3)  # torch's, from our line
    assert torchs == f"mfdiff: UserWarning from {own}:3: size\n"
    other = cli._one_line_warning("old", DeprecationWarning, "/site/numpy/core.py", 7)
    assert other == "mfdiff: DeprecationWarning from /site/numpy/core.py:7: old\n"
    before = warnings.formatwarning
    assert cli.main(["env", "demo", "--n-agents", "9", "--steps", "1"]) == 0
    assert warnings.formatwarning is before
