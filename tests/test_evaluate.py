"""The evaluation harness: statistics on known inputs, records of real rollouts, a tiny sweep,
tables/plots, and the ``mfdiff eval`` command in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from mfdiff_agents import evaluation as ev
from mfdiff_agents.checkpoint import CheckpointError
from mfdiff_agents.evaluation import sweep as sweep_mod
from mfdiff_agents.methods import load_policy
from mfdiff_agents.policy import Policy, RandomPolicy
from mfdiff_envs.scoring import normalized_score

torch.set_num_threads(1)

ENV = "mfdiff/GaussianSqueeze-v0"


# --------------------------------------------------------------------------- statistics
def test_iqm_hand_values():
    # 8 values: the 2 lowest and 2 highest are trimmed -> mean(2, 3, 4, 5)
    assert ev.iqm([7, 0, 5, 1, 6, 2, 4, 3]) == pytest.approx(3.5)
    # outliers do not move the IQM: middle half of [-100, 1, 2, 3, 4, 5, 6, 1000] = 2..5
    assert ev.iqm([-100, 1, 2, 3, 4, 5, 6, 1000]) == pytest.approx(3.5)
    # 4 values: trim one each side
    assert ev.iqm([10, 0, 4, 2]) == pytest.approx(3.0)


def test_bootstrap_ci_and_summary():
    x = np.array([1.0, 2.0, 3.0, 4.0, 10.0])
    s = ev.summarize(x)
    assert s["mean"] == pytest.approx(4.0)
    assert s["n"] == 5
    assert s["std"] == pytest.approx(np.std(x, ddof=1))
    assert s["iqm"] == pytest.approx(3.0)  # trim_mean(.25) of 5 values drops 1 each side
    assert x.min() <= s["ci_low"] < s["mean"] < s["ci_high"] <= x.max()
    # deterministic (fixed bootstrap seed)
    assert ev.summarize(x) == s
    # degenerate inputs collapse to the point value
    assert ev.bootstrap_ci([5.0, 5.0, 5.0]) == (5.0, 5.0)
    assert ev.bootstrap_ci([2.0]) == (2.0, 2.0)
    # the order the runs were recorded in does not move the interval (lanes, resumed sweeps)
    z = [5.1, 9.5, 1.4, 9.5, 3.1, 4.2]  # unsorted, the old code gave 3.15 vs 3.1 reversed
    assert ev.bootstrap_ci(z) == ev.bootstrap_ci(z[::-1]) == ev.bootstrap_ci(sorted(z))
    # the percentile interval of the mean of a large symmetric sample ~ mean ± 1.96 sd/sqrt(n)
    y = np.random.default_rng(0).normal(0, 1, 400)
    lo, hi = ev.bootstrap_ci(y)
    half = 1.96 * y.std(ddof=1) / np.sqrt(y.size)
    assert lo == pytest.approx(y.mean() - half, abs=0.03)
    assert hi == pytest.approx(y.mean() + half, abs=0.03)


def test_aggregate_groups_and_metrics():
    recs = []
    for method, base in (("a", 10.0), ("b", 50.0)):
        for n in (10, 100):
            for seed in range(4):
                recs.append({"method": method, "env_id": ENV, "n_agents": n, "tier": "medium",
                             "seed": seed, "normalized_score": base + seed + n / 10,
                             "metrics_mean": {"optimum_gap": 0.1 * seed}})
    agg = ev.aggregate(recs)
    assert len(agg) == 4
    a10 = next(g for g in agg if g["method"] == "a" and g["n_agents"] == 10)
    assert a10["n"] == 4
    assert a10["mean"] == pytest.approx(np.mean([11, 12, 13, 14]))
    assert a10["iqm"] == pytest.approx(np.mean([12, 13]))
    gap = ev.aggregate(recs, metric="metrics_mean.optimum_gap", by=("method",))
    assert [g["mean"] for g in gap] == pytest.approx([0.15, 0.15])
    assert ev.aggregate(recs, metric="missing") == []


def test_normalized_score_formula():
    np.testing.assert_allclose(normalized_score([0.0, 5.0, 10.0], 0.0, 10.0), [0, 50, 100])
    with pytest.raises(ValueError):
        normalized_score([1.0], 2.0, 2.0)


# --------------------------------------------------------------------------- rollouts
class ConstantPolicy(Policy):
    def __init__(self, level: int, **kw):
        super().__init__(**kw)
        self.level = level

    def _act(self, obs, mask):
        return np.full(obs.shape[0], self.level)


def test_evaluate_records_known_return():
    """Every agent plays level 4 (N=20, mu=80, sigma=40): the team reward is G(80)/20 per step."""
    from mfdiff_envs.squeeze import squeeze_optimum, squeeze_reward

    n, T = 20, 3
    pol = ConstantPolicy(4, obs_dim=11, n_actions=10)
    kw = {"n_agents": n, "max_cycles": T, "mu": 80.0, "sigma": 40.0}
    recs = ev.evaluate(pol, ENV, kw, seeds=[0, 1], episodes=2,
                       method="const", ref_scores=(0.0, 100.0), tier="expert")
    assert len(recs) == 2
    per_step = squeeze_reward(80.0, 80.0, 40.0) / n
    for r in recs:
        assert r["returns"] == pytest.approx([T * per_step] * 2)
        assert r["normalized_score"] == pytest.approx(T * per_step)
        assert r["steps"] == 2 * T
        assert r["n_agents"] == n and r["method"] == "const" and r["tier"] == "expert"
        assert r["latency_ms"] >= 0 and r["wall_seconds"] > 0
        opt = squeeze_reward(squeeze_optimum(80.0, 40.0), 80.0, 40.0) / n
        assert r["optimum_gap"] == pytest.approx(1 - per_step / opt)  # level 4 vs x*/N = 4.449
        assert r["git_commit"]
        json.dumps(r)  # JSON serialisable


def test_evaluate_refuses_episodes_that_would_repeat_the_next_seeds(monkeypatch):
    """Episode e of seed s plays seed 1000 s + e: with 1001 episodes, seed 0's last would be
    seed 1's first, counted as independent (an outside audit's find): refused, 1000 allowed
    (checked at a patched bound of 3, the seeding and the check reading the same constant)."""
    from mfdiff_agents.evaluation import run

    assert run.MAX_EPISODES == 1000 and run.episode_seed(0, 1000) == run.episode_seed(1, 0)
    pol = ConstantPolicy(4, obs_dim=11, n_actions=10)
    kw = {"n_agents": 5, "max_cycles": 1}
    with pytest.raises(ValueError, match="at most 1000"):
        ev.evaluate(pol, ENV, kw, seeds=[0], episodes=1001, ref_scores=(0.0, 1.0))
    monkeypatch.setattr(run, "MAX_EPISODES", 3)
    assert run.episode_seed(0, 3) == run.episode_seed(1, 0)
    with pytest.raises(ValueError, match="at most 3"):
        ev.evaluate(pol, ENV, kw, seeds=[0], episodes=4, ref_scores=(0.0, 1.0))
    rec, = ev.evaluate(pol, ENV, kw, seeds=[0], episodes=3, ref_scores=(0.0, 1.0),
                       progress=False)
    assert len(rec["returns"]) == 3


def test_evaluate_checks_a_policy_against_the_env_once():
    """One policy over several seeds: checked (and any env-mismatch warning shown) once, not
    once per seed; a factory's fresh policy per seed is checked each time."""
    calls = []

    class Checked(RandomPolicy):
        def check_env(self, core):
            calls.append(core)

    kw = {"n_agents": 10, "max_cycles": 2}
    ev.evaluate(Checked(obs_dim=11, n_actions=10), ENV, kw, [0, 1, 2], ref_scores=(0.0, 1.0))
    assert len(calls) == 1
    ev.evaluate(lambda core, seed: Checked(obs_dim=11, n_actions=10), ENV, kw, [0, 1],
                ref_scores=(0.0, 1.0))
    assert len(calls) == 3


def test_evaluate_is_seeded_and_factory_policies():
    kw = {"n_agents": 30, "max_cycles": 4}
    p = RandomPolicy(obs_dim=11, n_actions=10)
    r1 = ev.evaluate(p, ENV, kw, [3], ref_scores=(0.0, 1.0))
    r2 = ev.evaluate(p, ENV, kw, [3], ref_scores=(0.0, 1.0))
    assert r1[0]["returns"] == r2[0]["returns"]
    from mfdiff_agents.baselines.scripted import make_scripted

    rec = ev.evaluate(lambda core, seed: make_scripted("expert", core, seed=seed), ENV, kw, [0],
                      method="expert")[0]
    # default reference scores: random = 0, expert = 100 (measured like the dataset builder)
    assert rec["ref_min"] < rec["ref_max"]
    assert rec["optimum_gap"] < 0.05


def test_random_policy_scores_zero_on_ising():
    """The random baseline is normalised 0 by definition (the reference is measured with the
    policy on its own seed). Evaluation plays env and policy at one seed, and the Ising core's
    initial spins are ``default_rng(seed).integers(0, 2, N)``: a random policy on that stream
    flipped exactly the +1 spins, ordering the lattice in one step (normalised 2-5)."""
    from mfdiff_agents.evaluation.run import make_core
    from mfdiff_envs.rollout import rollout

    kw = {"n_agents": 121, "max_cycles": 15}
    core = make_core("mfdiff/Ising-v0", kw)
    spins, _ = core.reset(seed=4)
    pol = RandomPolicy(obs_dim=core.obs_dim, n_actions=2)
    pol.reset(seed=4)
    first = pol.act_batch(spins)
    assert not np.array_equal(first, (spins[:, 0] > 0).astype(np.int64))  # not the env's draw
    xi = [rollout(core, pol, seed=s).metrics_final["order_parameter"] for s in range(8)]
    assert np.mean(xi) < 0.3  # random play stays disordered (the shared stream gave 0.9-1.0)
    recs = ev.evaluate(RandomPolicy(obs_dim=core.obs_dim, n_actions=2), "mfdiff/Ising-v0", kw,
                       list(range(12)), ref_scores=(0.0, 1.0))
    mean_return = np.mean([r["return"] for r in recs])
    assert abs(mean_return) < 1.0, mean_return  # the shared stream: ~1.9 at this N


def test_a_policy_of_your_own_does_not_draw_the_envs_noise():
    """An outside audit: a user's Policy subclass drawing ``self.rng.integers(0, 2, N)`` got
    exactly Ising's initial spins (env and policy reset with one seed, both on
    ``default_rng(seed)``) and scored 1.4 where random scores 0. Every Policy now samples on its
    own stream; the package's trained policies keep ``default_rng(seed)`` (their records replay;
    measured harmless in docs/results/shared_seed.md), RandomPolicy its key of before."""
    from mfdiff_agents.evaluation.run import make_core
    from mfdiff_agents.policy import POLICY_STREAM, RANDOM_STREAM
    from mfdiff_agents.trained import TrainedPolicy

    class CoinFlips(Policy):
        def __init__(self):
            super().__init__(obs_dim=4, n_actions=2)

        def _act(self, obs, mask):
            return self.rng.integers(0, 2, size=len(obs))

    core = make_core("mfdiff/Ising-v0", {"n_agents": 100, "max_cycles": 10})
    for seed in range(5):
        spins, _ = core.reset(seed=seed)
        pol = CoinFlips()
        pol.reset(seed=seed)
        flips = pol.act_batch(spins)
        env_draw = np.random.default_rng(seed).integers(0, 2, size=100)
        assert not np.array_equal(flips, env_draw)
        assert np.array_equal(flips, np.random.default_rng([seed, POLICY_STREAM]).integers(
            0, 2, size=100))  # seeded: the same seed gives the same actions
    assert TrainedPolicy.rng_stream is None and RandomPolicy.rng_stream == RANDOM_STREAM
    rnd = RandomPolicy(obs_dim=4, n_actions=2, seed=3)
    assert np.array_equal(rnd.act_batch(spins),
                          np.random.default_rng([3, RANDOM_STREAM]).integers(0, 2, size=100))



def test_probabilities_returned_as_actions_are_refused():
    """An outside audit: a policy returning P(flip) (0.9 / 0.1) was cast to int64, every agent
    played 0, and the episode scored ~0 without a word — through Policy.act_batch and through
    rollout (which takes any object with reset + act_batch). Whole floats and booleans pass."""
    from mfdiff_agents.evaluation.run import make_core
    from mfdiff_envs.rollout import rollout

    class Prob(Policy):
        def __init__(self, out):
            super().__init__(obs_dim=4, n_actions=2)
            self.out = out

        def _act(self, obs, mask):
            return self.out(obs)

    core = make_core("mfdiff/Ising-v0", {"n_agents": 25, "max_cycles": 3})
    obs, _ = core.reset(seed=0)
    with pytest.raises(ValueError, match="non-integer actions"):
        Prob(lambda o: np.where(o[:, 0] > 0, 0.9, 0.1)).act_batch(obs)
    whole = Prob(lambda o: (o[:, 0] > 0).astype(np.float32)).act_batch(obs)
    assert whole.dtype == np.int64 and np.array_equal(whole, (obs[:, 0] > 0).astype(np.int64))
    assert np.array_equal(Prob(lambda o: o[:, 0] > 0).act_batch(obs), whole)

    class Duck:  # not a Policy: rollout casts what it returns
        def reset(self, seed=None):
            pass

        def act_batch(self, obs, mask=None):
            return np.full(len(obs), 0.7)

    with pytest.raises(ValueError, match="Duck.act_batch returned non-integer"):
        rollout(core, Duck(), seed=0)

    class DeadNaN(Duck):  # what dead agents get is not read (a review: it was refused)
        def act_batch(self, obs, mask=None):
            return np.where(mask, 1.0, np.nan)

    battle = make_core("mfdiff/Battle-v0", {"n_agents": 20, "max_cycles": 30})
    assert rollout(battle, DeadNaN(), seed=0).steps > 0 and not battle.alive.all()
    for ok in (np.array([1, 0] * 10, np.int32), np.ones(20, np.uint8), [1] * 20,
               np.array([1] * 20, dtype=object), torch.ones(20, dtype=torch.long)):
        assert np.array_equal(Prob(lambda o, ok=ok: ok).act_batch(np.zeros((20, 4), np.float32)),
                              np.asarray(ok if not torch.is_tensor(ok) else ok.numpy(), np.int64))


def test_evaluate_takes_any_object_that_acts():
    """An outside audit: an object with reset + act_batch (what rollout plays) was called as a
    factory ("object is not callable"), a torch module the same way (an error from forward)."""
    class Duck:
        def reset(self, seed=None):
            pass

        def act_batch(self, obs, mask=None):
            return (obs[:, 0] < 0).astype(np.int64)

    kw = {"n_agents": 25, "max_cycles": 4}
    recs = ev.evaluate(Duck(), "mfdiff/Ising-v0", kw, [0, 1], ref_scores=(0.0, 1.0),
                       exploitability=True)
    assert [r["method"] for r in recs] == ["Duck", "Duck"]
    assert all(np.isfinite(r["exploitability"]) for r in recs)
    with pytest.raises(TypeError, match="torch module .* is not a policy"):
        ev.evaluate(torch.nn.Linear(4, 2), "mfdiff/Ising-v0", kw, [0], ref_scores=(0.0, 1.0))
    with pytest.raises(TypeError, match="factory returned int"):
        ev.evaluate(lambda core, seed: 3, "mfdiff/Ising-v0", kw, [0], ref_scores=(0.0, 1.0))

    class Flip(Policy):  # a Policy class is a factory (core, seed) -> Policy, as before
        def __init__(self, core, seed):
            super().__init__(obs_dim=core.obs_dim, n_actions=core.n_actions, seed=seed)

        def _act(self, obs, mask):
            return np.ones(len(obs), np.int64)

    (rec,) = ev.evaluate(Flip, "mfdiff/Ising-v0", kw, [0], ref_scores=(0.0, 1.0))
    assert rec["method"] == "Flip" and rec["policy_class"].endswith("Flip")

# --------------------------------------------------------------------------- sweep, tables, plots
def _sweep_spec(seeds=3):
    return {"seeds": seeds, "episodes": 1, "runs": [
        {"policy": "random", "env": ENV, "n_agents": [10, 40], "env_kwargs": {"max_cycles": 3},
         "tier": "random"},
        {"policy": "expert", "env": ENV, "n_agents": [10, 40], "env_kwargs": {"max_cycles": 3},
         "tier": "expert"},
    ]}


def test_tiny_sweep_aggregates_and_reports(tmp_path):
    (tmp_path / "sweep.json").write_text(json.dumps(_sweep_spec()))
    spec = ev.load_sweep(tmp_path / "sweep.json")
    recs = ev.run_sweep(spec, out=tmp_path / "r.jsonl", progress=False)
    assert len(recs) == 2 * 2 * 3
    assert ev.read_jsonl(tmp_path / "r.jsonl") == json.loads(json.dumps(recs))
    import gzip  # the records committed beside the results are gzip-compressed

    (tmp_path / "r.jsonl.gz").write_bytes(gzip.compress((tmp_path / "r.jsonl").read_bytes()))
    assert ev.read_records(tmp_path / "r.jsonl.gz") == ev.read_records(tmp_path / "r.jsonl")
    agg = ev.aggregate(recs)
    assert len(agg) == 4 and all(g["n"] == 3 for g in agg)
    for g in agg:
        vals = [r["normalized_score"] for r in recs
                if (r["method"], r["n_agents"]) == (g["method"], g["n_agents"])]
        assert g["mean"] == pytest.approx(np.mean(vals))
        assert g["iqm"] == pytest.approx(ev.iqm(vals))
    paths = ev.write_report(recs, tmp_path / "report", name="tiny",
                            command="mfdiff eval --sweep sweep.json")
    md = paths["table"].read_text()
    assert "mfdiff eval --sweep sweep.json" in md and "| random |" in md and "| expert |" in md
    for k in ("score_vs_n", "latency_vs_n", "score_by_tier"):
        assert paths[k].stat().st_size > 1000
        assert paths[k].read_bytes()[:4] == b"\x89PNG"
    # the same name again from one N and one tier: the plots that no longer apply go (an
    # outside audit found them left beside the new table)
    one = [r for r in recs if r["n_agents"] == 10 and r["method"] == "random"]
    again = ev.write_report(one, tmp_path / "report", name="tiny", command="x")
    assert set(again) == {"table"}
    assert sorted(p.name for p in (tmp_path / "report").iterdir()) == ["tiny.md"]


def test_sweep_file_rejects_typos(tmp_path):
    spec = _sweep_spec()
    spec["runs"][0]["n_agent"] = 3
    (tmp_path / "s.json").write_text(json.dumps(spec))
    with pytest.raises(ValueError, match="n_agent"):
        ev.load_sweep(tmp_path / "s.json")
    (tmp_path / "s.toml").write_text('seeds = 2\nrunz = 1\n')
    with pytest.raises(ValueError, match="runz"):
        ev.load_sweep(tmp_path / "s.toml")
    spec = _sweep_spec()
    spec["runs"][0]["env_kwargs"] = {"n_agents": 50}  # would silently lose to the run's n_agents
    (tmp_path / "n.json").write_text(json.dumps(spec))
    with pytest.raises(ValueError, match="n_agents only"):
        ev.load_sweep(tmp_path / "n.json")


def test_load_policy_errors(tmp_path):
    with pytest.raises(CheckpointError, match="neither"):
        load_policy(tmp_path / "nope")


def test_cli_eval_subprocess(tmp_path):
    out = tmp_path / "res.jsonl"
    cmd = [sys.executable, "-m", "mfdiff", "eval", "--policy", "random", "--env", ENV,
           "--n-agents", "20", "--seeds", "2", "--env-kwargs", '{"max_cycles": 3}',
           "--out", str(out), "--no-progress", "--report-dir", str(tmp_path / "rep")]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    recs = ev.read_jsonl(out)
    assert len(recs) == 2 and {r["seed"] for r in recs} == {0, 1}
    assert "| random |" in res.stdout
    assert (tmp_path / "rep" / "eval.md").is_file()


def test_video_records_every_step(tmp_path, capsys):
    from PIL import Image

    from mfdiff.cli import main

    assert main(["eval", "--policy", "expert", "--env", "mfdiff/Ising-v0", "--n-agents", "64",
                 "--seeds", "1", "--env-kwargs", '{"max_cycles": 6}', "--no-progress",
                 "--video", str(tmp_path)]) == 0
    gif = tmp_path / "expert-Ising-v0-n64.gif"
    assert f"video: {gif}" in capsys.readouterr().out
    with Image.open(gif) as im:
        assert im.n_frames == 7  # one frame before each of the 6 actions, one after the last
    with pytest.warns(UserWarning, match="replacing"):  # never a silent overwrite
        main(["eval", "--policy", "random", "--env", "mfdiff/Ising-v0", "--n-agents", "64",
              "--seeds", "1", "--env-kwargs", '{"max_cycles": 2}', "--no-progress",
              "--video", str(tmp_path)])
        main(["eval", "--policy", "random", "--env", "mfdiff/Ising-v0", "--n-agents", "64",
              "--seeds", "1", "--env-kwargs", '{"max_cycles": 2}', "--no-progress",
              "--video", str(tmp_path)])
    # a render mode evaluation would ignore is refused (one line, exit 2)
    assert main(["eval", "--policy", "random", "--env", "mfdiff/Ising-v0", "--n-agents", "64",
                 "--env-kwargs", '{"render_mode": "human"}', "--no-progress"]) == 2
    assert "--video" in capsys.readouterr().err


def test_sweep_resume_keeps_done_groups_and_drops_stale_ones(tmp_path, monkeypatch, capsys):
    """--resume: complete groups are not re-run, a changed run is re-run and its old records
    dropped, and the file holds what a fresh run of the new sweep writes, in its order."""
    def strip(recs):  # timing and provenance fields differ run to run
        drop = {"wall_seconds", "latency_ms", "time", "git_commit"}
        return [json.dumps({k: v for k, v in r.items() if k not in drop}, sort_keys=True)
                for r in recs]

    out = tmp_path / "r.jsonl"
    ev.run_sweep(_sweep_spec(), out=out, progress=False)
    new = _sweep_spec()
    new["runs"][1]["n_agents"] = [10, 20]  # expert at 40 becomes stale, expert at 20 is new
    calls = []
    real = sweep_mod.evaluate
    monkeypatch.setattr(sweep_mod, "evaluate",
                        lambda *a, **k: calls.append(a[2]["n_agents"]) or real(*a, **k))
    recs = ev.run_sweep(new, out=out, progress=False, resume=True)
    assert calls == [20]  # only the missing group ran
    fresh = ev.run_sweep(new, out=tmp_path / "fresh.jsonl", progress=False)
    assert strip(ev.read_jsonl(out)) == strip(fresh) == strip(recs)
    # an interrupted group (fewer records than seeds) is re-run
    lines = out.read_text().splitlines()
    out.write_text("\n".join(lines[:-1]) + "\n")
    calls.clear()
    ev.run_sweep(new, out=out, progress=False, resume=True)
    assert len(calls) == 1 and strip(ev.read_jsonl(out)) == strip(fresh)
    # the same runs listed in another order: nothing re-runs, the file follows the sweep's order
    swapped = {**new, "runs": new["runs"][::-1]}
    calls.clear()
    capsys.readouterr()
    ev.run_sweep(swapped, out=out, progress=False, resume=True)
    assert calls == []
    # a resume with nothing left to do says so (it looked like a sweep that ran)
    assert f"{out} holds 4 of the sweep's 4 (run, N) groups complete; evaluating 0" in \
        capsys.readouterr().err
    fresh_swapped = ev.run_sweep(swapped, out=tmp_path / "fresh2.jsonl", progress=False)
    assert strip(ev.read_jsonl(out)) == strip(fresh_swapped) != strip(fresh)


def test_sweep_exploitability_flag(tmp_path, monkeypatch):
    """A run with exploitability = true carries the Nash gap and a resume key of its own: the
    same run without it is re-evaluated, not mistaken for done."""
    spec = {"seeds": 2, "runs": [{"policy": "expert", "env": ENV, "n_agents": 20,
                                  "env_kwargs": {"max_cycles": 3}, "exploitability": True}]}
    out = tmp_path / "r.jsonl"
    recs = ev.run_sweep(spec, out=out, progress=False)
    assert len(recs) == 2 and all("exploitability" in r for r in recs)
    assert all(r["config"]["exploitability"] is True for r in recs)
    calls = []
    real = sweep_mod.evaluate
    monkeypatch.setattr(sweep_mod, "evaluate",
                        lambda *a, **k: calls.append(k["exploitability"]) or real(*a, **k))
    ev.run_sweep(spec, out=out, progress=False, resume=True)
    assert calls == []  # done
    plain = {**spec, "runs": [{k: v for k, v in spec["runs"][0].items()
                               if k != "exploitability"}]}
    recs = ev.run_sweep(plain, out=out, progress=False, resume=True)
    assert calls == [False] and not any("exploitability" in r for r in recs)
    bad = {**spec, "runs": [{**spec["runs"][0], "exploitability": "yes"}]}
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(ValueError, match="exploitability"):
        ev.load_sweep(tmp_path / "bad.json")


def test_sweep_resume_counts_a_refused_group_as_done(tmp_path, monkeypatch):
    """A (run, N) the policy refused leaves one error record; resume does not re-run it."""
    from mfdiff_agents.policy import PopulationTooLargeError

    spec = {"seeds": 2, "runs": [{"policy": "random", "env": ENV, "n_agents": 20,
                                  "env_kwargs": {"max_cycles": 3}}]}
    calls = []

    def refuse(*a, **k):
        calls.append(a[2]["n_agents"])
        raise PopulationTooLargeError("too many agents")

    monkeypatch.setattr(sweep_mod, "evaluate", refuse)
    out = tmp_path / "r.jsonl"
    recs = ev.run_sweep(spec, out=out, progress=False)
    assert len(recs) == 1 and "error" in recs[0] and calls == [20]
    ev.run_sweep(spec, out=out, progress=False, resume=True)
    assert calls == [20] and len(ev.read_jsonl(out)) == 1


def test_sweep_refuses_a_run_listed_twice(tmp_path):
    """Outside audit: n_agents = [50, 50] evaluated the group twice and the sweep's own table
    showed twice the seeds (a report of its records refused them)."""
    spec = {"seeds": 2, "runs": [{"policy": "random", "env": ENV, "n_agents": [10, 10],
                                  "env_kwargs": {"max_cycles": 3}}]}
    with pytest.raises(ValueError, match=r"more than once: \['random at N = 10'\]"):
        ev.run_sweep(spec, progress=False)
    twice = {"seeds": 2, "runs": [spec["runs"][0] | {"n_agents": 10}] * 2}
    with pytest.raises(ValueError, match="more than once"):
        ev.run_sweep(twice, progress=False)


def test_sweep_refuses_one_label_measured_two_ways_before_playing(tmp_path, monkeypatch):
    """An audit's leftover (fifty-sixth update): one label at one N with two settings, in one
    sweep or against what --out holds, was played in full and then every report of the records
    refused it. Both are refused before anything is played; labelled apart, both run."""
    run = {"policy": "random", "env": ENV, "n_agents": 10, "env_kwargs": {"max_cycles": 2}}
    other = {**run, "env_kwargs": {"max_cycles": 3}}
    out = tmp_path / "r.jsonl"
    ev.run_sweep({"seeds": 1, "runs": [run]}, out=out, progress=False)
    held = out.read_text()
    calls = []
    real = sweep_mod.evaluate
    monkeypatch.setattr(sweep_mod, "evaluate", lambda *a, **k: calls.append(a) or real(*a, **k))
    with pytest.raises(ValueError, match="conflict among themselves.*own label"):
        ev.run_sweep({"seeds": 1, "runs": [run, {**other, "seeds": [1]}]}, out=None,
                     progress=False)
    with pytest.raises(ValueError, match=f"{out.name} holds records.*own label"):
        ev.run_sweep({"seeds": [1], "runs": [other]}, out=out, progress=False)
    assert not calls and out.read_text() == held
    ev.run_sweep({"seeds": [1], "runs": [{**other, "label": "random, 3 steps"}]}, out=out,
                 progress=False)
    assert len(calls) == 1
    assert {r["method"] for r in ev.read_records(out)} == {"random", "random, 3 steps"}
    # a row the file already gets refused for (A measured two ways, e.g. files joined by
    # hand) does not switch the check off for the others (an outside review)
    joined = tmp_path / "joined.jsonl"
    joined.write_text(out.read_text() + "".join(
        json.dumps({**json.loads(line), "env_kwargs": {"max_cycles": 3, "n_agents": 10}}) + "\n"
        for line in held.splitlines()))
    with pytest.raises(ValueError, match="holds records.*'random, 3 steps'.*own label"):
        ev.run_sweep({"seeds": [2], "runs": [{**other, "label": "random, 3 steps",
                                              "env_kwargs": {"max_cycles": 4}}]},
                     out=joined, progress=False)
    # Battle's records count one team (n_agents 5 at N = 10): the probe must too
    battle = {"policy": "random", "env": "mfdiff/Battle-v0", "n_agents": 10,
              "env_kwargs": {"max_cycles": 2}}
    ev.run_sweep({"seeds": 1, "runs": [battle]}, out=out, progress=False)
    with pytest.raises(ValueError, match="holds records.*own label"):
        ev.run_sweep({"seeds": [1], "runs": [{**battle, "env_kwargs": {"max_cycles": 3}}]},
                     out=out, progress=False)


def test_another_process_measuring_a_label_otherwise_meanwhile_is_refused_at_append(
        tmp_path, monkeypatch):
    """An outside review: the check before playing cannot see what another process appends
    while this one plays; the append checks again under the file's lock, keeps this run's
    records beside the file and raises instead of leaving a file every report refuses."""
    run = {"policy": "random", "env": ENV, "n_agents": 10, "env_kwargs": {"max_cycles": 2}}
    out = tmp_path / "r.jsonl"
    real = sweep_mod.evaluate

    def meanwhile(*a, **k):  # the other process: the same label, another episode length
        ev.write_jsonl(real(RandomPolicy(obs_dim=11, n_actions=10), ENV,
                            {"max_cycles": 3, "n_agents": 10}, [3], 1, method="random",
                            config={"policy": "random", "set": {}}), out)
        return real(*a, **k)

    monkeypatch.setattr(sweep_mod, "evaluate", meanwhile)
    with pytest.raises(ValueError, match="another process appended.*kept in"):
        ev.run_sweep({"seeds": 1, "runs": [run]}, out=out, progress=False)
    (kept,) = tmp_path.glob("r.jsonl.refused-*.jsonl")
    assert [r["env_kwargs"]["max_cycles"] for r in ev.read_records(kept)] == [2]
    assert [r["env_kwargs"]["max_cycles"] for r in ev.read_records(out)] == [3]


def test_a_run_measured_again_with_its_nash_gap_is_the_same_run(tmp_path):
    """An outside review: the same (policy, settings, seed) with and without the exploitability
    measure plays the same seeded episodes; it was appended and pooled as more seeds."""
    run = {"policy": "random", "env": ENV, "n_agents": 10, "env_kwargs": {"max_cycles": 2}}
    out = tmp_path / "r.jsonl"
    recs = ev.run_sweep({"seeds": 1, "runs": [run]}, out=out, progress=False)
    with pytest.raises(ValueError, match="already holds records"):
        ev.run_sweep({"seeds": 1, "runs": [{**run, "exploitability": True}]}, out=out,
                     progress=False)
    with pytest.raises(ValueError, match="more than once"):
        ev.run_sweep({"seeds": 1, "runs": [run, {**run, "exploitability": True}]},
                     progress=False)
    gap = ev.run_sweep({"seeds": 1, "runs": [{**run, "exploitability": True}]}, progress=False)
    assert gap[0]["returns"] == recs[0]["returns"]  # the same episode
    joined = tmp_path / "j.jsonl"
    ev.write_jsonl([*recs, *gap], joined)
    with pytest.raises(ValueError, match="duplicate"):
        ev.read_records(joined)


def test_sweep_resume_says_what_it_drops_and_keeps_a_copy(tmp_path):
    """--resume rewrites --out with the sweep's runs only: records of other runs (a wrong --out)
    leave it with a warning, and the file as it was stays beside it as .bak."""
    out = tmp_path / "r.jsonl"
    ev.run_sweep(_sweep_spec(seeds=2), out=out, progress=False)
    before = out.read_text()
    one = {**_sweep_spec(seeds=2), "runs": _sweep_spec(seeds=2)["runs"][:1]}
    with pytest.warns(UserWarning, match=r"drops \d+ of its \d+ records"):
        ev.run_sweep(one, out=out, progress=False, resume=True)
    assert (tmp_path / "r.jsonl.bak").read_text() == before
    assert len(ev.read_jsonl(out)) < len(before.splitlines())
    # a second resume that drops records keeps the first backup (an outside audit lost the
    # records of a run dropped twice: the second backup overwrote the first)
    ev.run_sweep(_sweep_spec(seeds=2), out=out, progress=False, resume=True)  # the rest again
    middle = out.read_text()
    with pytest.warns(UserWarning, match=r"r\.jsonl\.bak1"):
        ev.run_sweep(one, out=out, progress=False, resume=True)
    assert (tmp_path / "r.jsonl.bak").read_text() == before
    assert (tmp_path / "r.jsonl.bak1").read_text() == middle


def test_records_gz_out_is_gzip_and_appends(tmp_path):
    """Outside audit: --out X.jsonl.gz wrote plain text, and appending to a real gzip file made
    it unreadable. A .gz path is written gzip; an append adds a member; resume keeps it gzip."""
    import gzip

    out = tmp_path / "r.jsonl.gz"
    spec = _sweep_spec(seeds=2)
    first = ev.run_sweep(spec, out=out, progress=False)
    with gzip.open(out, "rt") as f:
        assert len(f.read().splitlines()) == len(first)
    ev.write_jsonl(first[:1], out)
    assert len(ev.read_jsonl(out)) == len(first) + 1
    out2 = tmp_path / "s.jsonl.gz"
    ev.run_sweep(spec, out=out2, progress=False)
    ev.run_sweep(spec, out=out2, progress=False, resume=True)
    assert gzip.decompress(out2.read_bytes()) and len(ev.read_jsonl(out2)) == len(first)


def test_sweep_resume_re_evaluates_an_error_group_whose_checkpoint_changed(tmp_path,
                                                                          monkeypatch):
    """Outside audit: an error record (the policy refused the population) stood forever, even
    after its checkpoint was retrained in place (e.g. with a larger max_agents)."""
    from mfdiff_agents.policy import PopulationTooLargeError

    spec = {"seeds": 2, "runs": [{"policy": "random", "env": ENV, "n_agents": 10,
                                  "env_kwargs": {"max_cycles": 3}}]}
    ident = {"id": "old", "settings": "s"}
    monkeypatch.setattr(sweep_mod, "checkpoint_identity", lambda p: dict(ident))
    real = sweep_mod.evaluate
    monkeypatch.setattr(sweep_mod, "evaluate",
                        lambda *a, **k: (_ for _ in ()).throw(PopulationTooLargeError("big")))
    out = tmp_path / "r.jsonl"
    assert "error" in ev.run_sweep(spec, out=out, progress=False)[0]
    monkeypatch.setattr(sweep_mod, "evaluate", real)
    assert "error" in ev.run_sweep(spec, out=out, progress=False, resume=True)[0]  # unchanged
    ident["id"] = "retrained"
    with pytest.warns(UserWarning, match="1 to be re-evaluated"):
        recs = ev.run_sweep(spec, out=out, progress=False, resume=True)
    assert len(recs) == 2 and not any("error" in r for r in recs)


def test_read_records_refuses_a_run_counted_twice(tmp_path):
    """A lane file already merged into the main file must not double the seeds of a cell."""
    recs = ev.run_sweep(_sweep_spec(seeds=2), out=tmp_path / "a.jsonl", progress=False)
    ev.write_jsonl(recs[:1], tmp_path / "b.jsonl")
    assert len(ev.read_records(tmp_path / "a.jsonl")) == len(recs)
    with pytest.raises(ValueError, match="duplicate evaluation record"):
        ev.read_records(tmp_path / "a.jsonl", tmp_path / "b.jsonl")
    # another evaluation seed of the same run is a new measurement, not a duplicate
    other = {**recs[0], "seed": 99}
    ev.write_jsonl([other], tmp_path / "c.jsonl")
    assert len(ev.read_records(tmp_path / "a.jsonl", tmp_path / "c.jsonl")) == len(recs) + 1
    # error records carry no metrics: kept, never counted as duplicates
    err = {"method": "x", "env_id": ENV, "n_agents": 10, "error": "MemoryError: too big"}
    ev.write_jsonl([err, err], tmp_path / "e.jsonl")
    assert len(ev.read_records(tmp_path / "e.jsonl")) == 2


def test_eval_records_cli_refuses_duplicates(tmp_path, capsys):
    from mfdiff.cli import USAGE_ERROR, main

    ev.run_sweep(_sweep_spec(seeds=2), out=tmp_path / "a.jsonl", progress=False)
    rc = main(["eval", "--records", str(tmp_path / "a.jsonl"), str(tmp_path / "a.jsonl")])
    assert rc == USAGE_ERROR and "duplicate evaluation record" in capsys.readouterr().err


def test_held_out_exploitability_removes_the_selection_bias():
    """Leave-one-seed-out choice of the deviation: by hand on two seeds; on pure-noise gains
    (true gain 0 for every deviation) the per-seed maximum is biased upward, the held-out
    estimate is not; groups of one seed and records without gains pass through unchanged."""
    from mfdiff_agents.evaluation.stats import held_out_exploitability

    recs = [{"method": "m", "seed": s, "deviation_gains": g, "exploitability": max(g.values())}
            for s, g in enumerate([{"a": 3.0, "b": 0.0}, {"a": -1.0, "b": 1.0}])]
    out = held_out_exploitability(recs, by=("method",))
    # seed 0 is judged by the deviation best on seed 1 (b), seed 1 by seed 0's best (a)
    assert [r["exploitability_heldout"] for r in out] == [0.0, -1.0]
    assert [r["best_deviation_heldout"] for r in out] == ["b", "a"]
    assert "exploitability_heldout" not in recs[0]  # copies, inputs untouched

    rng = np.random.default_rng(0)
    noise = [{"method": "m", "deviation_gains": {f"d{j}": float(x) for j, x in enumerate(row)}}
             for row in rng.normal(size=(400, 8))]
    held = held_out_exploitability(noise, by=("method",))
    per_seed_max = np.mean([max(r["deviation_gains"].values()) for r in noise])
    held_mean = np.mean([r["exploitability_heldout"] for r in held])
    assert per_seed_max > 1.0 and abs(held_mean) < 0.2  # E[max of 8 N(0,1)] = 1.42

    # 3 training seeds share each evaluation seed's noise (the env seed, the deviators): leaving
    # out the run keeps its seed-mates in the choice, biased upward; leaving out the seed is not
    # (400 groups of 5 evaluation × 3 training seeds, as a table of 3 checkpoints on 5 seeds)
    shared = rng.normal(size=(400, 5, 1, 8)) + 0.3 * rng.normal(size=(400, 5, 3, 8))
    corr = [{"method": f"m{g}", "seed": s, "deviation_gains": {f"d{j}": float(x)
                                                              for j, x in enumerate(row)}}
            for g in range(400) for s in range(5) for row in shared[g, s]]
    by_run, by_seed = (np.mean([r["exploitability_heldout"] for r in
                                held_out_exploitability(corr, by=("method",), leave_out=lo)])
                       for lo in ("run", "seed"))
    assert by_run > 0.1 and abs(by_seed) < 0.15, (by_run, by_seed)
    one_each = corr[::3]  # one run a seed: the two choices are one
    assert (held_out_exploitability(one_each, by=("method",), leave_out="seed")
            == held_out_exploitability(one_each, by=("method",)))
    with pytest.raises(ValueError, match="leave_out"):
        held_out_exploitability(corr, leave_out="episode")
    one_seed = [r for r in corr[:15] if r["seed"] == 0]  # 3 training seeds, 1 evaluation seed
    with pytest.warns(UserWarning, match="one evaluation seed"):
        assert held_out_exploitability(one_seed, by=("method",), leave_out="seed") == one_seed

    lone = [{"method": "x", "deviation_gains": {"a": 1.0}}, {"method": "y", "return": 1.0}]
    assert held_out_exploitability(lone, by=("method",)) == lone
    with pytest.raises(ValueError, match="different deviation sets"):
        held_out_exploitability([{"method": "m", "deviation_gains": {"a": 1.0}},
                                 {"method": "m", "deviation_gains": {"b": 1.0}}], by=("method",))
    table = ev.markdown_table(out, command="c", by=("method",))
    assert "exploitability_heldout" in table and "leave one run out" in table
    assert "exploitability_pop" not in table  # only where records measured it

    # the population-baseline gains get their own held-out estimate, chosen on their own gains
    pops = [{**r, "deviation_gains_pop": g, "exploitability_pop": max(g.values())}
            for r, g in zip(recs, [{"a": 0.0, "b": 2.0}, {"a": 5.0, "b": 1.0}])]
    out = held_out_exploitability(pops, by=("method",))
    assert [r["exploitability_heldout"] for r in out] == [0.0, -1.0]  # unchanged
    assert [r["exploitability_pop_heldout"] for r in out] == [0.0, 1.0]
    assert [r["best_deviation_pop_heldout"] for r in out] == ["a", "b"]
    table = ev.markdown_table(out, command="c", by=("method",))
    assert "exploitability_pop_heldout" in table and "whole population" in table


def test_paired_by_seed_averages_training_seeds_then_pairs_evaluation_seeds():
    """Each evaluation seed counts once (the mean of its training seeds' runs); seeds one side
    lacks, or where a run lacks the metric, drop out."""
    from mfdiff_agents.evaluation.stats import paired_by_seed

    a = [{"seed": 0, "x": 1.0}, {"seed": 0, "x": 3.0}, {"seed": 1, "x": 5.0},
         {"seed": 2, "x": 9.0}, {"seed": 3, "x": 1.0}, {"seed": 3}]
    b = [{"seed": 0, "x": 1.0}, {"seed": 1, "x": 2.0}, {"seed": 1, "x": 4.0},
         {"seed": 3, "x": 0.0}]
    np.testing.assert_allclose(paired_by_seed(a, b, "x"), [1.0, 2.0])  # seeds 0 and 1
    np.testing.assert_allclose(paired_by_seed(b, a, "x"), [-1.0, -2.0])
    assert paired_by_seed(a, [], "x").size == 0


def test_sweep_resume_re_evaluates_a_group_whose_seeds_episodes_or_dataset_changed(
        tmp_path, monkeypatch):
    """--resume keeps a group only if it holds the sweep's seeds, episodes per seed and
    dataset: an edited ``seeds`` (fewer, other ones), ``episodes`` or ``dataset`` re-evaluates
    it (it kept the old records, still promising the file a fresh run would write)."""
    spec = {"seeds": 2, "runs": [{"policy": "expert", "env": ENV, "n_agents": 10,
                                  "env_kwargs": {"max_cycles": 3}}]}
    out = tmp_path / "r.jsonl"
    ev.run_sweep(spec, out=out, progress=False)
    calls = []
    real = sweep_mod.evaluate
    monkeypatch.setattr(sweep_mod, "evaluate",
                        lambda *a, **k: calls.append((list(a[3]), a[4])) or real(*a, **k))
    for edit, seeds, episodes in (({"seeds": [5, 6]}, [5, 6], 1), ({"seeds": 1}, [0], 1),
                                  ({"episodes": 3}, [0, 1], 3)):
        calls.clear()
        recs = ev.run_sweep({**spec, **edit}, out=out, progress=False, resume=True)
        assert calls == [(seeds, episodes)], edit
        assert sorted(r["seed"] for r in recs) == seeds and {r["episodes"] for r in recs} == {
            episodes}
        out.unlink()
        ev.run_sweep(spec, out=out, progress=False)  # back to the original file
    calls.clear()
    ev.run_sweep(spec, out=out, progress=False, resume=True)
    assert calls == []  # unchanged: done


def test_sweep_file_values_are_checked_not_coerced(tmp_path):
    """A sweep's seeds, episodes, n_agents, set and env_kwargs are refused unless they are what
    they say ("10" would run seeds "1", "0"; [0, 0] would count one episode twice; 20.7 agents
    would run 20), and a file that does not parse names itself."""
    base = {"runs": [{"policy": "random", "env": ENV, "n_agents": 10}]}
    bad = [({"seeds": "10"}, "seeds"), ({"seeds": [0, 0, 1]}, "distinct"),
           ({"seeds": 2.0}, "seeds"), ({"seeds": 0}, "seeds"), ({"episodes": 2.9}, "episodes"),
           ({"runs": [{**base["runs"][0], "n_agents": 20.7}]}, "n_agents"),
           ({"runs": [{**base["runs"][0], "n_agents": []}]}, "n_agents"),
           ({"runs": [{**base["runs"][0], "seeds": [1, 1]}]}, "distinct"),
           ({"runs": [{**base["runs"][0], "set": ["replan_every=4"]}]}, "set must be a table"),
           ({"runs": [{**base["runs"][0], "env_kwargs": 3}]}, "env_kwargs must be a table"),
           ({"runs": [{**base["runs"][0], "set": {"seed": 3}}]}, "would change nothing")]
    for edit, needle in bad:
        (tmp_path / "s.json").write_text(json.dumps({**base, **edit}))
        with pytest.raises(ValueError, match=needle):
            ev.load_sweep(tmp_path / "s.json")
    (tmp_path / "s.json").write_text(json.dumps({**base, "seeds": [3, 1], "episodes": 2}))
    assert ev.load_sweep(tmp_path / "s.json")["seeds"] == [3, 1]
    (tmp_path / "s.toml").write_text("seeds = = 2\n")
    with pytest.raises(ValueError, match=r"s\.toml: not valid TOML"):
        ev.load_sweep(tmp_path / "s.toml")
    (tmp_path / "s.yaml").write_text("seeds: 2\n")
    with pytest.raises(ValueError, match=r"s\.yaml: a sweep file is \.toml or \.json"):
        ev.load_sweep(tmp_path / "s.yaml")


def test_a_report_names_each_rows_acting_overrides():
    """A row whose runs acted with `--set` overrides (or a sweep's `set`) read as the
    checkpoint's own settings: the table lists them under it, per row (an outside review)."""
    def rec(method, seed, over, n=10):
        return {"method": method, "env_id": ENV, "n_agents": n, "env_kwargs": {"max_cycles": 3},
                "seed": seed, "episodes": 1, "normalized_score": 50.0 + seed, "return": 1.0,
                "config": {"policy": "p", "set": over}}

    recs = [rec("a", s, {"replan_every": "4"}) for s in range(2)] + [
        rec("a", s, {}, n=20) for s in range(2)] + [rec("b", s, {}) for s in range(2)]
    table = ev.markdown_table(recs, command="x")
    assert "Acting settings over each checkpoint's own" in table
    assert f"\n- a | {ENV} | 10: replan_every=4\n" in table
    assert table.count("replan_every") == 1  # the N = 20 row and b have none
    recs[0]["tier"] = recs[1]["tier"] = None
    recs[2]["tier"] = "medium"  # a tier column: a row without one shows "–", as in the table
    recs[0]["config"]["set"] = recs[1]["config"]["set"] = {"k_schedule": "8,16", "x": None}
    assert f"\n- a | {ENV} | 10 | –: k_schedule=8,16, x=null\n" in ev.markdown_table(
        recs, command="x")
    assert "Acting settings" not in ev.markdown_table(recs[2:], command="x")


def test_a_report_row_refuses_records_measured_with_other_settings(tmp_path):
    """Records under one method name at one (env, N, tier) but with other --set overrides or
    env kwargs would pool into one row whose mean describes no setting: refused, naming the
    fix; distinct labels give two rows. Files that are not records name file and line."""
    spec = {"seeds": 2, "runs": [
        {"policy": "random", "env": ENV, "n_agents": 10, "env_kwargs": {"max_cycles": 3}},
        {"policy": "random", "env": ENV, "n_agents": 10, "env_kwargs": {"max_cycles": 2}}]}
    recs = ev.run_sweep({**spec, "runs": spec["runs"][:1]}, progress=False) + ev.run_sweep(
        {**spec, "runs": spec["runs"][1:]}, progress=False)  # one sweep refuses them itself
    with pytest.raises(ValueError, match="own label"):
        ev.markdown_table(recs, command="x")
    spec["runs"][1]["label"] = "random, 2 steps"
    table = ev.markdown_table(ev.run_sweep(spec, progress=False), command="x")
    assert "| random, 2 steps |" in table and "| random |" in table
    (tmp_path / "bad.jsonl").write_text('{"method": "a", "env_id": "e", "n_agents": 1}\n{oops\n')
    with pytest.raises(ValueError, match=r"bad\.jsonl, line 2"):
        ev.read_records(tmp_path / "bad.jsonl")
    (tmp_path / "other.jsonl").write_text('{"hello": 1}\n')
    with pytest.raises(ValueError, match="not an evaluation record"):
        ev.read_records(tmp_path / "other.jsonl")


def test_training_seed_ci_covers_the_checkpoints_spread():
    """A method whose checkpoints differ: the paired CI over evaluation seeds (conditional on
    the checkpoints) is narrow and clear of 0, the training-seed CI (Welch over checkpoint
    means) covers 0 and equals the textbook interval; incomplete grids, disjoint seeds, one
    checkpoint a side and NaN are refused."""
    from scipy import stats as st

    from mfdiff_agents.evaluation.stats import bootstrap_ci, paired_by_seed, training_seed_ci

    rng = np.random.default_rng(0)

    def runs(method, ckpt_effects, seeds=range(10)):
        return [{"method": method, "seed": s, "config": {"policy": f"{method}-s{c}"},
                 "score": eff + 0.05 * rng.normal()}
                for c, eff in enumerate(ckpt_effects) for s in seeds]

    a, b = runs("A", [1.0, -1.0, 0.4]), runs("B", [0.0, 0.1, -0.1])
    d = paired_by_seed(a, b, "score")
    lo, hi = bootstrap_ci(d)
    assert lo > 0  # these three checkpoints are ahead ...
    mean, lo2, hi2, ca, cb, s = training_seed_ci(a, b, "score")
    assert (ca, cb, s) == (3, 3, 10) and mean == pytest.approx(d.mean())
    assert lo2 < 0 < hi2  # ... the method is not shown to be
    ma = [np.mean([r["score"] for r in a if r["config"]["policy"] == f"A-s{c}"]) for c in range(3)]
    mb = [np.mean([r["score"] for r in b if r["config"]["policy"] == f"B-s{c}"]) for c in range(3)]
    ref = st.ttest_ind(ma, mb, equal_var=False).confidence_interval(0.95)
    assert (lo2, hi2) == pytest.approx((ref.low, ref.high))
    with pytest.raises(ValueError, match="needs every checkpoint"):
        training_seed_ci(a[:-1], b, "score")
    with pytest.raises(ValueError, match="no evaluation seed"):
        training_seed_ci(a, runs("B", [0.0], seeds=range(20, 25)), "score")
    one = runs("B", [0.0])
    with pytest.raises(ValueError, match="at least 2"):
        training_seed_ci(a, one, "score")
    # a one-seed baseline taken as fixed: the CI is A's spread alone (one-sample t, df 2)
    m, lo3, hi3, *_ = training_seed_ci(a, one, "score", single_as_fixed=True)
    ref = st.ttest_1samp(np.array(ma) - np.mean([r["score"] for r in one]), 0.0)
    assert (lo3, hi3) == pytest.approx(tuple(ref.confidence_interval(0.95)))
    a[0]["score"] = float("nan")
    with pytest.raises(ValueError, match="non-finite"):
        training_seed_ci(a, b, "score")


def test_paired_differences_refuse_nan_and_unbalanced_checkpoints():
    """A NaN would give a CI of (nan, nan), read as a tie; a checkpoint measured on some seeds
    only weighs more in those seeds' means (the audit's reproducer: 3.00 against 1.67)."""
    from mfdiff_agents.evaluation.stats import bootstrap_ci, paired_by_seed, t_interval

    def run(ckpt, seed, x):
        return {"seed": seed, "config": {"policy": ckpt}, "x": x}

    a = [run(f"c{c}", s, 5.0 if c == 0 else 0.0) for c in range(3) for s in range(3)]
    a += [run("c0", s, 5.0) for s in (3, 4)]  # c0 alone on seeds 3-4
    b = [run("b", s, 0.0) for s in range(5)]
    with pytest.raises(ValueError, match="weigh the checkpoints unequally"):
        paired_by_seed(a, b, "x")
    np.testing.assert_allclose(paired_by_seed(a[:9], b, "x"), [5 / 3] * 3)  # balanced
    bad = [run("b", s, float("nan") if s == 1 else 0.0) for s in range(3)]
    for f in (lambda: paired_by_seed(a[:9], bad, "x"), lambda: bootstrap_ci([1.0, np.nan]),
              lambda: t_interval([1.0, np.inf])):
        with pytest.raises(ValueError, match="non-finite"):
            f()
    # the t-interval: scipy's, and the point where nothing varies
    x = [0.3, -0.1, 0.5, 0.2, 0.4]
    from scipy import stats as st

    assert t_interval(x) == pytest.approx(st.t.interval(0.95, 4, np.mean(x), st.sem(x)))
    assert t_interval([2.0, 2.0]) == (2.0, 2.0) and t_interval([1.0]) == (1.0, 1.0)


def test_plots_never_pool_tiers_envs_or_sizes(tmp_path):
    """A line (score vs N) per method and tier; a bar group (score by tier) per env and N: a
    mean of medium and mixed runs, or of two envs, is a score no policy has."""
    from mfdiff_agents.evaluation import report

    recs = [{"method": "m", "env_id": env, "n_agents": n, "tier": tier, "seed": s,
             "normalized_score": score}
            for env, tier, score in (("mfdiff/Ising-v0", "medium", 50.0),
                                     ("mfdiff/Ising-v0", "mixed", 100.0),
                                     ("mfdiff/GaussianSqueeze-v0", "medium", 10.0))
            for n in (100, 1000) for s in range(3)]

    class Ax:
        def __init__(self):
            self.lines = {}

        def errorbar(self, n, mean, **kw):
            self.lines[kw["label"]] = list(mean)

        def __getattr__(self, name):
            return lambda *a, **k: None

    ax = Ax()
    report._lines_vs_n(ax, [r for r in recs if r["env_id"] == "mfdiff/Ising-v0"],
                       "normalized_score")
    assert ax.lines == {"m, medium": [50.0, 50.0], "m, mixed": [100.0, 100.0]}
    ax = Ax()
    report._lines_vs_n(ax, recs, "normalized_score")
    assert ax.lines["m, medium, GaussianSqueeze-v0"] == [10.0, 10.0]
    heights = []
    real = report.plt_agg()

    class Plt:
        def subplots(self, *a, **k):
            fig, axis = real.subplots(*a, **k)
            bar = axis.bar
            axis.bar = lambda xs, ys, *a2, **k2: (heights.extend(ys), bar(xs, ys, *a2, **k2))
            return fig, axis

        def __getattr__(self, name):
            return getattr(real, name)

    orig = report.plt_agg
    report.plt_agg = lambda: Plt()
    try:
        report.plot_score_by_tier(recs, tmp_path / "t.png")
    finally:
        report.plt_agg = orig
    assert sorted(heights) == [10.0, 10.0, 50.0, 50.0, 100.0, 100.0]


def test_sweep_checks_every_run_before_evaluating_any(tmp_path, monkeypatch):
    """Outside audit: a typo in a late run's ``set`` surfaced only after the earlier runs were
    evaluated (hours, on a grid). Every run's policy and overrides are now checked first."""
    from conftest import squeeze_episodes

    from mfdiff_agents.methods import get_method
    from mfdiff_envs.offline.windows import WindowSampler

    bc = get_method("bc")
    sampler = WindowSampler(squeeze_episodes(10, 2, 5, skill=0.5), horizon=2, n_particles=4,
                            seed=0)
    cfg = bc.config(steps=2, batch_size=4, horizon=2, n_particles=4)
    bc.fit(sampler, cfg, progress=False).save(tmp_path / "bc")
    calls = []
    monkeypatch.setattr(sweep_mod, "evaluate", lambda *a, **k: calls.append(a) or [])
    first = {"policy": "random", "env": ENV, "n_agents": 10}
    for run, match in (
        ({"policy": str(tmp_path / "nowhere"), "env": ENV, "n_agents": 10}, "neither one of"),
        ({"policy": "expert", "env": ENV, "n_agents": 10, "set": {"temperature": 0.5}},
         "takes no settings"),
        ({"policy": str(tmp_path / "bc"), "env": ENV, "n_agents": 10,
          "set": {"temprature": 0.5}}, "temprature"),
        ({"policy": str(tmp_path / "bc"), "env": ENV, "n_agents": 10,
          "set": {"hidden": 8}}, "cannot be overridden"),
        # a new user's audit: the env, N and a checkpoint's family there came up only when the
        # run was reached
        ({"policy": str(tmp_path / "bc"), "env": "mfdiff/Ising-v0", "n_agents": 16},
         r"runs\[1\].*N = 16.*trained on family .squeeze."),
        ({"policy": "expert", "env": "mfdiff/Ising-v0", "n_agents": [16, 20]},
         r"runs\[1\].*N = 20"),
        ({"policy": "expert", "env": "mfdiff/Isng-v0", "n_agents": 16}, "Isng"),
        ({"policy": "expert", "env": ENV, "n_agents": 10, "env_kwargs": {"max_cylces": 3}},
         "max_cylces"),
    ):
        with pytest.raises(ValueError, match=match):
            ev.run_sweep({"seeds": 1, "runs": [first, run]}, out=None, progress=False)
        assert not calls  # nothing evaluated before the refusal
    ev.run_sweep({"seeds": 1, "runs": [first, {"policy": str(tmp_path / "bc"), "env": ENV,
                                                "n_agents": 10, "set": {"temperature": 0.5}}]},
                 out=None, progress=False)
    assert len(calls) == 2
    for key, match in (("device", "sweep's device key"), ("num_threads", "--threads")):
        (tmp_path / "s.json").write_text(json.dumps({"seeds": 1, "runs": [
            {**first, "set": {key: 1}}]}))
        with pytest.raises(ValueError, match=match):
            ev.load_sweep(tmp_path / "s.json")
    # a tier, as `mfdiff eval --tier`, is one of the catalogue's (review, forty-fourth update)
    (tmp_path / "s.json").write_text(json.dumps({"seeds": 1, "runs": [
        {**first, "tier": "mediun"}]}))
    with pytest.raises(ValueError, match=r"runs\[0\]\.tier must be one of .*'mediun'"):
        ev.load_sweep(tmp_path / "s.json")


def test_sweep_refuses_to_append_runs_its_out_file_holds_and_checks_datasets_first(tmp_path,
                                                                                   monkeypatch):
    """An audit of the forty-fourth update: a sweep re-run into its --out without --resume
    appended every run again (reports then refused the file), and a run's dataset that does not
    normalise its env failed only when that run was reached. Both are refused before anything
    is played; other seeds of the same run are appended as before. An unreadable records file
    is named in one line."""
    spec = {"seeds": 2, "runs": [{"policy": "random", "env": ENV, "n_agents": 10,
                                  "env_kwargs": {"max_cycles": 2}}]}
    out = tmp_path / "r.jsonl"
    ev.run_sweep(spec, out=out, progress=False)
    before = out.read_text()
    with pytest.raises(ValueError, match="already holds records of .'random at N = 10'.*--resume"):
        ev.run_sweep(spec, out=out, progress=False)
    assert out.read_text() == before
    ev.run_sweep({**spec, "seeds": [2, 3]}, out=out, progress=False)  # other seeds: appended
    assert sorted(r["seed"] for r in ev.read_records(out)) == [0, 1, 2, 3]
    calls = []
    monkeypatch.setattr(sweep_mod, "evaluate", lambda *a, **k: calls.append(a) or [])
    bad = {"policy": "random", "env": ENV, "n_agents": 10, "dataset": "mfdiff/squeeze-n7/medium-v0"}
    with pytest.raises(ValueError, match=r"runs\[1\].*squeeze-n7"):
        ev.run_sweep({"seeds": 1, "runs": [{**spec["runs"][0]}, bad]}, out=None, progress=False)
    assert not calls
    for name, data in (("t.jsonl.gz", b"\x1f\x8b\x08\x00" + b"x" * 30), ("b.jsonl", b"\xff\xfe")):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ValueError, match=f"{name}: not a readable records file"):
            ev.read_records(tmp_path / name)


def test_evaluate_refuses_seeds_it_would_miscount_and_bad_reference_scores():
    """Outside audit: seeds [0, 0, 1] made a table of 3 seeds with seed 0 counted twice, seed
    0.7 played seed 0, and reversed or NaN reference scores gave a wrong or NaN score."""
    pol = RandomPolicy(obs_dim=11, n_actions=10)
    kw = {"n_agents": 10, "max_cycles": 3}
    with pytest.raises(ValueError, match=r"seeds \[0\] given more than once"):
        ev.evaluate(pol, ENV, kw, [0, 0, 1])
    for bad in ([0.7], [-1], [True]):
        with pytest.raises(ValueError, match="non-negative integers"):
            ev.evaluate(pol, ENV, kw, bad)
    for ref in ((50.0, 0.0), (float("nan"), 1.0), (1.0, 1.0)):
        with pytest.raises(ValueError, match="ref_max > ref_min"):
            ev.evaluate(pol, ENV, kw, [0], ref_scores=ref)
    assert len(ev.evaluate(pol, ENV, kw, np.arange(2), ref_scores=(0.0, 1.0))) == 2


def test_a_set_value_is_one_setting_however_it_is_spelt():
    """Outside audit: --set temperature=2 then =2.0 appended the run twice (the duplicate check
    compared the strings) and the file was then refused as two settings."""
    from mfdiff_agents.evaluation.report import check_rows, seeds_already_in

    def rec(value):
        return {"method": "BC", "env_id": ENV, "env_kwargs": {"n_agents": 10}, "n_agents": 10,
                "tier": "medium", "seed": 0, "episodes": 1, "normalized_score": 1.0,
                "config": {"policy": "runs/bc", "set": {"temperature": value}}}

    check_rows([rec("2"), rec("2.0") | {"seed": 1}, rec(2) | {"seed": 2}])
    with pytest.raises(ValueError, match="different settings"):
        check_rows([rec("2"), rec("3") | {"seed": 1}])
    # the comma form build_config takes for tuple fields, and none / null (an outside review)
    check_rows([rec("8,8,4"), rec("[8, 8, 4]") | {"seed": 1}, rec([8, 8, 4]) | {"seed": 2}])
    check_rows([rec("none"), rec("null") | {"seed": 1}, rec(None) | {"seed": 2}])
    with pytest.raises(ValueError, match="different settings"):
        check_rows([rec("8,8,4"), rec("8,8") | {"seed": 1}])
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "r.jsonl"
        ev.write_jsonl([rec("2")], path)
        assert seeds_already_in(path, rec("2.0"), [0, 1]) == [0]
        assert seeds_already_in(path, rec("0.3"), [0]) == []


def test_eval_refuses_a_tier_its_checkpoint_contradicts(tmp_path):
    """Outside audit: `mfdiff eval --tier expert` of a checkpoint trained on medium data filed
    its row under expert; a sweep's `tier` the same."""
    from pathlib import Path

    golden = Path(__file__).resolve().parent / "golden" / "squeeze"
    from mfdiff_agents.checkpoint import EnvFacts, read_meta

    facts = EnvFacts(**read_meta(golden)["env"])
    facts.check_tier(None)
    moved = EnvFacts(**{**read_meta(golden)["env"], "dataset_id": "mfdiff/squeeze-n100/medium-v0"})
    moved.check_tier("medium")
    with pytest.raises(ValueError, match="tier 'medium'"):
        moved.check_tier("expert")
    EnvFacts(obs_dim=1, n_actions=2, dataset_id="my/own-data").check_tier("expert")


def test_evaluate_refuses_a_bad_deviation_fraction_before_playing():
    """An outside audit (typing): a fraction outside (0, 1] was refused by the first deviation
    episode, after the seed's own episodes, and accepted silently without exploitability; a
    duck-typed policy with check_env but no check_agents crashed."""
    played = []

    class Duck:
        def reset(self, seed=None):
            played.append(seed)

        def act_batch(self, obs, mask=None):
            return np.zeros(len(obs), np.int64)

    kw = {"n_agents": 25, "max_cycles": 4}
    for bad in (0.0, 1.5, float("nan"), True, "0.1"):
        with pytest.raises(ValueError, match="deviation_fraction must lie in"):
            ev.evaluate(Duck(), "mfdiff/Ising-v0", kw, [0], ref_scores=(0.0, 1.0),
                        exploitability=True, deviation_fraction=bad)
    with pytest.raises(ValueError, match="pass exploitability=True"):
        ev.evaluate(Duck(), "mfdiff/Ising-v0", kw, [0], ref_scores=(0.0, 1.0),
                    deviation_fraction=0.05)
    # Squeeze's gain is exact, with no deviators: a fraction was ignored silently (an outside
    # review, sixty-first update); the default is what Squeeze's records carry
    with pytest.raises(ValueError, match="no deviators, so deviation_fraction"):
        ev.evaluate(Duck(), "mfdiff/GaussianSqueeze-v0", {"n_agents": 20, "max_cycles": 2},
                    [0], ref_scores=(0.0, 1.0), exploitability=True, deviation_fraction=0.3)
    # given at the default's value it was still ignored there (sixty-second update): what is
    # given must apply, whatever its value
    with pytest.raises(ValueError, match="no deviators, so deviation_fraction"):
        ev.evaluate(Duck(), "mfdiff/GaussianSqueeze-v0", {"n_agents": 20, "max_cycles": 2},
                    [0], ref_scores=(0.0, 1.0), exploitability=True, deviation_fraction=0.01)
    with pytest.raises(ValueError, match="pass exploitability=True"):
        ev.evaluate(Duck(), "mfdiff/Ising-v0", kw, [0], ref_scores=(0.0, 1.0),
                    deviation_fraction=0.01)
    assert played == []
    checked = []

    class HalfChecked(Duck):
        def check_env(self, core):
            checked.append(core.family)

    (rec,) = ev.evaluate(HalfChecked(), "mfdiff/Ising-v0", kw, [0], ref_scores=(0.0, 1.0))
    assert checked == ["ising"] and rec["method"] == "HalfChecked"


def test_sweep_resume_keeps_what_another_process_appended_meanwhile(tmp_path, monkeypatch):
    """An outside audit: a resumed sweep rewrote its --out at the end from its own records,
    silently dropping every record another process (an `mfdiff eval --out`, a second sweep)
    had appended meanwhile. They stay now, after the sweep's own."""
    out = tmp_path / "r.jsonl"
    foreign = [{"method": "theirs", "env_id": ENV, "seed": s, "env_kwargs": {"n_agents": 7},
                "config": None, "normalized_score": 1.0} for s in range(2)]
    real = sweep_mod.evaluate

    def evaluate_while_another_appends(*a, **k):
        if foreign:
            ev.write_jsonl([foreign.pop()], out)
        return real(*a, **k)

    monkeypatch.setattr(sweep_mod, "evaluate", evaluate_while_another_appends)
    recs = ev.run_sweep(_sweep_spec(), out=out, progress=False, resume=True)
    held = ev.read_jsonl(out)
    assert [r["method"] for r in held].count("theirs") == 2
    mine = [r for r in held if r["method"] != "theirs"]
    assert len(mine) == len(recs) and held[:len(recs)] == mine  # the sweep's, in its order
    # and a group another process wrote meanwhile is not appended a second time
    out2 = tmp_path / "r2.jsonl"
    monkeypatch.setattr(sweep_mod, "evaluate", real)
    spec = {"seeds": 2, "runs": [{"policy": "random", "env": ENV, "n_agents": 20,
                                  "env_kwargs": {"max_cycles": 3}}]}
    twin = ev.run_sweep(spec, out=tmp_path / "twin.jsonl", progress=False)

    def evaluate_after_twin(*a, **k):
        ev.write_jsonl(twin, out2)  # the same run, finished first by another process
        return real(*a, **k)

    monkeypatch.setattr(sweep_mod, "evaluate", evaluate_after_twin)
    with pytest.warns(UserWarning, match="not appended twice"):
        ev.run_sweep(spec, out=out2, progress=False)
    assert len(ev.read_records(out2)) == 2


def _append_many(path: str, tag: str, n: int, pad: int, start) -> None:
    rng = np.random.default_rng(ord(tag))
    start.wait()
    for i in range(n):  # incompressible lines longer than a write buffer: appends overlap
        ev.write_jsonl([{"tag": tag, "i": i, "pad": rng.bytes(pad).hex()}], path)


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
def test_concurrent_appends_lose_nothing(tmp_path, suffix):
    """An outside audit: two processes appending to one .gz records file corrupted it whole
    (every record unreadable); appends run under the file's lock now."""
    import multiprocessing as mp

    path = str(tmp_path / f"r{suffix}")
    ctx = mp.get_context("spawn")
    start = ctx.Barrier(2)
    pad = 40_000 if suffix == ".jsonl" else 2_000
    procs = [ctx.Process(target=_append_many, args=(path, tag, 40, pad, start))
             for tag in "ab"]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    recs = ev.read_jsonl(path)
    assert sorted((r["tag"], r["i"]) for r in recs) == [(t, i) for t in "ab" for i in range(40)]
    before = open(path, "rb").read()
    with pytest.raises(TypeError):  # a record that cannot be written leaves the file as it was
        ev.write_jsonl([{"ok": 1}, {"bad": object()}], path)
    assert open(path, "rb").read() == before


def test_append_new_runs_skips_seeds_written_meanwhile(tmp_path):
    """`mfdiff eval --out` checks for the run before it plays and again, under the lock, as it
    appends: two identical evaluations started together both passed the first check and both
    appended, leaving a file every report refused."""
    kw = {"n_agents": 25, "max_cycles": 3}
    recs = ev.evaluate(RandomPolicy(obs_dim=4, n_actions=2), "mfdiff/Ising-v0", kw, [0, 1],
                       ref_scores=(0.0, 1.0), method="r")
    template = {k: recs[0][k] for k in ("method", "config", "env_id", "env_kwargs", "tier",
                                        "episodes")}
    out = tmp_path / "r.jsonl"
    assert ev.append_new_runs(recs[:1], out, template) == []
    assert ev.append_new_runs(recs, out, template) == [0]
    assert [r["seed"] for r in ev.read_records(out)] == [0, 1]


def test_a_scale_with_the_expert_not_above_random_gives_no_score():
    """An outside audit: at Battle N = 2 the scripted expert stands off (reference return
    below random's), so normalised scores read backwards (winners at -442); with tied
    references evaluate stopped with no returns at all. Both give NaN scores, said once."""
    def factory(core, seed):
        return RandomPolicy(obs_dim=core.obs_dim, n_actions=core.n_actions, seed=seed)

    for kw in ({"n_agents": 2}, {"n_agents": 4, "max_cycles": 1}):  # reversed, tied
        with pytest.warns(UserWarning, match="not above uniform random"):
            recs = ev.evaluate(factory, "mfdiff/Battle-v0", kw, [0, 1])
        assert recs[0]["ref_max"] <= recs[0]["ref_min"]
        assert all(np.isnan(r["normalized_score"]) and np.isfinite(r["return"]) for r in recs)


def test_no_scale_runs_through_a_sweep_and_its_table(tmp_path):
    """A review: a sweep passed its own references, which evaluate refuses when the expert is
    not above random (the sweep died hours in), and one NaN score broke every table of the
    file. Both go through now: the cell reads n/a."""
    spec = {"seeds": 2, "runs": [{"policy": "random", "env": "mfdiff/Battle-v0",
                                  "n_agents": [2, 10], "env_kwargs": {"max_cycles": 300}}]}
    out = tmp_path / "r.jsonl"
    with pytest.warns(UserWarning, match="not above uniform random"):
        recs = ev.run_sweep(spec, out=out, progress=False)
    by_n = {r["n_agents"]: r for r in recs}
    assert np.isnan(by_n[1]["normalized_score"]) and np.isfinite(by_n[5]["normalized_score"])
    table = ev.markdown_table(ev.read_records(out), command="x")
    assert "n/a (expert not above random here)" in table
    with pytest.raises(ValueError, match="runs of two games"):  # NaN beside numbers: refused
        ev.aggregate([{**by_n[1], "n_agents": 5}, by_n[5]])


def test_records_writes_follow_a_symlink_and_keep_permissions(tmp_path):
    """A review: the atomic .gz append replaced a symlinked records file by a regular file
    (the real one kept its old records) and reset its permissions; two spellings of one file
    took two locks."""
    import os
    import stat

    real = tmp_path / "store" / "real.jsonl.gz"
    ev.write_jsonl([{"a": 1}], real)
    os.chmod(real, 0o664)
    link = tmp_path / "link.jsonl.gz"
    link.symlink_to(real)
    ev.write_jsonl([{"a": 2}], link)
    assert link.is_symlink() and [r["a"] for r in ev.read_jsonl(real)] == [1, 2]
    assert stat.S_IMODE(real.stat().st_mode) == 0o664
    assert not (tmp_path / ".link.jsonl.gz.lock").exists()
    assert (real.parent / ".real.jsonl.gz.lock").exists()


def test_a_lock_name_taken_by_no_regular_file_does_not_block(tmp_path):
    """A review: a FIFO named like the lock file blocked every read and write forever."""
    import os

    out = tmp_path / "r.jsonl"
    os.mkfifo(tmp_path / ".r.jsonl.lock")
    ev.write_jsonl([{"a": 1}], out)  # unlocked, as on a filesystem without locks
    assert ev.read_jsonl(out) == [{"a": 1}]


def test_squeeze_tables_say_which_column_is_n_times_the_gain():
    """A new user's walkthrough: a Squeeze table had `exploitability` and `nash_gap_xN` and said
    nowhere which was the per-agent gain and which N times it."""
    (rec,) = ev.evaluate(lambda core, seed: RandomPolicy(obs_dim=core.obs_dim,
                                                         n_actions=core.n_actions, seed=seed),
                         ENV, {"n_agents": 20, "max_cycles": 3}, [0], exploitability=True)
    table = ev.markdown_table([rec], command="x")
    assert "nash_gap_xN: N × that gain" in table


def test_an_unknown_acting_key_lists_what_may_change_at_load(tmp_path):
    """The same walkthrough: `mfdiff eval --set hidden=3` listed every training field as valid,
    then refused each of them at load."""
    from mfdiff_agents.baselines.bc import BCPolicy
    from mfdiff_agents.config import ConfigError

    with pytest.raises(ConfigError, match=r"unknown keys \['hidden_size'\]; fields that may "
                                          r"change at load: \['temperature'\]"):
        BCPolicy.acting_config({}, {"hidden_size": 3}, tmp_path)


def test_a_row_without_a_tier_beside_rows_with_one_shows_a_dash():
    """A scripted policy has no data tier: beside learned rows its tier cell printed "None"."""
    (rec,) = ev.evaluate(lambda core, seed: RandomPolicy(obs_dim=core.obs_dim,
                                                         n_actions=core.n_actions, seed=seed),
                         ENV, {"n_agents": 20, "max_cycles": 3}, [0])
    learned = {**rec, "method": "bc", "tier": "medium"}
    table = ev.markdown_table([rec, learned], command="x")
    rows = [line for line in table.splitlines() if line.startswith("| RandomPolicy")]
    assert rows and "None" not in rows[0] and "| – |" in rows[0]


def _held_elsewhere(lock) -> bool:
    """Whether an exclusive flock on ``lock`` is held by another open file description."""
    import fcntl
    import os

    fd = os.open(lock, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def test_records_lock_holds_with_a_read_only_lock_file(tmp_path, monkeypatch):
    """The cases a root test machine cannot make for real (the fifty-first note): another
    user's lock file (read-write refused) still locks, read-only; where no lock file can be
    opened at all the write goes on unlocked instead of failing."""
    import os

    from mfdiff_agents.evaluation import report

    out = tmp_path / "r.jsonl"
    lock = tmp_path / ".r.jsonl.lock"
    with report.records_lock(out):
        assert _held_elsewhere(lock)
    assert not _held_elsewhere(lock)
    real_open = os.open

    def no_write(path, flags, *a):
        if flags & (os.O_RDWR | os.O_WRONLY):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *a)

    monkeypatch.setattr(report.os, "open", no_write)
    with report.records_lock(out):
        assert _held_elsewhere(lock)  # held through the read-only descriptor

    def nothing(path, flags, *a):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(report.os, "open", nothing)
    ev.write_jsonl([{"a": 1}], out)  # unlocked, as before locks
    monkeypatch.setattr(report.os, "open", real_open)
    assert ev.read_jsonl(out) == [{"a": 1}] and not _held_elsewhere(lock)


def test_records_of_an_env_that_fails_to_build_read_as_written(tmp_path):
    """An outside review: comparing env kwargs with their defaults filled in builds the env;
    a user's env whose constructor raises (here RuntimeError) made reading its records fail
    where it had worked. It is a comparison aid: such kwargs compare as written."""
    import gymnasium as gym

    from mfdiff_agents.evaluation.report import canonical_env_kwargs

    def broken(**kw):
        raise RuntimeError("licence not found")

    gym.register(id="mfdifftest/Broken-v0", entry_point=broken)
    try:
        assert canonical_env_kwargs("mfdifftest/Broken-v0", {"n_agents": 3}) == {"n_agents": 3}
        rec = {"method": "mine", "env_id": "mfdifftest/Broken-v0", "n_agents": 3, "seed": 0,
               "env_kwargs": {"n_agents": 3}, "episodes": 1, "normalized_score": 1.0}
        path = tmp_path / "r.jsonl"
        path.write_text(json.dumps(rec) + "\n" + json.dumps({**rec, "seed": 1}) + "\n")
        assert len(ev.read_records(path)) == 2
    finally:
        gym.registry.pop("mfdifftest/Broken-v0", None)
    # ours fill their defaults in; above CANONICAL_MAX_AGENTS, as written (no env built)
    full = canonical_env_kwargs("mfdiff/Ising-v0", {"n_agents": 9})
    assert full["max_cycles"] and full["temperature"] and full["n_agents"] == 9
    huge = {"n_agents": 10**8}
    assert canonical_env_kwargs("mfdiff/Ising-v0", huge) == huge
