"""The shared training loop and checkpoint format, for every method in the table: resume is the
uninterrupted run bit for bit (CPU), metrics.csv never repeats a step, damaged checkpoints and
mismatched envs fail loudly, and the config loader is strict."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json

import numpy as np
import pytest
import torch
from conftest import DEVICE, squeeze_episodes
from safetensors.torch import load_file, save_file

from mfdiff_agents.checkpoint import CheckpointError, config_digest, load_train_state
from mfdiff_agents.config import ConfigError, build_config, config_help, field_docs, lr_scale
from mfdiff_agents.evaluation import evaluate
from mfdiff_agents.methods import METHODS, get_method, load_policy, make_sampler
from mfdiff_agents.training import WeightEMA, train

torch.set_num_threads(1)

TINY = {
    "mfdiffuser": dict(replan_every=3, width=16, depth=1, n_timesteps=20, batch_size=4,
                       stats_windows=32, k_schedule=(4, 16), ddim_steps=4),
    "bc": dict(batch_size=4, hidden=16),
    "mfq": dict(batch_size=4, hidden=16),
    "iql": dict(batch_size=4, hidden=16),
    "indep_diffuser": dict(batch_size=4, width=16, n_timesteps=10, ddim_steps=2, norm_batches=2),
    "joint_diffuser": dict(batch_size=4, width=16, n_timesteps=10, ddim_steps=2, norm_batches=2),
}
COMMON = dict(horizon=4, n_particles=8, device=DEVICE, log_every=1)


@pytest.fixture(scope="module")
def episodes():
    return squeeze_episodes(32, 3, 8)


def _cfg(name: str, **kw):
    m = get_method(name)
    return m, m.config(**{**COMMON, **TINY[name], **kw})


def _rows(path):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(open(path))]


def _train_until_crash(learner, sampler, cfg, out) -> None:
    """Train ``learner`` into ``out`` and die in the middle of its 5th update (after the
    checkpoint at step 3 when ckpt_every=3), as a killed job would."""

    class Crash(learner):
        calls = 0

        def update(self, w):
            Crash.calls += 1
            if Crash.calls == 5:
                raise KeyboardInterrupt
            return super().update(w)

    with pytest.raises(KeyboardInterrupt):
        train(Crash, sampler, cfg, out_dir=out, progress=False)


def test_table_covers_every_method():
    assert set(TINY) == set(METHODS)


@pytest.mark.parametrize("name", sorted(TINY))
def test_resume_is_the_uninterrupted_run(name, episodes, tmp_path):
    m, cfg = _cfg(name, steps=6, ckpt_every=3)
    m.fit(make_sampler(episodes, cfg), cfg, out_dir=tmp_path / "full", progress=False)

    _train_until_crash(m.learner, make_sampler(episodes, cfg), cfg, tmp_path / "cut")
    assert [r["step"] for r in _rows(tmp_path / "cut" / "metrics.csv")] == ["1", "2", "3", "4"]
    with pytest.raises(FileExistsError, match="resume"):
        m.fit(make_sampler(episodes, cfg), cfg, out_dir=tmp_path / "cut", progress=False)
    m.fit(make_sampler(episodes, cfg), cfg, out_dir=tmp_path / "cut", resume=True,
          progress=False)
    full, cut = (json.loads((tmp_path / d / "config.json").read_text()) for d in ("full", "cut"))
    assert cut["weights_sha256"] == full["weights_sha256"]
    assert _rows(tmp_path / "cut" / "metrics.csv") == _rows(tmp_path / "full" / "metrics.csv")
    # the training time goes on from the kept rows' (it restarted at 0 after a resume)
    secs = [float(r["seconds"]) for r in csv.DictReader(open(tmp_path / "cut" / "metrics.csv"))]
    assert secs == sorted(secs), secs


def test_resume_needs_a_run_and_the_same_architecture(episodes, tmp_path):
    m, cfg = _cfg("bc", steps=2)
    with pytest.raises(ConfigError, match="no training run"):
        m.fit(make_sampler(episodes, cfg), cfg, out_dir=tmp_path, resume=True, progress=False)
    m.fit(make_sampler(episodes, cfg), cfg, out_dir=tmp_path, progress=False)
    _, wider = _cfg("bc", steps=4, hidden=32)
    with pytest.raises(ConfigError, match="hidden"):
        m.fit(make_sampler(episodes, wider), wider, out_dir=tmp_path, resume=True,
              progress=False)
    # the optimizer state a resume restores holds lr and weight_decay: a change would be
    # recorded in config.json and never applied (found by an outside audit)
    for field, value in (("lr", 0.5), ("weight_decay", 5.0)):
        _, changed = _cfg("bc", steps=4, **{field: value})
        with pytest.raises(ConfigError, match=field):
            m.fit(make_sampler(episodes, changed), changed, out_dir=tmp_path, resume=True,
                  progress=False)
    _, other = _cfg("mfq", steps=4)
    with pytest.raises(ConfigError, match="'bc' run"):
        get_method("mfq").fit(make_sampler(episodes, other), other, out_dir=tmp_path,
                              resume=True, progress=False)


def test_a_second_run_into_the_same_out_is_refused(episodes, tmp_path):
    """Outside audit: two `mfdiff train` into one --out, the second started before the first
    saved anything, both reported success over one run's files. The run holds a lock on it."""
    import fcntl

    m, cfg = _cfg("bc", steps=2)
    out = tmp_path / "run"
    out.mkdir()
    with open(out / ".lock", "a") as f:  # another process's run
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(FileExistsError, match="another process is training into it"):
            m.fit(make_sampler(episodes, cfg), cfg, out_dir=out, progress=False)
        assert not (out / "config.json").exists()
    m.fit(make_sampler(episodes, cfg), cfg, out_dir=out, progress=False)  # lock released
    assert (out / "config.json").exists()
    # a refused run leaves no directory behind
    with pytest.raises(ConfigError, match="no training run"):
        m.fit(make_sampler(episodes, cfg), cfg, out_dir=tmp_path / "new", resume=True,
              progress=False)
    assert not (tmp_path / "new").exists()


def test_resume_refuses_other_data_and_train_never_replaces_a_checkpoint(episodes, tmp_path):
    """Resuming on another dataset would mix two datasets in weights whose config.json names
    one; a checkpoint without train_state.pt (shared, finished) is never trained over."""
    m, cfg = _cfg("bc", steps=2)
    first = make_sampler(episodes, cfg)
    first.dataset_id = "mfdiff/squeeze-n32/medium-v0"
    m.fit(first, cfg, out_dir=tmp_path / "run", progress=False)
    _, more = _cfg("bc", steps=4)
    other = make_sampler(episodes, more)
    other.dataset_id = "mfdiff/squeeze-n32/random-v0"
    with pytest.raises(ConfigError, match="other data.*random-v0"):
        m.fit(other, more, out_dir=tmp_path / "run", resume=True, progress=False)
    same = make_sampler(episodes, more)
    same.dataset_id = first.dataset_id
    m.fit(same, more, out_dir=tmp_path / "run", resume=True, progress=False)  # its own data: ok

    (tmp_path / "run" / "train_state.pt").unlink()  # as a shared checkpoint comes
    before = (tmp_path / "run" / "model.safetensors").read_bytes()
    _, iql = _cfg("iql", steps=2)
    for resume in (False, True):
        with pytest.raises(FileExistsError, match="no train_state.pt"):
            get_method("iql").fit(make_sampler(episodes, iql), iql, out_dir=tmp_path / "run",
                                  resume=resume, progress=False)
    assert (tmp_path / "run" / "model.safetensors").read_bytes() == before


def test_a_fresh_run_keeps_the_metrics_of_an_earlier_run_without_checkpoint(episodes, tmp_path):
    """A run stopped before its first checkpoint leaves only metrics.csv: training into that
    folder again moves it aside (numbered, never overwriting an earlier backup) instead of
    overwriting it (an outside CLI audit)."""
    m, cfg = _cfg("bc", steps=2)
    out = tmp_path / "run"
    out.mkdir()
    for i in range(2):
        (out / "metrics.csv").write_text(f"step,loss,seconds\n1,{i}.5,0.1\n")
        with pytest.warns(UserWarning, match="earlier run with no checkpoint"):
            m.fit(make_sampler(episodes, cfg), cfg, out_dir=out, progress=False)
        for f in ("model.safetensors", "config.json", "train_state.pt"):
            (out / f).unlink()
    assert (out / "metrics.csv.bak").read_text().endswith("1,0.5,0.1\n")
    assert (out / "metrics.csv.bak1").read_text().endswith("1,1.5,0.1\n")
    assert [r["step"] for r in csv.DictReader(open(out / "metrics.csv"))] == ["1", "2"]


def test_resume_refuses_changed_settings_that_training_reads(episodes, tmp_path):
    """Resuming may change the step budget and acting fields, nothing that shapes training:
    a changed lr is refused, and so is ddim_steps where the head trains on the planner's own
    plans (head_own_plans), which are sampled with it; without head_own_plans it is free."""
    m, cfg = _cfg("mfdiffuser", steps=2, head_own_plans=0.5, diffusion_steps=1)
    m.fit(make_sampler(episodes, cfg), cfg, out_dir=tmp_path / "own", progress=False)
    for change in ({"lr": cfg.lr * 2}, {"ddim_steps": cfg.ddim_steps + 1}):
        _, more = _cfg("mfdiffuser", steps=3, head_own_plans=0.5, diffusion_steps=1, **change)
        with pytest.raises(ConfigError, match=f"{next(iter(change))}: "):
            m.fit(make_sampler(episodes, more), more, out_dir=tmp_path / "own", resume=True,
                  progress=False)
    _, plain = _cfg("mfdiffuser", steps=2)
    m.fit(make_sampler(episodes, plain), plain, out_dir=tmp_path / "plain", progress=False)
    _, more = _cfg("mfdiffuser", steps=3, ddim_steps=plain.ddim_steps + 1, head_temperature=0.3)
    m.fit(make_sampler(episodes, more), more, out_dir=tmp_path / "plain", resume=True,
          progress=False)


def test_edited_checkpoint_config_is_refused(episodes, tmp_path):
    """config.json holds a sha256 of itself: a hand edit (a field fixed at training, e.g. the
    noise schedule or the temperature the weights were trained for) no longer loads silently;
    acting fields are changed at load instead. Checkpoints saved before the digest load."""
    m, cfg = _cfg("bc", steps=2)
    m.fit(make_sampler(episodes, cfg), cfg, out_dir=tmp_path, progress=False)
    path = tmp_path / "config.json"
    meta = json.loads(path.read_text())
    assert len(meta["config_sha256"]) == 64
    assert load_policy(tmp_path, temperature=0.3).cfg.temperature == 0.3  # the way to act otherwise
    edited = {**meta, "config": {**meta["config"], "temperature": 3.0}}
    path.write_text(json.dumps(edited))
    with pytest.raises(CheckpointError, match="edited after saving"):
        load_policy(tmp_path)
    legacy = {k: v for k, v in edited.items() if k != "config_sha256"}
    path.write_text(json.dumps(legacy))
    assert load_policy(tmp_path).cfg.temperature == 3.0


def test_damaged_checkpoints_are_refused(episodes, tmp_path):
    m, cfg = _cfg("bc", steps=2)
    m.fit(make_sampler(episodes, cfg), cfg, out_dir=tmp_path, progress=False)
    weights = tmp_path / "model.safetensors"
    good = weights.read_bytes()
    blob = bytearray(good)
    blob[-64:] = b"\xff" * 64  # overwrite weight bytes in place: NaNs, same length
    weights.write_bytes(bytes(blob))
    with pytest.raises(CheckpointError, match="hash"):
        load_policy(tmp_path)
    # non-finite weights whose hash was (re)written are refused too
    weights.write_bytes(good)
    tensors = load_file(str(weights))
    first = next(iter(tensors))
    tensors[first][0] = float("nan")
    save_file(tensors, str(weights))
    meta = json.loads((tmp_path / "config.json").read_text())
    meta["weights_sha256"] = hashlib.sha256(weights.read_bytes()).hexdigest()
    meta.pop("config_sha256")  # past the digest check: the finiteness check
    (tmp_path / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="non-finite"):
        load_policy(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="JSON"):
        load_policy(tmp_path)


def test_policy_checks_the_env_it_is_given(episodes):
    m, cfg = _cfg("bc", steps=1)
    policy = m.fit(make_sampler(episodes, cfg), cfg, progress=False)
    assert policy.env.family == "squeeze" and policy.env.n_actions == 10
    with pytest.raises(ValueError, match="family 'squeeze'"):
        evaluate(policy, "mfdiff/Ising-v0", {"n_agents": 36, "max_cycles": 3}, [0],
                 ref_scores=(0.0, 1.0))
    with pytest.raises(ValueError, match="n_actions=10"):
        evaluate(policy, "mfdiff/GaussianSqueeze-v0",
                 {"n_agents": 36, "max_cycles": 3, "n_levels": 5}, [0], ref_scores=(0.0, 1.0))


def test_config_loader_is_strict_and_documented(tmp_path):
    cfg_cls = get_method("mfdiffuser").config
    cfg = build_config(cfg_cls, overrides=["k_schedule=8,32", "coarse_to_fine=false",
                                           "beta=0.5", "steps=7"])
    assert cfg.k_schedule == (8, 32) and cfg.coarse_to_fine is False and cfg.steps == 7
    for bad, match in ((["stepz=3"], "stepz"), (["steps=1.5"], "int"), (["beta=nan"], "finite"),
                       (["coarse_to_fine=maybe"], "bool"), (["k_schedule=16,24"], "k_schedule"),
                       (["steps"], "key=value")):
        with pytest.raises(ConfigError, match=match):
            build_config(cfg_cls, overrides=bad)
    (tmp_path / "c.json").write_text('{"width": 32}')
    assert build_config(cfg_cls, config_path=tmp_path / "c.json").width == 32
    (tmp_path / "c.json").write_text("[1]")
    with pytest.raises(ConfigError, match="JSON object"):
        build_config(cfg_cls, config_path=tmp_path / "c.json")
    for m in METHODS.values():  # every field of every method is documented in --help
        names = [f.name for f in dataclasses.fields(m.config)]
        docs = field_docs(m.config)
        assert set(names) <= set(docs), set(names) - set(docs)
        text = config_help(m.config)
        assert all(f"  {n} (" in text for n in names)

    @dataclasses.dataclass(kw_only=True)
    class Required(cfg_cls):  # a required field crashed --help (an outside audit)
        extra: int

    assert "  extra (int, default required)" in config_help(Required)


@pytest.mark.parametrize("name", sorted(TINY))
def test_every_method_refuses_empty_or_negative_sizes(name):
    """hidden=0 trained a net blind to its input and depth ≤ 0 a linear model, silently."""
    from mfdiff_agents.config import SIZE_FIELDS

    cls = get_method(name).config
    sizes = [f for f in SIZE_FIELDS if f in {f.name for f in dataclasses.fields(cls)}]
    assert sizes  # every method has a size
    for field in sizes:
        for bad in ("0", "-1"):
            with pytest.raises(ConfigError, match=f"{field} must be a positive int"):
                build_config(cls, overrides=[f"{field}={bad}"])


def test_same_seed_same_weights_and_actions(episodes):
    m, cfg = _cfg("mfdiffuser", steps=3)
    a, b = (m.fit(make_sampler(episodes, cfg), cfg, progress=False) for _ in range(2))
    obs = episodes[0].observations[0]
    a.reset(3)
    b.reset(3)
    assert np.array_equal(a.act_batch(obs), b.act_batch(obs))


def test_weight_ema_follows_its_warmed_up_recurrence():
    model = torch.nn.Linear(1, 1, bias=False)
    ema = WeightEMA(model, decay=0.9)
    want = model.weight.item()
    for t, value in enumerate([1.0, -2.0, 3.0, 0.5, 4.0] * 20, start=1):
        with torch.no_grad():
            model.weight.fill_(value)
        ema.update(model)
        d = min(0.9, (1 + t) / (10 + t))
        want = d * want + (1 - d) * value
        assert ema.shadow["weight"].item() == pytest.approx(want, rel=1e-6)
    assert d == 0.9  # the run reached the cap
    with ema.swapped_in(model):
        assert model.weight.item() == pytest.approx(want, rel=1e-6)
    assert model.weight.item() == 4.0  # the model's own weights are back


@pytest.mark.parametrize("name", ["bc", "mfdiffuser"])
def test_ema_checkpoint_acts_with_the_average_and_resumes_exactly(name, episodes, tmp_path):
    m, cfg = _cfg(name, steps=6, ckpt_every=3, ema_decay=0.9)
    policy = m.fit(make_sampler(episodes, cfg), cfg, out_dir=tmp_path / "full", progress=False)
    state = load_train_state(tmp_path / "full")
    saved = load_policy(tmp_path / "full").model.state_dict()
    shadow, raw = state["ema"]["shadow"], state["learner"]["model"]
    assert state["ema"]["updates"] == 6
    for k, v in saved.items():  # the checkpoint holds the average, not the last iterate
        torch.testing.assert_close(v.cpu(), shadow[k].cpu())
        torch.testing.assert_close(policy.model.state_dict()[k].cpu(), v.cpu())
    assert any(not torch.equal(shadow[k], raw[k]) for k in shadow)

    _train_until_crash(m.learner, make_sampler(episodes, cfg), cfg, tmp_path / "cut")
    m.fit(make_sampler(episodes, cfg), cfg, out_dir=tmp_path / "cut", resume=True,
          progress=False)
    full, cut = (json.loads((tmp_path / d / "config.json").read_text()) for d in ("full", "cut"))
    assert cut["weights_sha256"] == full["weights_sha256"]
    _, no_ema = _cfg(name, steps=8, ckpt_every=3)
    with pytest.raises(ConfigError, match="ema_decay"):  # the average would change meaning
        m.fit(make_sampler(episodes, no_ema), no_ema, out_dir=tmp_path / "cut", resume=True,
              progress=False)
    with pytest.raises(ConfigError, match="ema_decay"):
        _cfg(name, ema_decay=1.0)


def test_lr_scale_decays_from_the_base_rate_toward_zero():
    assert [lr_scale("constant", s, 10) for s in (0, 5, 9)] == [1.0, 1.0, 1.0]
    assert lr_scale("cosine", 0, 10) == 1.0
    assert lr_scale("cosine", 5, 10) == pytest.approx(0.5)
    assert lr_scale("linear", 5, 10) == pytest.approx(0.5)
    for sch in ("cosine", "linear"):
        scales = [lr_scale(sch, s, 10) for s in range(10)]
        assert scales == sorted(scales, reverse=True) and 0.0 < scales[-1] < 0.1, scales
    with pytest.raises(ConfigError, match="lr_schedule"):
        _cfg("bc", lr_schedule="step")


@pytest.mark.parametrize("name", ["bc", "mfdiffuser"])
def test_lr_schedule_sets_every_step_rate_and_resumes_exactly(name, episodes, tmp_path):
    m, cfg = _cfg(name, steps=6, ckpt_every=3, lr_schedule="cosine")
    rates = []

    class Spy(m.learner):
        def update(self, w):
            rates.append([g["lr"] for g in self.opt.param_groups])
            return super().update(w)

    train(Spy, make_sampler(episodes, cfg), cfg, out_dir=tmp_path / "full", progress=False)
    assert rates == [[cfg.lr * lr_scale("cosine", s, 6)] * len(rates[0]) for s in range(6)]
    _, flat = _cfg(name, steps=6)
    m.fit(make_sampler(episodes, flat), flat, out_dir=tmp_path / "flat", progress=False)
    full, other = (json.loads((tmp_path / d / "config.json").read_text())
                   for d in ("full", "flat"))
    assert full["weights_sha256"] != other["weights_sha256"]  # the schedule reached the weights

    # the resumed run's optimiser state holds step 3's decayed rate; the curve goes on from
    # the base rate all the same
    _train_until_crash(m.learner, make_sampler(episodes, cfg), cfg, tmp_path / "cut")
    m.fit(make_sampler(episodes, cfg), cfg, out_dir=tmp_path / "cut", resume=True,
          progress=False)
    cut = json.loads((tmp_path / "cut" / "config.json").read_text())
    assert cut["weights_sha256"] == full["weights_sha256"]
    _, longer = _cfg(name, steps=8, ckpt_every=3, lr_schedule="cosine")
    with pytest.raises(ConfigError, match="decays over the run's own budget"):
        m.fit(make_sampler(episodes, longer), longer, out_dir=tmp_path / "cut", resume=True,
              progress=False)
    _, constant = _cfg(name, steps=8, ckpt_every=3)
    with pytest.raises(ConfigError, match="lr_schedule"):
        m.fit(make_sampler(episodes, constant), constant, out_dir=tmp_path / "cut",
              resume=True, progress=False)


def test_value_warmup_fits_the_value_net_alone_first_and_resumes_exactly(episodes, tmp_path):
    m, cfg = _cfg("mfdiffuser", steps=6, ckpt_every=3, value_warmup=2)
    m.fit(make_sampler(episodes, cfg), cfg, out_dir=tmp_path / "full", progress=False)
    rows = list(csv.DictReader(open(tmp_path / "full" / "metrics.csv")))
    assert [r["denoise"] == "" for r in rows] == [True, True, False, False, False, False]
    assert all(r["value_loss"] != "" for r in rows)
    state = load_train_state(tmp_path / "full")["learner"]["optimizer"]["state"]
    assert sorted({int(v["step"]) for v in state.values()}) == [4, 6]  # value net: 2 more
    _, plain = _cfg("mfdiffuser", steps=6)
    first = m.fit(make_sampler(episodes, plain), plain, progress=False).model.state_dict()
    warm = load_policy(tmp_path / "full").model.state_dict()
    assert not torch.equal(first["value.net.0.weight"], warm["value.net.0.weight"])

    _train_until_crash(m.learner, make_sampler(episodes, cfg), cfg, tmp_path / "cut")
    m.fit(make_sampler(episodes, cfg), cfg, out_dir=tmp_path / "cut", resume=True,
          progress=False)
    full, cut = (json.loads((tmp_path / d / "config.json").read_text()) for d in ("full", "cut"))
    assert cut["weights_sha256"] == full["weights_sha256"]
    for bad in (6, -1, True, 1.5):
        with pytest.raises(ConfigError, match="value_warmup"):
            _cfg("mfdiffuser", steps=6, value_warmup=bad)
    with pytest.raises(ConfigError, match="value_warmup .* diffusion_steps"):
        _cfg("mfdiffuser", steps=6, value_warmup=3, diffusion_steps=4)


@pytest.mark.parametrize("name", sorted(TINY))
def test_init_seed_fixes_the_initial_weights_alone(name, episodes):
    m, _ = _cfg(name)
    inits, finals = {}, {}

    class Spy(m.learner):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            # parameters only: buffers such as normalisation statistics come from the windows
            inits[key] = {k: v.detach().clone() for k, v in self.model.named_parameters()}

    for key, kw in {"s3": dict(seed=3), "s5": dict(seed=5), "s3i5": dict(seed=3, init_seed=5),
                    "s3i3": dict(seed=3, init_seed=3)}.items():
        _, cfg = _cfg(name, steps=3, **kw)
        finals[key] = train(Spy, make_sampler(episodes, cfg), cfg, progress=False
                            ).model.state_dict()

    def same(a, b):
        return all(torch.equal(a[k], b[k]) for k in a)
    assert same(inits["s3i5"], inits["s5"]) and not same(inits["s3"], inits["s5"])
    assert not same(finals["s3i5"], finals["s5"])  # its own windows and noise
    assert same(finals["s3i3"], finals["s3"])  # init_seed = seed: the run of seed alone
    for bad in (-1, True, 1.5):
        with pytest.raises(ConfigError, match="init_seed"):
            _cfg(name, init_seed=bad)


def test_a_checkpoint_from_before_init_seed_resumes_as_init_seed_none(episodes, tmp_path):
    """A checkpoint saved before the field existed drew its weights from ``seed``: resuming it
    with an ``init_seed`` would name initial weights the run never had, so it is refused like
    any changed training field; resuming it as it was still works."""
    m, cfg = _cfg("bc", steps=2, ckpt_every=1)
    m.fit(make_sampler(episodes, cfg), cfg, out_dir=tmp_path, progress=False)
    path = tmp_path / "config.json"
    meta = json.loads(path.read_text())
    meta["config"].pop("init_seed")
    meta["config_sha256"] = config_digest(meta)
    path.write_text(json.dumps(meta))
    _, other = _cfg("bc", steps=3, init_seed=7)
    with pytest.raises(ConfigError, match="init_seed: None -> 7"):
        m.fit(make_sampler(episodes, other), other, out_dir=tmp_path, resume=True,
              progress=False)
    _, same = _cfg("bc", steps=3)
    m.fit(make_sampler(episodes, same), same, out_dir=tmp_path, resume=True, progress=False)


def test_ema_state_loads_onto_the_models_device():
    """A train state is read onto the CPU; a CUDA run's averages must come back on CUDA (the
    'meta' device stands in for it here), or the first update mixes devices and raises."""
    import torch

    from mfdiff_agents.training import WeightEMA

    cpu_state = WeightEMA(torch.nn.Linear(3, 2), 0.9).state_dict()
    ema = WeightEMA(torch.nn.Linear(3, 2, device="meta"), 0.9)
    ema.load_state_dict(cpu_state)
    assert {v.device.type for v in ema.shadow.values()} == {"meta"}
    assert ema.updates == cpu_state["updates"]


def test_bf16_only_where_the_gpu_has_it_natively(monkeypatch):
    import torch

    from mfdiff_agents.device import use_bf16

    assert not use_bf16(torch.device("cpu"))
    for major, expected in ((7, False), (8, True), (9, True)):  # V100/T4 emulate it: no
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda d=None, m=major: (m, 0))
        assert use_bf16(torch.device("cuda", 0)) is expected


def test_a_resaved_unfinished_checkpoint_stays_unfinished(episodes, tmp_path):
    """An outside audit: ``save()`` of a policy loaded from an interrupted run's checkpoint wrote
    no ``steps_done``, so the copy loaded as finished (no warning) and a report would pool it
    with finished runs. The loaded policy keeps the step and saves it again."""
    from mfdiff_agents.checkpoint import checkpoint_identity

    m, cfg = _cfg("bc", steps=6, ckpt_every=3)
    _train_until_crash(m.learner, make_sampler(episodes, cfg), cfg, tmp_path / "cut")
    with pytest.warns(UserWarning, match="saved at step 3 of its 6"):
        policy = load_policy(tmp_path / "cut")
    policy.save(tmp_path / "copy")
    with pytest.warns(UserWarning, match="saved at step 3 of its 6"):
        load_policy(tmp_path / "copy")
    assert checkpoint_identity(tmp_path / "copy")["steps_done"] == 3
    policy.save(tmp_path / "marked", steps_done=6)  # an explicit step wins
    assert "steps_done" not in checkpoint_identity(tmp_path / "marked")


def test_devices_that_cannot_act_are_refused_by_name():
    """An outside audit: device=None raised torch's TypeError, and 'meta' loaded a policy that
    failed only at its first action."""
    from mfdiff_agents.device import resolve_device

    for bad in (None, "nowhere"):
        with pytest.raises(ValueError, match="unknown device"):
            resolve_device(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'meta' holds shapes"):
        resolve_device("meta")
    assert resolve_device("cpu") == torch.device("cpu")


def test_one_gpu_spelt_two_ways_is_one_device(monkeypatch):
    """An outside CUDA audit: ``"cuda"`` and ``"cuda:0"`` compared unequal, so an ensemble of
    members loaded with each was refused as spread over two devices. Checked without a GPU by
    standing in for torch.cuda's answers (resolve_device creates no tensor)."""
    from mfdiff_agents.device import resolve_device

    def no_init():  # would open a CUDA context: on GPU 0 in every torchrun rank (a review)
        raise AssertionError("resolve_device initialised CUDA")

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: False)
    monkeypatch.setattr(torch.cuda, "current_device", no_init)
    assert resolve_device("cuda") == resolve_device("cuda:0") == torch.device("cuda", 0)
    assert resolve_device(torch.device("cuda")) == torch.device("cuda", 0)
    assert resolve_device("auto") == torch.device("cuda", 0)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 1)  # after set_device(1)
    assert resolve_device("cuda") == torch.device("cuda", 1)
    assert resolve_device("cuda:0") == torch.device("cuda", 0)


@pytest.mark.parametrize("name", ["bc", "mfdiffuser"])
def test_a_fit_follows_its_config_seed_whatever_the_sampler_served(episodes, name):
    """An outside audit: the loop never restarted the sampler, so a second fit on one sampler
    (the demo trains MF-Diffuser then BC on one) or a sampler built with another seed trained
    other weights than config.json's seed reproduces."""
    m, cfg = _cfg(name, steps=3)
    fresh = m.fit(make_sampler(episodes, cfg), cfg, progress=False).model.state_dict()
    shared = make_sampler(episodes, cfg)
    m.fit(shared, cfg, progress=False)
    again = m.fit(shared, cfg, progress=False).model.state_dict()
    other = m.fit(make_sampler(episodes, dataclasses.replace(cfg, seed=cfg.seed + 1)), cfg,
                  progress=False).model.state_dict()
    for state in (again, other):
        assert state.keys() == fresh.keys()
        for k, v in fresh.items():
            torch.testing.assert_close(state[k], v, rtol=0, atol=0)
    reseeded = m.fit(shared, dataclasses.replace(cfg, seed=cfg.seed + 1),
                     progress=False).model.state_dict()
    assert any(not torch.equal(reseeded[k], v) for k, v in fresh.items())


@pytest.mark.parametrize("name", ["bc", "iql", "mfq", "mfdiffuser"])
def test_a_diverged_checkpoint_refuses_to_act(episodes, name):
    """An outside audit: one update at lr = 1e30 saved finite weights (1e30) whose action
    scores are NaN; argmax and sampling made that "every agent plays action 0", scored with
    exit 0. Acting refuses NaN scores (and plans) now."""
    from mfdiff_agents.policy import DivergedError

    # (no weight decay: lr × weight_decay ≥ 1 is refused before training)
    m, cfg = _cfg(name, steps=1, lr=1e30, **({"weight_decay": 0.0} if name == "mfdiffuser" else {}))
    policy = m.fit(make_sampler(episodes, cfg), cfg, progress=False)
    obs = np.asarray(episodes[0].observations[0], np.float32)
    policy.reset(seed=0)
    with pytest.raises(DivergedError, match="NaN or infinite numbers"):
        policy.act_batch(obs, np.ones(len(obs), bool))


def test_an_absurd_return_target_refuses_to_act(episodes):
    """The same audit: return_target = 1e30 at acting gave NaN plans, every agent level 9."""
    from mfdiff_agents.policy import DivergedError

    m, cfg = _cfg("mfdiffuser", steps=2)
    policy = m.fit(make_sampler(episodes, cfg), cfg, progress=False)
    obs = np.asarray(episodes[0].observations[0], np.float32)
    policy.reset(seed=0)
    policy.act_batch(obs, np.ones(len(obs), bool))  # acts at its own target
    bad = dataclasses.replace(policy.cfg, return_target=1e30)
    policy.cfg = bad
    policy.reset(seed=0)
    with pytest.raises(DivergedError, match="MF-Diffuser's plan"):
        policy.act_batch(obs, np.ones(len(obs), bool))


@pytest.mark.parametrize("name", ["bc", "iql", "mfq"])
def test_dead_agents_nan_rows_do_not_stop_a_policy(episodes, name):
    """A review: the NaN check read dead agents' rows (whose observations may be NaN) and
    called a healthy checkpoint diverged."""
    m, cfg = _cfg(name, steps=1)
    policy = m.fit(make_sampler(episodes, cfg), cfg, progress=False)
    obs = np.asarray(episodes[0].observations[0], np.float32).copy()
    mask = np.ones(len(obs), bool)
    mask[::3] = False
    obs[~mask] = np.nan
    policy.reset(seed=0)
    acts = policy.act_batch(obs, mask)
    assert acts.shape == (len(obs),) and (acts[mask] >= 0).all()


class _RunsCode:
    """A pickle that runs code when unpickled (a run directory from someone else)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        import pathlib

        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def test_a_resume_state_is_read_as_tensors_and_plain_data_only(episodes, tmp_path):
    """train_state.pt was unpickled in full (weights_only=False): resuming from a directory
    someone else made could run any code its pickle named. Every method's own state loads
    with weights_only=True; anything else is refused before it runs."""
    m, cfg = _cfg("bc", steps=2)
    m.fit(make_sampler(episodes, cfg), cfg, out_dir=tmp_path / "run", progress=False)
    assert load_train_state(tmp_path / "run")["step"] == 2
    marker = tmp_path / "ran"
    bad = tmp_path / "bad"
    bad.mkdir()
    torch.save({"step": 1, "x": _RunsCode(str(marker))}, bad / "train_state.pt")
    with pytest.raises(CheckpointError, match="tensors and plain data"):
        load_train_state(bad)
    assert not marker.exists()


def test_the_device_benchmark_plans_a_checkpoint_at_the_config_defaults(episodes, tmp_path):
    """benchmarks/gpu.py says it plans loaded checkpoints at the Config's defaults; it reset five
    fields only, so a checkpoint of a family config kept its plans, particles and DDIM steps
    (found by a performance audit)."""
    import importlib.util
    from pathlib import Path

    from mfdiff_agents.diffuser.config import PLANNING_FIELDS, Config
    from mfdiff_envs.squeeze import GaussianSqueezeCore

    m, cfg = _cfg("mfdiffuser", steps=1, horizon=8, plan_samples=2, plan_combine="mean",
                  ddim_steps=5, cap_particles=True, head_min_p=0.1)
    m.fit(make_sampler(episodes, cfg), cfg, out_dir=tmp_path / "run", progress=False)
    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("gpu_bench", root / "benchmarks/gpu.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    planner = bench.planner_for(GaussianSqueezeCore(20), torch.device("cpu"),
                                str(tmp_path / "run"))
    assert {f: getattr(planner.cfg, f) for f in PLANNING_FIELDS} == {
        f: getattr(Config(), f) for f in PLANNING_FIELDS}
    # --acting checkpoint: the checkpoint's own settings, every planning field as trained
    own = bench.planner_for(GaussianSqueezeCore(20), torch.device("cpu"), str(tmp_path / "run"),
                            own_settings=True)
    assert {f: getattr(own.cfg, f) for f in PLANNING_FIELDS} == {
        f: getattr(cfg, f) for f in PLANNING_FIELDS}
    assert (own.cfg.plan_samples, own.cfg.ddim_steps, own.cfg.head_min_p) == (2, 5, 0.1)


def test_build_config_reads_a_checkpoint_config_json(tmp_path):
    """`--config runs/x/config.json` (a checkpoint's) was refused for its metadata keys as
    unknown fields (an outside review): its "config" block is read, said in a warning; another
    method's checkpoint is refused (shared field names would mix two methods' settings)."""
    import json

    from mfdiff_agents.config import ConfigError, build_config
    from mfdiff_agents.methods import METHODS
    from mfdiff_envs.core import MfdiffWarning

    meta = {"method": "mfdiffuser", "format_version": 1, "env": {"obs_dim": 3},
            "config": {"horizon": 6, "steps": 7}, "config_sha256": "0"}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(meta))
    with pytest.warns(MfdiffWarning, match="checkpoint's config.json \\(mfdiffuser\\)"):
        cfg = build_config(METHODS["mfdiffuser"].config, config_path=path, overrides=["steps=9"],
                           method="mfdiffuser")
    assert (cfg.horizon, cfg.steps) == (6, 9)
    with pytest.raises(ConfigError, match="is a 'mfdiffuser' checkpoint's config.json, not one "
                                          "of method 'bc'"):
        build_config(METHODS["bc"].config, config_path=path, method="bc")
    with pytest.raises(ConfigError, match="not one of method None"):  # which method: unsaid
        build_config(METHODS["mfdiffuser"].config, config_path=path)
    # an older checkpoint's field this version no longer has: left out, and said
    path.write_text(json.dumps({**meta, "config": {"horizon": 5, "gone_field": 1}}))
    with pytest.warns(MfdiffWarning, match=r"no longer has \['gone_field'\]"):
        assert build_config(METHODS["mfdiffuser"].config, config_path=path,
                            method="mfdiffuser").horizon == 5
    path.write_text(json.dumps({**meta, "method": "nope"}))
    with pytest.raises(ConfigError, match="'nope' checkpoint's config.json"):
        build_config(METHODS["mfdiffuser"].config, config_path=path, method="mfdiffuser")
    path.write_text(json.dumps({"config": {"horizon": 6}}))  # no checkpoint: keys checked
    with pytest.raises(ConfigError, match="unknown .* keys \\['config'\\]"):
        build_config(METHODS["mfdiffuser"].config, config_path=path)
