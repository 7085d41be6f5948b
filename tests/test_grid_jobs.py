"""experiments/grid_jobs.py and the other results scripts: jobs, sweeps, configs, command lines."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch

from mfdiff_agents.family_configs import FAMILY_CONFIG_DIR, family_config

pytest.importorskip("submitit")
ROOT = Path(__file__).resolve().parents[1]
# the scripts import each other from experiments/ (each test ran only after one that put it
# on sys.path: alone under -k, `import make_sweep` failed)
sys.path.insert(0, str(ROOT / "experiments"))


def _module():
    spec = importlib.util.spec_from_file_location("grid_jobs", ROOT / "experiments/grid_jobs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_jobs_cover_the_grid_and_skip_finished(tmp_path):
    gj = _module()
    jobs = gj.train_jobs(["ising"], tmp_path)
    per_tier = sum(len(seeds) for _, seeds, _ in gj.METHODS.values())
    per_tier += sum(len(gj.METHODS[a][1]) for a in gj.WALL_CLOCK_STEPS["ising"])
    per_tier += len(gj.METHODS["mfdiffuser"][1]) * len(gj.MFD_VARIANTS.get("ising", []))
    assert len(jobs) == 2 * per_tier
    done = Path(jobs[0][2])
    done.parent.mkdir(parents=True)
    done.touch()
    assert len(gj.train_jobs(["ising"], tmp_path)) == 2 * per_tier - 1
    assert all(cmd[:2] == ["mfdiff", "train"] and "--threads" in cmd for cmd, _, _ in jobs)
    # every setting comes from `mfdiff train`'s defaults, i.e. the dataset family's file
    # (test_cli checks that layer): no --config, and steps only on the equal wall-clock rows
    # and on the MF-Diffuser variants that set them
    for fam in ("squeeze", "ising", "battle"):
        for cmd, _, _ in gj.train_jobs([fam], tmp_path):
            assert "--config" not in cmd and "--no-family-config" not in cmd
            out = cmd[cmd.index("--out") + 1]
            wc = "-wc-s" in out or any(f"/{d}-s" in out and "steps" in sets
                                       for d, sets, *_ in gj.MFD_VARIANTS.get(fam, []))
            assert any(a.startswith("steps=") for a in cmd) == wc
    # the equal wall-clock baselines: their own directories and steps, the same config
    for algo, steps in gj.WALL_CLOCK_STEPS["ising"].items():
        wc = [c for c, _, _ in jobs if c[c.index("--out") + 1].endswith(tuple(
            f"/{algo}-wc-s{s}" for s in gj.METHODS[algo][1]))]
        assert len(wc) == 2 * len(gj.METHODS[algo][1])
        assert all(f"steps={steps}" in c and c[c.index("--algo") + 1] == algo for c in wc)


def test_only_trains_the_named_rows_and_their_old_records_go(tmp_path):
    """``--only``: the missing checkpoints of the named dir stems alone; the records of every
    checkpoint about to be trained leave records-<fam>.jsonl (a --keep-records evaluation then
    scores the new weights instead of keeping the old ones' records), the others stay."""
    gj = _module()
    jobs = gj.train_jobs(["battle"], tmp_path, only={"bc-wc", "iql-wc"})
    outs = sorted(Path(done).parent.name for _, _, done in jobs)
    assert outs == sorted(f"{a}-wc-s{s}" for a in ("bc", "iql") for s in (0, 1, 2) * 2)
    assert all(f"steps={gj.WALL_CLOCK_STEPS['battle'][c[c.index('--algo') + 1]]}" in c
               for c, _, _ in jobs)
    cell = tmp_path / "ckpt" / "battle-n1000-medium"
    recs = [{"method": "BC, equal wall-clock", "config": {"policy": str(cell / "bc-wc-s0")}},
            {"method": "BC", "config": {"policy": str(cell / "bc-s0")}},
            {"note": "no run"}]
    (tmp_path / "records-battle.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    dirs = [str(Path(done).parent) for _, _, done in jobs]
    assert gj.drop_records(["battle", "ising"], tmp_path, dirs) == 1
    left = [json.loads(x) for x in (tmp_path / "records-battle.jsonl").read_text().splitlines()]
    assert left == recs[1:]


def test_tiers_train_one_tier_only(tmp_path):
    """``--tiers medium``: the named rows of the medium cell alone (one cell's rows retrained
    without the other tier's CPU time); ``--tiers`` outside the train stage is refused (the
    evaluation sweep covers both tiers)."""
    gj = _module()
    jobs = gj.train_jobs(["squeeze"], tmp_path, only={"iql-wc"}, tiers=("medium",))
    dirs = [Path(done).parent for _, _, done in jobs]
    assert sorted(d.name for d in dirs) == [f"iql-wc-s{s}" for s in (0, 1, 2)]
    assert {d.parent.name for d in dirs} == {"squeeze-n1000-medium"}
    assert all("mfdiff/squeeze-n1000/medium-v0" in c for c, _, _ in jobs)
    with pytest.raises(SystemExit):
        gj.main(["squeeze", "--tiers", "medium", "--out", str(tmp_path)])


def test_mfdiffuser_variants_train_and_evaluate_in_their_own_dirs(tmp_path):
    """The family config's checkpoints in mfd_dir(family); each MFD_VARIANTS entry trained with
    its --set settings into its own dir and evaluated there under its label, with the family's
    acting; the dirs never collide."""
    gj = _module()
    import make_sweep

    assert gj.MFD_VARIANTS and any(make_sweep.mfd_dir(f) != "mfdiffuser" for f in gj.FAMILIES)
    for fam in gj.FAMILIES:
        cmds = [c for c, _, _ in gj.train_jobs([fam], tmp_path)
                if c[c.index("--algo") + 1] == "mfdiffuser"]
        outs = [c[c.index("--out") + 1] for c in cmds]
        assert len(outs) == len(set(outs))
        main = [c for c in cmds if f"/{make_sweep.mfd_dir(fam)}-s" in c[c.index("--out") + 1]]
        # the seed only, and the planning fields the grid trains without (GRID_TRAIN_PINNED)
        pinned = len(make_sweep.GRID_TRAIN_PINNED.get(fam, {}))
        assert len(main) == 6 and all(c.count("--set") == 1 + pinned for c in main)
        sweep = make_sweep_text(fam, tmp_path)
        for dirname, sets, label, where, decode_before in gj.MFD_VARIANTS.get(fam, []):
            assert dirname != make_sweep.mfd_dir(fam)
            var = [c for c in cmds if f"/{dirname}-s" in c[c.index("--out") + 1]]
            assert len(var) == 6
            assert all(f"{k}={v}" in c for c in var for k, v in sets.items())
            blocks = [b for b in sweep.split("[[runs]]") if f'label = "{label}"' in b]
            assert len(blocks) == 6 and all(f"/{dirname}-s" in b for b in blocks)
            ns = make_sweep.FAMILIES[fam][2]
            # the family's acting, with the decoding and plan rule its variants were measured
            # with
            acting = {**make_sweep.ACTING, **make_sweep.family_planning(fam)}
            before = make_sweep.before_decode(fam, make_sweep.before_plans(fam, acting))
            planning = make_sweep.inline_table(make_sweep.cap_noop_dropped(
                before if decode_before else acting,
                ns if where == "all" else ns[1:2]))
            assert all(f"set = {planning}" in b for b in blocks)
            assert all(f"n_agents = {ns if where == 'all' else ns[1:2]}" in b for b in blocks)


def make_sweep_text(fam: str, out: Path) -> str:
    import subprocess
    import sys

    return subprocess.run([sys.executable, str(ROOT / "experiments/make_sweep.py"), fam, str(out)],
                          check=True, capture_output=True, text=True).stdout


def test_sweep_spells_out_the_family_planning_settings(tmp_path, monkeypatch):
    _module()  # puts experiments/ on sys.path
    import make_sweep

    import mfdiff_agents.family_configs as fc

    monkeypatch.setattr(fc, "FAMILY_CONFIG_DIR", tmp_path)
    (tmp_path / "mfdiffuser").mkdir()
    (tmp_path / "mfdiffuser" / "squeeze.json").write_text('{"replan_every": 2, "steps": 300}')
    assert make_sweep.family_planning("squeeze") == {"replan_every": 2}  # steps: training only
    assert make_sweep.family_planning("ising") == {}  # no file: the defaults
    assert make_sweep.grid_steps("squeeze", "mfdiffuser") == 300
    # one plan: what the mixture over plans replaced (and particle actions follow)
    (tmp_path / "mfdiffuser" / "ising.json").write_text(
        '{"replan_every": 1, "plan_samples": 4, "plan_combine": "mean"}')
    # pinned, not left out: a checkpoint trained with this file carries the mixture
    one = {"replan_every": 1, "plan_samples": 1, "plan_combine": "best"}
    assert make_sweep.one_plan("ising") == one
    # Squeeze's plan rule before the thirty-eighth update (PLAN_BEFORE) is pinned there too
    assert make_sweep.one_plan("squeeze") == {**make_sweep.family_planning("squeeze"),
                                              "plan_combine": "best"}
    assert make_sweep.acting_one_plan("ising", "mfdiffuser") == {**make_sweep.ACTING, **one}
    assert make_sweep.acting_overrides("ising", "mfdiffuser")["plan_combine"] == "mean"
    with pytest.raises(KeyError, match="no steps"):
        make_sweep.grid_steps("ising", "mfdiffuser")
    # Battle's decoding since the twenty-ninth update reaches the grid's config row; the
    # experiment scripts (acting_overrides, one_plan) keep the decoding they were measured with
    (tmp_path / "mfdiffuser" / "battle.json").write_text(
        '{"head_temperature": 0.4, "head_min_p": 0.05, "replan_every": 7}')
    old = make_sweep.DECODE_BEFORE["battle"]
    assert make_sweep.acting_overrides("battle", "mfdiffuser") == {
        **make_sweep.ACTING, "replan_every": 7, **old}
    assert make_sweep.one_plan("battle") == {"replan_every": 7, **old}
    assert make_sweep.before_decode("squeeze", {"head_temperature": 1.0}) == {
        "head_temperature": 1.0}  # no entry: unchanged


def test_sweep_and_exploitability_act_baselines_as_their_family_config_says(tmp_path,
                                                                           monkeypatch, capsys):
    """A baseline's acting temperature in configs/<algo>/<family>.json reaches the grid's sweep
    (only its acting fields: steps is training) and `make_sweep.py --set-args`, which
    exploitability.sh passes to `mfdiff eval`; a family without one keeps the checkpoint's."""
    import tomllib

    _module()  # puts experiments/ on sys.path
    import make_sweep

    import mfdiff_agents.family_configs as fc

    monkeypatch.setattr(fc, "FAMILY_CONFIG_DIR", tmp_path)
    (tmp_path / "bc").mkdir()
    (tmp_path / "bc" / "battle.json").write_text('{"temperature": 0.3, "steps": 50}')
    assert make_sweep.acting_overrides("battle", "bc") == {"temperature": 0.3}
    assert make_sweep.acting_overrides("ising", "bc") == {}
    assert make_sweep.acting_overrides("battle", "mfdiffuser") == {
        **make_sweep.ACTING, **make_sweep.DECODE_BEFORE["battle"]}
    make_sweep.main("battle", "runs/grid")
    runs = tomllib.loads(capsys.readouterr().out)["runs"]
    bc = [r for r in runs if r["label"] == "BC"]
    assert bc and all(r["set"] == {"temperature": 0.3} for r in bc)
    # the equal wall-clock rows act as their step-budget twins, from their own checkpoints
    wc = [r for r in runs if r["label"] == f"BC, {make_sweep.WALL_CLOCK}"]
    assert [r["policy"] for r in wc] == [r["policy"].replace("/bc-s", "/bc-wc-s") for r in bc]
    assert all(r["set"] == {"temperature": 0.3} and r["n_agents"] == b["n_agents"]
               for r, b in zip(wc, bc))
    assert all("set" not in r for r in runs if r["label"] == "MFQ-CQL")
    assert make_sweep.set_args("battle", "bc") == ["--set", "temperature=0.3"]
    monkeypatch.undo()
    # the command line exploitability.sh reads with mapfile: nothing at all when nothing is set
    # (an empty line would reach `mfdiff eval` as an empty argument)
    def cli(*args: str) -> str:
        return subprocess.run([sys.executable, str(ROOT / "experiments/make_sweep.py"),
                               "--set-args", *args], capture_output=True, text=True,
                              check=True).stdout

    assert cli("squeeze", "indep_diffuser") == ""
    assert cli("battle", "mfdiffuser").splitlines()[:2] == ["--set", "act_with=auto"]


def test_published_records_keep_the_checkpoints_a_script_measured(tmp_path, monkeypatch):
    """published_records (the grid's rows beside an experiment's): the config's row of the
    named checkpoint dir, a dir the config has left included (its grid row now carries the
    variant's label), never the other rows evaluated on that dir; on Battle the config's row
    as the scripts measured it (decoded as before the twenty-ninth update, CONFIG_BEFORE), not
    the row of the config's decoding since."""
    import gzip

    _module()
    import make_sweep

    left = next(v.label for v in make_sweep.MFD_VARIANTS["battle"] if v.stem == "mfdiffuser")
    cell = "runs/grid/ckpt/battle-n1000-medium"
    before = make_sweep.CONFIG_BEFORE["battle"]
    # the config's previous checkpoints acting as the config acts now (a variant that is not
    # decoded as before the twenty-ninth update): not the row the scripts measured beside
    now = next(v for v in make_sweep.MFD_VARIANTS["battle"] if not v.decode_before)
    recs = [(left, "mfdiffuser-s0", 97.0), (before, "mfdiffuser-blind-s0", 102.0),
            ("MF-Diffuser, particle actions", "mfdiffuser-s0", 20.0), ("BC", "bc-s0", 103.0),
            (left, "mfdiffuser-s0", 99.0), ("MF-Diffuser", "mfdiffuser-blind-s0", 104.0),
            (now.label, "mfdiffuser-blind-s0", 90.0), (now.label, f"{now.stem}-s0", 91.0),
            (before, f"{now.stem}-s0", 92.0)]
    rows = [{"method": m, "n_agents": 500 if i < 4 else 5000, "normalized_score": v,
             "config": {"policy": f"{cell}/{d}"}} for i, (m, d, v) in enumerate(recs)]
    (tmp_path / "docs/results/records").mkdir(parents=True)
    with gzip.open(tmp_path / "docs/results/records/records-battle.jsonl.gz", "wt") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    monkeypatch.chdir(tmp_path)
    got = make_sweep.published_records("battle", "battle-n1000-medium",
                                       {"mfdiffuser": "grid, seed {}", "bc": "BC"}, (500,))
    assert [(r["method"], r["normalized_score"]) for r in got] == [("grid, seed 0", 97.0),
                                                                  ("BC", 103.0)]
    blind = make_sweep.published_records("battle", "battle-n1000-medium",
                                         {"mfdiffuser-blind": "config"}, (500, 5000))
    assert [r["normalized_score"] for r in blind] == [102.0]
    previous = make_sweep.published_records("battle", "battle-n1000-medium",
                                            {now.stem: "config"}, (500, 5000))
    assert [r["normalized_score"] for r in previous] == [92.0]


def test_local_dispatch_runs_and_reports_failures(tmp_path):
    import submitit

    gj = _module()
    ex = submitit.LocalExecutor(folder=tmp_path / "s")
    ex.update_parameters(timeout_min=2)
    ok = ([sys.executable, "-c", "print('hi')"], str(tmp_path / "ok.log"), str(tmp_path / "ok"))
    gj.dispatch(ex, [ok], width=2, poll=0.1)
    assert (tmp_path / "ok").exists() and "hi" in (tmp_path / "ok.log").read_text()
    bad = ([sys.executable, "-c", "raise SystemExit(3)"], str(tmp_path / "bad.log"), None)
    with pytest.raises(SystemExit, match="job failed"):
        gj.dispatch(ex, [bad], width=2, poll=0.1)


def test_local_dispatch_gives_a_finished_jobs_slot_to_the_next(tmp_path):
    """Two slots, one long job and three short ones: the short ones all run beside the long one
    (waves of two would hold the second and third short job until the long one ended, a core
    idle meanwhile)."""
    import submitit

    gj = _module()
    ex = submitit.LocalExecutor(folder=tmp_path / "s")
    ex.update_parameters(timeout_min=2)
    stamp = "import sys, time; open(sys.argv[1], 'w').write(str(time.time()))"
    # the long job holds its slot until the last short job has written its stamp (60 s at
    # most): the short ones all end first only if they ran beside it, however slowly a job
    # starts on a loaded machine (a fixed 8 s sleep could be outlasted by three job starts)
    wait = ("import pathlib, sys, time\n"
            "last, end = pathlib.Path(sys.argv[2]), time.monotonic() + 60\n"
            "while not (last.exists() and last.read_text()) and time.monotonic() < end:\n"
            "    time.sleep(0.05)\n"
            "open(sys.argv[1], 'w').write(str(time.time()))\n")

    def job(name, code, *extra):
        return ([sys.executable, "-c", code, str(tmp_path / name), *extra],
                str(tmp_path / f"{name}.log"), None)

    gj.dispatch(ex, [job("long", wait, str(tmp_path / "short2")),
                     *(job(f"short{i}", stamp) for i in range(3))], width=2, poll=0.1)
    ends = {p.name: float(p.read_text()) for p in tmp_path.iterdir() if p.suffix == ""
            and p.is_file()}
    assert set(ends) == {"long", "short0", "short1", "short2"}
    assert max(ends[f"short{i}"] for i in range(3)) < ends["long"]


def test_eval_jobs_keep_records_resumes_instead_of_deleting(tmp_path):
    gj = _module()
    records = tmp_path / "records-ising.jsonl"
    records.write_text('{"kept": true}\n')
    (cmd, _, _), = gj.eval_jobs(["ising"], tmp_path, keep=True)
    assert "--resume" in cmd and records.exists()
    from mfdiff_agents.diffuser.config import PLANNING_FIELDS
    from mfdiff_agents.evaluation.sweep import load_sweep

    sweep = load_sweep(tmp_path / "sweep_ising.toml")
    mfd = [r for r in sweep["runs"] if r["label"] == "MF-Diffuser"]
    # tiers x training seeds, each split at K_max = 512 by the particle cap (cap_split)
    assert len(mfd) == 12
    # the acting defaults and every planning setting of the family config are spelled out
    # (make_sweep.config_planning: OWN_PLANNING's too, which the other rows leave out)
    planning = {k: v for k, v in family_config("mfdiffuser", "ising").items()
                if k in PLANNING_FIELDS}
    assert planning["replan_every"] == 1 and planning["head_data_range"] is True
    want = {"act_with": "auto", "head_temperature": 0.3, "head_decode": "balanced",
            "ddim_steps": 10, **planning}
    assert all(r["set"] == (want if r["n_agents"] == [100] else
                            {k: v for k, v in want.items() if k != "cap_particles"})
               for r in mfd)
    (cmd, _, _), = gj.eval_jobs(["ising"], tmp_path)
    assert "--resume" not in cmd and not records.exists()


def test_eval_lanes_split_the_sweep_and_merge_back(tmp_path, monkeypatch):
    """With lanes, every [[runs]] block of the family's sweep lands in exactly one lane file
    (header kept), the lanes' costs are near each other, and merge_lanes joins the lane records
    into records-<fam>.jsonl (a run counted twice is refused) and drops the lane files."""
    gj = _module()
    jobs = gj.eval_jobs(["squeeze"], tmp_path, lanes=2)
    assert len(jobs) == 2 and all("--report-dir" not in cmd for cmd, _, _ in jobs)
    full = (tmp_path / "sweep_squeeze.toml").read_text()
    lanes = [(tmp_path / f"sweep_squeeze_lane{i}.toml").read_text() for i in range(2)]
    head = full.split("[[runs]]")[0]
    blocks = sorted(full.split("[[runs]]")[1:])
    assert all(lane.startswith(head) for lane in lanes)
    assert sorted(b for lane in lanes for b in lane.split("[[runs]]")[1:]) == blocks
    from mfdiff_agents.evaluation.sweep import load_sweep

    assert sum(len(load_sweep(tmp_path / f"sweep_squeeze_lane{i}.toml")["runs"])
               for i in range(2)) == len(load_sweep(tmp_path / "sweep_squeeze.toml")["runs"])
    assert len(gj.split_sweep(full, 1)) == 1
    assert len(gj.split_sweep(full, 100)) == len(blocks)  # never an empty lane
    # a rerun that keeps records deals only the runs still to evaluate evenly over the lanes
    runs = load_sweep(tmp_path / "sweep_squeeze.toml")["runs"]
    todo = [r for r in runs if r["label"] == "MF-Diffuser"]
    done = {gj.run_identity(r) for r in runs if r["label"] != "MF-Diffuser"}
    per_lane = [sum(1 for b in lane.split("[[runs]]")[1:] if 'label = "MF-Diffuser"\n' in b)
                for lane in gj.split_sweep(full, 2, done)]
    assert sum(per_lane) == len(todo) and max(per_lane) - min(per_lane) <= 1
    recs = tmp_path / "kept.jsonl"
    recs.write_text("".join(json.dumps({"method": r["label"], "config": {
        "policy": r["policy"], "set": r.get("set", {})}}) + "\n" for r in runs[:3]))
    assert gj.evaluated_runs(recs) == {gj.run_identity(r) for r in runs[:3]}
    # a run whose checkpoint was retrained since its records (another config.json digest) is
    # evaluated again by --resume: not counted as done, so its cost is dealt to a lane
    from mfdiff_agents.checkpoint import FORMAT_VERSION, checkpoint_identity

    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "config.json").write_text(json.dumps({  # saved before config digests: weights' hash
        "format_version": FORMAT_VERSION, "method": "bc", "config": {}, "env": {},
        "weights_sha256": "abc"}))
    ident = checkpoint_identity(ckpt)
    rows = [{"method": m, "config": {"policy": str(ckpt), "set": {}, "checkpoint": c}}
            for m, c in (("same", ident), ("retrained", {**ident, "id": "other"}),
                         ("before ids", None))]
    recs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert gj.evaluated_runs(recs) == {
        gj.run_identity({"label": m, "policy": str(ckpt), "set": {}})
        for m in ("same", "before ids")}

    reports = []
    monkeypatch.setattr(gj.subprocess, "run", lambda cmd, check: reports.append(cmd))
    rec = {"method": "random", "config": {"policy": "random"}, "env_id": "e", "n_agents": 10,
           "seed": 0}
    (tmp_path / "records-squeeze-lane0.jsonl").write_text(json.dumps(rec) + "\n")
    (tmp_path / "records-squeeze-lane1.jsonl").write_text(json.dumps({**rec, "seed": 1}) + "\n")
    gj.merge_lanes(["squeeze"], tmp_path)
    merged = (tmp_path / "records-squeeze.jsonl").read_text().splitlines()
    assert sorted(json.loads(x)["seed"] for x in merged) == [0, 1]
    assert not list(tmp_path.glob("records-squeeze-lane*"))
    assert reports[0][:3] == ["mfdiff", "eval", "--records"] and "grid_squeeze" in reports[0]
    (tmp_path / "records-squeeze-lane0.jsonl").write_text(json.dumps(rec) + "\n")
    (tmp_path / "records-squeeze-lane1.jsonl").write_text(json.dumps(rec) + "\n")
    with pytest.raises(ValueError):
        gj.merge_lanes(["squeeze"], tmp_path)


def test_eval_lanes_keep_records_seed_every_lane(tmp_path):
    gj = _module()
    (tmp_path / "records-ising.jsonl").write_text('{"kept": true}\n')
    jobs = gj.eval_jobs(["ising"], tmp_path, keep=True, lanes=2)
    assert all("--resume" in cmd for cmd, _, _ in jobs)
    for i in range(2):
        assert (tmp_path / f"records-ising-lane{i}.jsonl").read_text() == '{"kept": true}\n'


def test_learning_curves_cli_defaults_to_every_family():
    spec = importlib.util.spec_from_file_location("learning_curves",
                                                  ROOT / "experiments/learning_curves.py")
    lc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lc)
    assert lc.parse_args([]).families == ["squeeze", "ising", "battle"]
    assert lc.parse_args(["ising"]).families == ["ising"]
    with pytest.raises(SystemExit):
        lc.parse_args(["chess"])


@pytest.mark.parametrize("path", sorted(FAMILY_CONFIG_DIR.glob("*/*.json")),
                         ids=lambda p: f"{p.parent.name}-{p.stem}")
def test_every_family_config_is_a_valid_config_of_its_method(path):
    from mfdiff_agents.config import build_config
    from mfdiff_agents.methods import METHODS

    cls = METHODS[path.parent.name].config
    cfg = build_config(cls, config_path=path)
    for key, value in json.loads(path.read_text()).items():
        got = getattr(cfg, key)
        assert (list(got) if isinstance(got, tuple) else got) == value, key
    assert path.stem in ("squeeze", "ising", "battle")  # found by the dataset's family name


@pytest.mark.parametrize("algo, family, named", [
    ("bc", "squeez", "unknown family 'squeez'; families: squeeze, ising, battle"),
    ("bcc", "squeeze", "unknown algo 'bcc'; algos: mfdiffuser, bc, mfq"),
], ids=["family", "algo"])
def test_family_config_refuses_an_unknown_algo_or_family(algo, family, named, tmp_path,
                                                         monkeypatch):
    """Audit: a misspelt name read as "no settings file" and gave {} (the Config defaults),
    silently; only a known pair without a file may give {}."""
    import mfdiff_agents.family_configs as fc

    with pytest.raises(ValueError, match=named):
        family_config(algo, family)
    monkeypatch.setattr(fc, "FAMILY_CONFIG_DIR", tmp_path)  # no file for any pair
    assert family_config("bc", "squeeze") == {} and family_config("bc", None) == {}
    with pytest.raises(ValueError, match=named):
        family_config(algo, family)
    # a review of the forty-fourth update: MAgentBattle's family is Battle's kin, and a user's
    # own <algo>/<family>.json is read (train_config looks files up by the dataset's family)
    assert family_config("bc", "magent_battle") == {}
    (tmp_path / "bc").mkdir()
    (tmp_path / "bc" / "mygame.json").write_text('{"steps": 7}')
    assert family_config("bc", "mygame") == {"steps": 7}


def test_battle_head_blind_names_the_features_it_was_chosen_for():
    """The Battle config's head_blind holds indices into the observation: they must still be x,
    y and enemy_in_range (docs/results/battle_blind_1_2_9.md), so that reordering Battle's
    features cannot silently blind the head to others."""
    from mfdiff_envs.battle import OBS_NAMES

    blind = family_config("mfdiffuser", "battle")["head_blind"]
    assert [OBS_NAMES[i] for i in blind] == ["x", "y", "enemy_in_range"]


def test_scripts_measured_before_the_value_baseline_pin_it_off():
    """The Battle config weighs its head's pairs against a state baseline since the
    twenty-third update (head_value): every experiment that pins the head of an earlier config
    (``head_blind=[]``: the whole plan, until the twenty-second) pins ``head_value=false`` too,
    and so does every earlier grid variant, so that their tables keep measuring what they
    measured."""
    _module()
    import make_sweep

    assert family_config("mfdiffuser", "battle")["head_value"] is True
    for path in sorted((ROOT / "experiments").glob("*")):
        if path.suffix not in (".sh", ".py") or path.name == "make_sweep.py":
            continue
        text = path.read_text()
        for at in [i for i in range(len(text)) if text.startswith("head_blind=[]", i)]:
            assert "head_value=false" in text[at:at + 250], f"{path.name}: {text[at - 80:at + 250]}"
    for v in make_sweep.MFD_VARIANTS["battle"]:  # the config of then (head_value true) aside
        assert "head_value" in v.sets or v.stem == make_sweep.mfd_dir("battle", before=True), v
    assert make_sweep.mfd_dir("battle", before=True) == "mfdiffuser-blind-hv"


def test_battle_measured_before_the_own_plans_head_keeps_its_training():
    """The Battle config trains its head alone on the diffusion model's own plans after 400
    steps since the thirty-third update: every grid variant trained before pins the previous
    training (HEAD_ON_DATA), the experiment scripts train with the previous config file
    (lib.sh mfd_config; battle_own_plans' recipe sets all three fields), and that file is the
    config as it was, but for those fields."""
    _module()
    import make_sweep

    cfg = family_config("mfdiffuser", "battle")
    assert (cfg["steps"], cfg["diffusion_steps"], cfg["head_own_plans"]) == (800, 400, 1.0)
    before = json.loads((ROOT / "experiments/configs/battle_head_on_data.json").read_text())
    assert before["steps"] == 400 and "head_own_plans" not in before
    # (the lifting the config adopted later, in the seventy-second update, aside: the grid
    # trains without it, GRID_TRAIN_PINNED)
    later = make_sweep.GRID_TRAIN_PINNED["battle"]
    assert {k: v for k, v in cfg.items() if k not in {**make_sweep.HEAD_ON_DATA, **later}} == {
        k: v for k, v in before.items() if k != "steps"}
    for v in make_sweep.MFD_VARIANTS["battle"]:
        sets = {**make_sweep.HEAD_ON_DATA, **v.sets}
        assert v.sets.get("head_own_plans") == 0 and sets == v.sets, v
    assert make_sweep.mfd_dir("battle") != make_sweep.mfd_dir("battle", before=True)
    for path in sorted((ROOT / "experiments").glob("*.sh")):
        if path.name != "lib.sh":  # mfd_config itself, and train_battle_head's full recipe
            for line in path.read_text().splitlines():
                code = line.split("#")[0]
                assert "configs/mfdiffuser/battle" not in code and \
                    "configs/mfdiffuser/$" not in code, f"{path.name}: {line}"
    got = subprocess.run(["bash", "-c", "source experiments/lib.sh; mfd_config battle; "
                          "mfd_config squeeze"], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.split()
    assert got == ["experiments/configs/battle_head_on_data.json",
                   "configs/mfdiffuser/squeeze.json"]


def test_ising_stage_steps_config_row_and_rows_measured_before_pin_the_even_split(capsys):
    """Ising's config splits its 20 DDIM steps 8 / 8 / 4 over the particle levels since the
    fifty-eighth update: the grid's config row (and its head-ensemble variant) act with it, every
    row and experiment script measured before pins the near-even split (stage_steps null, written
    "none" in a sweep file: TOML has no null) or trains with the config as it was
    (experiments/configs/ising_even_steps.json, lib.sh mfd_config), and a sweep's "none" is the
    records' null to --keep-records."""
    _module()
    import make_sweep
    from grid_jobs import run_identity

    cfg = family_config("mfdiffuser", "ising")
    assert cfg["stage_steps"] == [8, 8, 4] and sum(cfg["stage_steps"]) == cfg["ddim_steps"]
    before = json.loads((ROOT / "experiments/configs/ising_even_steps.json").read_text())
    # and head_data_range since the sixty-fifth update (test_ising_data_range_...)
    assert {k: v for k, v in cfg.items() if k not in ("stage_steps", "head_data_range")} == before
    got = subprocess.run(["bash", "-c", "source experiments/lib.sh; mfd_config ising"],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    assert got == ["experiments/configs/ising_even_steps.json"]
    assert make_sweep.family_planning("ising")["stage_steps"] == [8, 8, 4]
    assert make_sweep.one_plan("ising")["stage_steps"] is None
    assert make_sweep.acting_overrides("ising", "mfdiffuser")["stage_steps"] is None
    assert make_sweep.acting_one_plan("ising", "mfdiffuser")["stage_steps"] is None
    assert "stage_steps" not in make_sweep.acting_overrides("squeeze", "mfdiffuser")
    # the scripts that train with the Ising config file itself pin the even split there
    for path in sorted((ROOT / "experiments").glob("*.sh")):
        for line in path.read_text().splitlines():
            code = line.split("#")[0]
            if "configs/mfdiffuser/ising.json" in code:
                assert "--set stage_steps=null" in code, f"{path.name}: {line}"
    make_sweep.main("ising", "runs/grid")
    runs = tomllib.loads(capsys.readouterr().out)["runs"]
    by_label: dict[str, set] = {}
    for r in runs:
        if "mfdiffuser" in r["policy"]:
            by_label.setdefault(r["label"], set()).add(
                json.dumps(r.get("set", {}).get("stage_steps")))
    assert by_label["MF-Diffuser"] == {"[8, 8, 4]"}
    assert by_label["MF-Diffuser, head ensemble of 4"] == {"[8, 8, 4]"}
    # the config until then keeps its row (its records), which the scripts measured before
    # compare with
    assert make_sweep.CONFIG_BEFORE["ising"] in by_label
    for label in ("MF-Diffuser, one plan", "MF-Diffuser, K = 256",
                  "MF-Diffuser, particle actions", make_sweep.CONFIG_BEFORE["ising"]):
        assert by_label[label] == {'"none"'}, label
    # the grid trains its Ising MF-Diffuser checkpoints without it (their own planning settings
    # are what the scripts acting with them measured; the committed records' settings digest)
    from grid_jobs import train_jobs

    for cmd, *_ in train_jobs(["ising", "battle"], Path("/nonexistent")):
        pinned = "stage_steps=None" in cmd  # --set reads None / none / null as None
        assert pinned == ("mfdiffuser" in cmd and "ising" in " ".join(cmd)), cmd
    run = {"label": "x", "policy": "p", "set": {"stage_steps": "none", "ddim_steps": 20}}
    assert run_identity(run) == run_identity({**run, "set": {"stage_steps": None,
                                                             "ddim_steps": 20.0}})
    assert run_identity(run) != run_identity({**run, "set": {"stage_steps": [8, 8, 4],
                                                             "ddim_steps": 20}})


def test_ising_data_range_is_the_config_and_the_grid_and_scripts_act_as_measured(capsys):
    """Ising's config clips the head's inputs to the data's range since the sixty-fifth update
    (head_data_range): the grid trains its checkpoints without it and only its config row
    ("MF-Diffuser", since the sixty-sixth update) spells it out (make_sweep.config_planning);
    every other row and script acts with the checkpoint's own (OWN_PLANNING), so those rows
    act as their committed records were measured, and the config row as it acted until then
    stays a row (OWN_BEFORE: the same settings less the clipping); seed_arms.sh trains
    Ising's arms without it unless an arm sets it."""
    import tomllib

    _module()
    import make_sweep
    from grid_jobs import train_jobs

    assert family_config("mfdiffuser", "ising")["head_data_range"] is True
    for fam in make_sweep.FAMILIES:
        assert "head_data_range" not in make_sweep.family_planning(fam)
        assert "head_data_range" not in make_sweep.acting_overrides(fam, "mfdiffuser")
        assert "head_data_range" not in make_sweep.one_plan(fam)
    assert make_sweep.config_planning("ising") == {**make_sweep.family_planning("ising"),
                                                   "head_data_range": True}
    make_sweep.main("ising", "runs/grid")
    runs = tomllib.loads(capsys.readouterr().out)["runs"]
    with_range = [r for r in runs if "head_data_range" in r.get("set", {})]
    assert {r["label"] for r in with_range} == {"MF-Diffuser"}
    assert all(r["set"]["head_data_range"] is True for r in with_range)
    assert len(with_range) == len([r for r in runs if r["label"] == "MF-Diffuser"]) == 12
    # the row it replaced: the same checkpoints, N and settings less the clipping
    before = [r for r in runs if r["label"] == make_sweep.OWN_BEFORE["ising"]]
    def key(r: dict, **more) -> tuple:
        return r["policy"], r["n_agents"], json.dumps({**r["set"], **more}, sort_keys=True)

    assert sorted(key(r, head_data_range=True) for r in before) == sorted(map(key, with_range))
    mfd = [cmd for cmd, *_ in train_jobs(["ising"], Path("/nonexistent"))
           if "mfdiffuser" in cmd]
    assert mfd and all("head_data_range=False" in cmd for cmd in mfd)
    script = (ROOT / "experiments/seed_arms.sh").read_text()
    assert "sets+=(--set head_data_range=false)" in script


def test_battle_cold_lift_is_the_config_and_the_grid_and_scripts_act_as_measured(capsys):
    """Battle's config lifts cold on 512 Sinkhorn rows since the seventy-second update
    (lift_warm_start false, lift_sinkhorn_rows 512): as with Ising's head_data_range, the grid
    trains its checkpoints with the lifting before it (the Config defaults, so the checkpoints'
    identity is unchanged), only its config row spells the new lifting out, the row before stays
    as "MF-Diffuser, warm lift", and the experiment scripts that train Battle's MF-Diffuser with
    the family config pin the lifting before it (lib.sh LIFT_BEFORE)."""
    _module()
    import make_sweep
    from grid_jobs import train_jobs

    from mfdiff_agents.diffuser.config import Config

    cfg = family_config("mfdiffuser", "battle")
    assert (cfg["lift_warm_start"], cfg["lift_sinkhorn_rows"]) == (False, 512)
    pinned = make_sweep.GRID_TRAIN_PINNED["battle"]
    assert pinned == {"lift_warm_start": Config.lift_warm_start,
                      "lift_sinkhorn_rows": Config.lift_sinkhorn_rows}
    for fam in make_sweep.FAMILIES:
        assert not {"lift_warm_start", "lift_sinkhorn_rows"} & set(
            make_sweep.acting_overrides(fam, "mfdiffuser"))
    make_sweep.main("battle", "runs/grid")
    runs = tomllib.loads(capsys.readouterr().out)["runs"]
    cold = [r for r in runs if "lift_warm_start" in r.get("set", {})]
    assert {r["label"] for r in cold} == {"MF-Diffuser"}
    assert len(cold) == 6 and all(r["set"]["lift_sinkhorn_rows"] == 512 for r in cold)
    before = [r for r in runs if r["label"] == make_sweep.OWN_BEFORE["battle"]]

    def key(r: dict) -> tuple:
        rest = {k: v for k, v in r["set"].items() if not k.startswith("lift_")}
        return r["policy"], r["n_agents"], json.dumps(rest, sort_keys=True)

    assert sorted(map(key, before)) == sorted(map(key, cold))
    mfd = [cmd for cmd, *_ in train_jobs(["battle"], Path("/nonexistent"))
           if "mfdiffuser" in cmd]
    assert mfd and all("lift_warm_start=True" in cmd and "lift_sinkhorn_rows=2048" in cmd
                       for cmd in mfd)
    lib = (ROOT / "experiments/lib.sh").read_text()
    assert "LIFT_BEFORE=(--set lift_warm_start=true --set lift_sinkhorn_rows=2048)" in lib
    recipe = lib.split("train_battle_head() {", 1)[1].split("\n}", 1)[0]
    assert '"${LIFT_BEFORE[@]}"' in recipe
    for name in ("seed_arms.sh", "fresh_seeds.sh", "battle_data_range.sh"):
        assert '"${LIFT_BEFORE[@]}"' in (ROOT / "experiments" / name).read_text(), name


def test_ising_grid_caps_particles_where_it_matters_and_earlier_rows_pin_it_off(capsys,
                                                                              tmp_path):
    """The Ising config caps its particles at N since the twenty-fifth update (cap_particles):
    the grid's MF-Diffuser row carries it at N = 10^2; at N >= K_max, where the cap plans the
    same particles, every row keeps the settings and records it had; the rows and scripts of
    earlier configs (one plan, ``before_cap``) pin it off, since a checkpoint trained with the
    config now carries it; grid_records finds a row's records at either N."""
    import tomllib

    _module()
    import make_sweep

    assert family_config("mfdiffuser", "ising")["cap_particles"] is True
    assert make_sweep.one_plan("ising")["cap_particles"] is False
    # every family: one_plan pins each planning field of the config (a field left out would
    # act as the checkpoint was trained, i.e. as the config says today)
    for fam in make_sweep.FAMILIES:
        assert set(make_sweep.family_planning(fam)) <= set(make_sweep.one_plan(fam)), fam
    # one plan pinned: a checkpoint trained with the config carries its mixture of 4
    assert family_config("mfdiffuser", "ising")["plan_samples"] == 4
    assert make_sweep.one_plan("ising")["plan_samples"] == 1
    assert make_sweep.one_plan("ising")["plan_combine"] == "best"
    assert make_sweep.acting_one_plan("ising", "mfdiffuser")["cap_particles"] is False
    config = make_sweep.acting_overrides("ising", "mfdiffuser")
    assert config["cap_particles"] is True
    assert make_sweep.before_cap(config) == {**config, "cap_particles": False}
    battle = make_sweep.acting_overrides("battle", "mfdiffuser")
    assert "cap_particles" not in make_sweep.before_cap(battle) == battle
    assert "cap_particles" not in make_sweep.one_plan("squeeze")
    # the cap is dropped only where every N reaches the schedule's last entry
    big = {"k_schedule": [16, 64, 256], "cap_particles": True}
    assert make_sweep.cap_noop_dropped(big, [256, 1024]) == {"k_schedule": [16, 64, 256]}
    assert make_sweep.cap_noop_dropped(big, [100, 1024]) == big
    assert make_sweep.cap_noop_dropped({"cap_particles": True}, [1000]) == {}  # Config's 256
    assert make_sweep.cap_noop_dropped({"cap_particles": True}, [255]) == {"cap_particles": True}
    assert make_sweep.cap_split(big, [100, 1024, 256]) == [(big, [100]),
                                                           ({"k_schedule": [16, 64, 256]},
                                                            [1024, 256])]
    assert make_sweep.cap_split(big, [100]) == [(big, [100])]
    assert make_sweep.cap_split({"k_schedule": [256]}, [100, 1024]) == [
        ({"k_schedule": [256]}, [100, 1024])]
    make_sweep.main("ising", "runs/grid")
    runs = tomllib.loads(capsys.readouterr().out)["runs"]
    cap: dict[tuple[str, int], set] = {}
    for r in runs:
        if "/mfdiffuser" in r["policy"]:
            for n in r["n_agents"]:
                cap.setdefault((r["label"], n), set()).add(r["set"].get("cap_particles"))
    for n in (1024, 3025, 10000):  # N >= K_max = 512: the settings (and records) before the cap
        assert cap["MF-Diffuser", n] == cap["MF-Diffuser, one plan", n] == {None}
    assert cap["MF-Diffuser", 100] == {True}
    assert cap["MF-Diffuser, one plan", 100] == {False}
    for label in ("MF-Diffuser, particle actions", "MF-Diffuser, K = 256",
                  "MF-Diffuser, head ensemble of 4"):
        assert cap[label, 1024] == {None}, label
    assert "before_cap(acting_overrides" in (ROOT / "experiments/unseen_seeds.sh").read_text()
    # the experiment scripts' comparison rows: the config's records at N < and >= K_max
    rows = [{"method": "MF-Diffuser", "tier": "medium", "env_kwargs": {"n_agents": n},
             "config": {"policy": "runs/grid/ckpt/x/mfdiffuser-s0",
                        "set": make_sweep.cap_noop_dropped(config, [n])}}
            for n in (100, 1024)]
    (tmp_path / "records-ising.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    got = make_sweep.grid_records("ising", ("mfdiffuser-s0",), config, (100, 1024),
                                  lambda r: "grid", records=str(tmp_path))
    assert [r["env_kwargs"]["n_agents"] for r in got] == [100, 1024]


def test_squeeze_config_acts_on_the_mixture_and_earlier_rows_pin_the_best_of_4(capsys):
    """The Squeeze config acts on the mixture of its 4 plans since the thirty-eighth update
    (plan_combine "mean"): the grid's config row carries it; every other MF-Diffuser row of the
    grid, the experiment scripts' acting (acting_overrides, one_plan) and the one-head
    checkpoints' training pin the best of 4 they were measured with, since a checkpoint
    trained with the config now carries the mixture."""
    import tomllib

    _module()
    import make_sweep

    assert family_config("mfdiffuser", "squeeze")["plan_combine"] == "mean"
    assert make_sweep.family_planning("squeeze")["plan_combine"] == "mean"
    assert make_sweep.acting_overrides("squeeze", "mfdiffuser")["plan_combine"] == "best"
    assert make_sweep.acting_one_plan("squeeze", "mfdiffuser")["plan_combine"] == "best"
    assert make_sweep.before_plans("ising", {"plan_combine": "mean"}) == {
        "plan_combine": "mean"}  # no entry: unchanged
    make_sweep.main("squeeze", "runs/grid")
    runs = tomllib.loads(capsys.readouterr().out)["runs"]
    rule: dict[str, set] = {}
    for r in runs:
        if "/mfdiffuser" in r["policy"]:
            rule.setdefault(r["label"], set()).add(r["set"].get("plan_combine"))
    assert rule.pop("MF-Diffuser") == {"mean"}
    assert set(rule) >= {"MF-Diffuser, best of 4 plans", "MF-Diffuser, particle actions",
                         "MF-Diffuser, one plan", "MF-Diffuser, one head"}
    assert all(v == {"best"} for v in rule.values()), rule
    (one_head,) = make_sweep.MFD_VARIANTS["squeeze"]
    assert one_head.sets["plan_combine"] == "best"
    # the scripts measured on the best of 4 that build their acting from the family config
    for script in ("head_noise.sh", "squeeze_decode.sh", "squeeze_head_noise.sh",
                   "squeeze_uniform.sh"):
        text = (ROOT / "experiments" / script).read_text()
        pinned = text.count('before_plans("squeeze", family_planning("squeeze"))')
        assert pinned and pinned == text.count('family_planning("squeeze")'), script


def test_every_grid_method_has_a_budget_per_family_and_the_clone_links_them():
    """The grid trains every method for its family file's ``steps`` (no other budget table),
    and configs/<algo> in a clone is the package's directory (the docs' commands use it)."""
    _module()
    import make_sweep

    for fam in make_sweep.FAMILIES:
        for algo in make_sweep.METHODS:
            assert make_sweep.grid_steps(fam, algo) > 0
    for algo in make_sweep.METHODS:
        assert (ROOT / "configs" / algo).resolve() == FAMILY_CONFIG_DIR / algo


def test_gpu_benchmark_keeps_every_checkpoint_flag():
    spec = importlib.util.spec_from_file_location("gpu_bench", ROOT / "benchmarks/gpu.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    both = {"ising": "A", "battle": "B"}
    assert bench.parse_args(["--checkpoint", "ising=A", "--checkpoint", "battle=B"]).ckpts == both
    assert bench.parse_args(["--checkpoint", "ising=A", "battle=B"]).ckpts == both
    with pytest.raises(SystemExit):
        bench.parse_args(["--checkpoint", "chess=C"])
    with pytest.raises(SystemExit):
        bench.parse_args(["--repeats", "0"])
    with pytest.raises(SystemExit):  # nothing of its own to plan at
        bench.parse_args(["--acting", "checkpoint"])
    for sizes in (["100", "100"], ["1000", "1024"]):  # one row each, not pooled repeats
        with pytest.raises(SystemExit):
            bench.parse_args(["--sizes", *sizes])
    assert bench.parse_args(["--sizes", "100", "1000"]).sizes == [100, 1000]
    # planning fields over the checkpoints' (fifty-seventh update: stage_steps)
    a = bench.parse_args(["--checkpoint", "ising=A", "--set", "stage_steps=[8,8,4]",
                          "replan_every=2"])
    assert a.sets == {"stage_steps": [8, 8, 4], "replan_every": 2}
    for bad in (["--set", "replan_every=2"],  # no checkpoint to change
                ["--checkpoint", "ising=A", "--set", "width=8"],  # not a planning field
                ["--checkpoint", "ising=A", "--set", "stage_steps=[8,"]):  # not JSON
        with pytest.raises(SystemExit):
            bench.parse_args(bad)


def test_gpu_benchmark_lift_share_times_the_lifts_inside_the_steps():
    """--lift-share: the planner's balanced lifts are timed inside each step, cold ones (after a
    replan) apart from warm ones, and their share is a part of the step's time."""
    import torch

    from mfdiff_envs.battle import BattleCore

    spec = importlib.util.spec_from_file_location("gpu_bench", ROOT / "benchmarks/gpu.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    torch.set_num_threads(1)
    core = BattleCore(200, opponent="expert", max_cycles=100)
    r = bench.latency(core, torch.device("cpu"), 6, lift_share=True)  # replans every 4th step
    assert 0 < r["lift_ms"] < r["mean_ms"] and 0 < r["lift_share"] < 1
    assert r["cold_ms"] > 0 and r["warm_ms"] > 0
    assert "lift_ms" not in bench.latency(core, torch.device("cpu"), 2)
    assert bench.parse_args(["--lift-share"]).lift_share
    cells = bench.lift_cells([{"lift_ms": 2.0, "lift_share": 0.1, "cold_ms": 3.0, "warm_ms": 1.0},
                              {"lift_ms": 4.0, "lift_share": 0.3, "cold_ms": 5.0, "warm_ms": 1.0},
                              {"lift_ms": 3.0, "lift_share": 0.2, "cold_ms": 4.0, "warm_ms": 2.0}])
    assert cells == " 3.0 | 20.0 % | 4.0 | 1.0 |"
    nan = float("nan")  # every lift cold (lift_warm_start=false): no warm figure, a dash
    assert bench.lift_cells([{"lift_ms": 2.0, "lift_share": 0.1, "cold_ms": 3.0, "warm_ms": nan}]
                            ) == " 2.0 | 10.0 % | 3.0 | – |"


def test_gpu_benchmark_kinds_time_only_the_kinds_asked_for(capsys):
    """--kinds battle skips Ising (and its lattice check); a --checkpoint of a kind not timed is
    refused rather than listed as measured."""
    spec = importlib.util.spec_from_file_location("gpu_bench", ROOT / "benchmarks/gpu.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.parse_args([]).kinds == ["ising", "battle"]
    assert bench.parse_args(["--kinds", "battle", "--sizes", "10000", "10001"]).kinds == ["battle"]
    with pytest.raises(SystemExit):  # both round to a 100 x 100 lattice
        bench.parse_args(["--sizes", "10000", "10001"])
    with pytest.raises(SystemExit):
        bench.parse_args(["--kinds", "ising", "--checkpoint", "battle=runs/x"])
    assert "not among --kinds" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.parse_args(["--kinds", "battle", "battle"])


def test_lifting_warm_benchmark_solves_a_call_three_ways_and_times_its_parts():
    """benchmarks/lifting_warm.py: a recorded call solved warm, cold (on any number of rows)
    and exactly; exact OT is the cheapest assignment, and the Sinkhorn route's time splits
    into the potential and the rounding (both inside the call's time), exact OT has neither."""
    import torch

    spec = importlib.util.spec_from_file_location("lifting_warm_bench",
                                                  ROOT / "benchmarks/lifting_warm.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    gen = torch.Generator().manual_seed(0)
    points, centers = torch.randn(600, 5, generator=gen), torch.randn(16, 5, generator=gen)
    call = {"points": points, "centers": centers, "g": torch.randn(16, generator=gen),
            "gen": gen.get_state(), "exact_max_cells": 10 * 16}  # 600 rows: Sinkhorn route
    exact = bench.solve(call, "exact")
    assert exact[3] == 0.0 and exact[4] == 0.0  # no Sinkhorn, an integral plan: no rounding
    for start, rows in (("warm", 2048), ("cold", 2048), ("cold", 128)):
        dt, rounds, cost, t_sink, t_round = bench.solve(call, start, rows)
        assert rounds >= 1 and cost >= exact[2] * (1 - 1e-9)
        assert 0 < t_sink and 0 < t_round and t_sink + t_round <= dt
    from mfdiff_agents.diffuser import lifting  # the timing leaves the library as it was
    assert lifting.sinkhorn_potential.__module__ == lifting.__name__
    assert lifting.round_balanced.__module__ == lifting.__name__


def test_lifting_warm_benchmark_records_with_the_warm_start(monkeypatch):
    """benchmarks/lifting_warm.py records its calls with the warm start on 2048 rows whatever
    the checkpoint lifts with (the Battle config lifts cold on 512 since the seventy-second
    update, which left no warm start to record: the script refused such checkpoints)."""
    spec = importlib.util.spec_from_file_location("lifting_warm_bench",
                                                  ROOT / "benchmarks/lifting_warm.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    from mfdiff_agents.diffuser.config import Config

    assert bench.RECORD_SETS == {"lift_warm_start": True,
                                 "lift_sinkhorn_rows": Config.lift_sinkhorn_rows}
    seen = {}

    class Stop(Exception):
        pass

    def planner_for(core, device, checkpoint, own_settings=False, sets=None):
        seen.update(own_settings=own_settings, sets=sets)
        raise Stop

    monkeypatch.setattr(bench, "planner_for", planner_for)
    with pytest.raises(Stop):
        bench.record("ck", 100, 1, 0)
    assert seen == {"own_settings": True, "sets": bench.RECORD_SETS}


def test_gpu_benchmark_ratio_is_each_repeats_own_and_their_median():
    """With repeats, the latency ratio pairs repeat r's largest N with repeat r's smallest (not
    the medians' ratio) and reports their median and largest; one repeat prints the plain ratio."""
    spec = importlib.util.spec_from_file_location("gpu_bench", ROOT / "benchmarks/gpu.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rows = [("battle", 100, 50, 20.0, 2.0, 1.0), ("battle", 10_000, 5000, 50.0, 40.0, 1.0),
            ("battle", 100_000, 50_000, 300.0, 290.0, 1.0), ("ising", 100, 100, 10.0, 1.0, 1.0)]
    runs = {("battle", 100): [10.0, 20.0, 25.0], ("battle", 10_000): [40.0, 50.0, 100.0],
            ("battle", 100_000): [1.0, 1.0, 1.0], ("ising", 100): [10.0, 10.0, 10.0]}
    (line,) = bench.ratio_lines(rows, runs)
    assert line == ("Planning step (mean) battle: N = 10,000 / N = 100 = 4.00× (median of 3 runs;"
                    " each run: 4.00, 2.50, 4.00; largest 4.00×).")
    assert bench.ratio_lines(rows) == ["Planning step (mean) battle: N = 10,000 / N = 100 = 2.50×."]


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="compares against a git commit")
def test_rounding_benchmark_compares_the_two_versions_on_the_same_calls(capsys, monkeypatch):
    """benchmarks/rounding.py records Battle's rounding calls and runs each with today's
    round_balanced and a commit's: against HEAD (the same function) it reports the same
    assignments; against a version that misplaces one agent it reports **no**."""
    spec = importlib.util.spec_from_file_location("rounding_bench", ROOT / "benchmarks/rounding.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    calls = bench.record_calls(None, 6000, 2)  # random weights; N = 6000 takes the Sinkhorn route
    assert len(calls) == 3 and all(c["gen"] is not None for c in calls)
    a1, r1, _ = bench.run(bench.lifting.round_balanced, calls[0])
    a2, r2, _ = bench.run(bench.lifting.round_balanced, calls[0])  # same generator state again
    assert r1 == r2 and torch.equal(a1, a2)
    args = ["--ref", "HEAD", "--n-agents", "6000", "--steps", "1", "--repeats", "1"]
    assert bench.main(args) == 0
    row = capsys.readouterr().out.strip().splitlines()[-1]
    assert row.startswith("| 6,000 | 2 |") and row.endswith("| yes |")

    def moved(*a, **kw):
        assign, rounds = bench.lifting.round_balanced(*a, **kw)
        assign[0] = -1  # one agent placed nowhere
        return assign, rounds

    monkeypatch.setattr(bench, "lifting_at", lambda ref, tmp: type("M", (), {
        "round_balanced": staticmethod(moved)}))
    assert bench.main(args) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].endswith("| **0 of 2** |")


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="compares against a git commit")
def test_rounding_benchmark_times_the_whole_lift(capsys, monkeypatch):
    """``--function lift_balanced``: the planner's balanced lifts recorded and run by both
    versions; against HEAD the same assignments and costs, and with ``--draws`` each version's
    cost over exact OT's from fresh seeds (equal for the same code); a version whose lift
    costs more shows it in both tables."""
    spec = importlib.util.spec_from_file_location("rounding_bench", ROOT / "benchmarks/rounding.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    args = ["--ref", "HEAD", "--n-agents", "6000", "--steps", "1", "--repeats", "1",
            "--function", "lift_balanced", "--draws", "2"]
    assert bench.main(args) == 0
    out = capsys.readouterr().out.strip().splitlines()
    timing = next(r for r in out if r.startswith("| 6,000 | 1 |"))
    assert timing.endswith("| yes | 1.000000 | 1.000000 | 1.000000 |")
    gap = out[-1].split(" | ")  # | N | between | ref | today | replans | ref | today |
    assert gap[0] == "| 6,000" and gap[2] == gap[3] and float(gap[2].split(" ±")[0]) >= 1.0

    real = bench.lifting.lift_balanced

    def shuffled(points, centers, **kw):  # a worse lift: the assignment rotated by one agent
        assign, st = real(points, centers, **kw)
        return assign.roll(1), st

    monkeypatch.setattr(bench, "lifting_at", lambda ref, tmp: type("M", (), {
        "lift_balanced": staticmethod(shuffled), "LiftState": bench.lifting.LiftState}))
    assert bench.main(args) == 0
    out = capsys.readouterr().out.strip().splitlines()
    timing = next(r for r in out if r.startswith("| 6,000 | 1 |")).split(" | ")
    assert timing[6] == "**0 of 1**" and float(timing[7]) < 1.0  # today's cost below the other's
    gap = out[-1].split(" | ")
    assert float(gap[2].split(" ±")[0]) > float(gap[3].split(" ±")[0])
    with pytest.raises(SystemExit):
        bench.main(["--ref", "HEAD", "--draws", "1"])  # --draws needs the lift


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="compares against a git commit")
def test_act_checks_benchmark_times_both_versions(capsys):
    """benchmarks/act_checks.py times act_batch's checks in today's policy.py and a commit's
    (here HEAD's: the same file), every case in its own processes; the training-bounds case
    has no reference column."""
    spec = importlib.util.spec_from_file_location("act_bench", ROOT / "benchmarks/act_checks.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--ref", "HEAD", "--n-agents", "50", "--repeats", "1",
                       "--calls", "5"]) == 0
    rows = [r for r in capsys.readouterr().out.splitlines() if r.startswith("| 50 |")]
    assert [r.split(" | ")[1] for r in rows] == ["unbound", "bound", "training"]
    assert rows[2].endswith("| – |") and not rows[0].endswith("| – |")


def test_rounding_benchmark_sets_reach_the_planner(monkeypatch, capsys):
    """``--set`` of benchmarks/rounding.py: planning fields over the checkpoint's planner (the
    recorded calls are then the cold lifts' ones), named in the table's header; an unknown
    field, a value that is not JSON, or no checkpoint is refused."""
    spec = importlib.util.spec_from_file_location("rounding_bench", ROOT / "benchmarks/rounding.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    seen = {}

    def fake_record(checkpoint, n, steps, sets=None):
        seen.update(checkpoint=checkpoint, sets=sets)
        return []

    monkeypatch.setattr(bench, "record_calls", fake_record)
    monkeypatch.setattr(bench, "lifting_at", lambda ref, tmp: None)
    assert bench.main(["--ref", "HEAD", "--checkpoint", "ck", "--set", "lift_warm_start=false",
                       "lift_sinkhorn_rows=1024"]) == 0
    assert seen == {"checkpoint": "ck",
                    "sets": {"lift_warm_start": False, "lift_sinkhorn_rows": 1024}}
    assert "lift_warm_start=false, lift_sinkhorn_rows=1024" in capsys.readouterr().out
    for bad in (["--checkpoint", "ck", "--set", "nonsense=1"],
                ["--checkpoint", "ck", "--set", "lift_sinkhorn_rows=x"],
                ["--set", "lift_warm_start=false"]):
        with pytest.raises(SystemExit):
            bench.main(["--ref", "HEAD", *bad])


@pytest.mark.parametrize("family", ["squeeze", "ising", "battle"])
def test_planning_steps_sweep_loads_and_each_row_changes_its_fields(family, capsys, tmp_path):
    """experiments/planning_steps.py: a valid sweep per family whose every row is the family's
    planning settings with that row's fields on top (and nothing else), each a valid Config."""

    sys.path.insert(0, str(ROOT / "experiments"))
    spec = importlib.util.spec_from_file_location("planning_steps",
                                                  ROOT / "experiments/planning_steps.py")
    ps = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ps)
    import make_sweep

    from mfdiff_agents.config import build_config
    from mfdiff_agents.diffuser.config import PLANNING_FIELDS, Config
    from mfdiff_agents.evaluation.report import canonical_overrides
    from mfdiff_agents.evaluation.sweep import load_sweep

    ps.main("runs/grid", family)
    (tmp_path / "sweep.toml").write_text(capsys.readouterr().out)
    runs = load_sweep(tmp_path / "sweep.toml")["runs"]
    rows = dict(ps.ROWS[family])
    assert len(runs) == 2 * 3 * len(rows)  # tiers x training seeds x rows
    for run in runs:
        over = rows[run["label"].split(": ", 1)[1]]
        # measured before the fourteenth update: the one-plan acting of the time, pinned
        want = {**make_sweep.ACTING, **make_sweep.one_plan(family),
                **ps.PINNED.get(family, {}), **over}
        # (a None written "none": TOML has no null)
        assert canonical_overrides(run["set"]) == canonical_overrides(want)
        assert set(run["set"]) <= set(PLANNING_FIELDS)
        # the written values (the "none" included) read as the settings meant
        got = build_config(Config, run["set"])
        assert {k: getattr(got, k) for k in want} == {
            k: tuple(v) if isinstance(v, list) else v for k, v in want.items()}


@pytest.mark.parametrize("script", sorted((ROOT / "experiments").glob("*.sh")),
                         ids=lambda p: p.stem)
def test_experiment_scripts_parse(script):
    """Every experiment script is valid bash (a typo would only show after hours of training)."""
    r = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_train_once_keeps_finished_runs_and_resumes_interrupted_ones(tmp_path):
    """experiments/lib.sh train_once: a finished checkpoint (train_done) is kept, an interrupted
    one (no mark) goes on from its train state (--resume) or, with none, is trained into as it
    is (never deleted: that removed a live run's lock; an outside audit), and a failed training
    leaves no mark."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "mfdiff"  # records its arguments, writes a checkpoint file into --out
    fake.write_text('#!/usr/bin/env bash\necho "$@" >> "$CALLS"\n'
                    'while [ $# -gt 0 ]; do [ "$1" = --out ] && out=$2; shift; done\n'
                    '[ -n "${FAIL:-}" ] && exit 3\nmkdir -p "$out"; echo w > "$out/model"\n')
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}",
           "CALLS": str(tmp_path / "calls")}
    script = (f"set -euo pipefail; source {ROOT}/experiments/lib.sh; "
              'train_once "$1" "$2" --dataset d --set seed=0')

    def run(ckpt: Path, **extra: str) -> int:
        return subprocess.run(["bash", "-c", script, "_", str(ckpt), str(tmp_path / "log")],
                              env={**env, **extra}).returncode

    done, stale, failed = tmp_path / "done", tmp_path / "stale", tmp_path / "failed"
    done.mkdir()
    (done / "train_done").touch()
    stale.mkdir()
    (stale / "leftover").touch()
    assert run(done) == 0 and not (tmp_path / "calls").exists()
    assert run(stale) == 0
    assert (stale / "train_done").exists() and (stale / "model").exists()
    assert (stale / "leftover").exists()
    calls = (tmp_path / "calls").read_text().split()
    assert calls[:4] == ["train", "--dataset", "d", "--set"] and "--no-progress" in calls
    assert "--resume" not in calls and "--no-family-config" in calls
    saved = tmp_path / "saved"
    saved.mkdir()
    (saved / "train_state.pt").touch()
    (tmp_path / "calls").unlink()
    assert run(saved) == 0 and "--resume" in (tmp_path / "calls").read_text().split()
    assert run(failed, FAIL="1") == 3 and not (failed / "train_done").exists()


def test_wait_all_fails_when_any_job_failed_after_all_ended(tmp_path):
    """experiments/lib.sh wait_all: a plain `wait` returned 0 over a failed job (scripts went on
    to evaluate an unfinished checkpoint: an outside audit); wait_all fails, once all ended."""
    end = tmp_path / "slow_ended"
    script = (f"set -euo pipefail; source {ROOT}/experiments/lib.sh; "
              f"(exit 3) & a=$!; (sleep 0.5; touch {end}) & b=$!; "
              'wait_all "$a" "$b"; echo went-on')
    r = subprocess.run(["bash", "-c", script], capture_output=True, text=True)
    assert r.returncode != 0 and "went-on" not in r.stdout and end.exists()
    ok = f"set -euo pipefail; source {ROOT}/experiments/lib.sh; true & a=$!; wait_all $a; echo ok"
    assert subprocess.run(["bash", "-c", ok], capture_output=True, text=True).stdout == "ok\n"


def test_eval_tier_lanes_runs_both_sweeps_then_one_report(tmp_path):
    """experiments/lib.sh eval_tier_lanes: one `mfdiff eval --sweep` per tier (resumable), then
    one report over both record files; a failing lane stops the script before the report."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "mfdiff"
    fake.write_text('#!/usr/bin/env bash\necho "$*" >> "$CALLS"\n'
                    '[[ -n "${FAIL:-}" && "$*" == *sweep_mixed* ]] && exit 4\nexit 0\n')
    fake.chmod(0o755)
    calls = tmp_path / "calls"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "CALLS": str(calls)}
    script = (f"set -euo pipefail; source {ROOT}/experiments/lib.sh; "
              'eval_tier_lanes out rep "bash x.sh"; echo done >> "$CALLS"')
    assert subprocess.run(["bash", "-c", script], env=env).returncode == 0
    lines = calls.read_text().splitlines()
    sweeps = sorted(line for line in lines if "--sweep" in line)
    assert len(sweeps) == 2 and "sweep_medium" in sweeps[0] and "sweep_mixed" in sweeps[1]
    assert all("--resume" in line for line in sweeps)
    report = lines[-2]
    assert report.startswith("eval --records out/records-medium.jsonl out/records-mixed.jsonl")
    assert "--name rep" in report and lines[-1] == "done"
    calls.unlink()
    assert subprocess.run(["bash", "-c", script], env={**env, "FAIL": "1"}).returncode != 0
    assert not any("--records" in line for line in calls.read_text().splitlines())
    # eval_lanes: any lanes, one report over all of their record files
    calls.unlink()
    lanes = (f"set -euo pipefail; source {ROOT}/experiments/lib.sh; "
             'eval_lanes out rep "bash y.sh" s0 s1 s2')
    assert subprocess.run(["bash", "-c", lanes], env=env).returncode == 0
    lines = calls.read_text().splitlines()
    sweeps = sorted(line.split()[2] for line in lines[:3])
    assert sweeps == [f"out/sweep_s{i}.toml" for i in range(3)]
    assert lines[3].startswith("eval --records out/records-s0.jsonl out/records-s1.jsonl "
                               "out/records-s2.jsonl --report-dir docs/results --name rep")


def test_battle_trace_counts_what_the_expert_does(capsys):
    """experiments/battle_trace.py: the scripted expert attacks every enemy in range and never
    attacks without one; the shares of an in-range agent's actions add up to 1."""
    spec = importlib.util.spec_from_file_location("battle_trace",
                                                  ROOT / "experiments/battle_trace.py")
    bt = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bt)
    t = bt.trace("expert", 24, 1)
    assert t["attack"] == 1.0 and t["attack_far"] == 0.0
    assert t["attack"] + t["step"] + t["stay"] == pytest.approx(1.0)
    rnd = bt.trace("random", 24, 1)
    assert 0.0 < rnd["attack"] < 0.5 and 0.0 < rnd["attack_far"] < 0.5  # 1 of 6 actions
    assert bt.main(["--n-agents", "24", "--seeds", "1", "expert"]) == 0
    assert "| expert | 1.00 | 0.00 | 0.00 | 0.00 |" in capsys.readouterr().out
    # off both axes the expert picks the axis in proportion to the offsets: mostly, not always,
    # the longer one; a uniform random mover picks either about equally often
    assert 0.6 < bt.trace("expert", 100, 1)["longer_axis"] < 0.97
    assert 0.35 < bt.trace("random", 100, 1)["longer_axis"] < 0.65
    # the expert's march runs into its own front rank: some, not all, of its moves are blocked
    assert 0.0 < bt.trace("expert", 100, 1)["blocked"] < 1.0
    assert bt.parse_spec("runs/x:head_decode=sample,head_temperature=0.5") == (
        "runs/x", {"head_decode": "sample", "head_temperature": 0.5})
    with pytest.raises(SystemExit, match="KEY=VALUE"):
        bt.parse_spec("runs/x:head_decode")
    # --phases: the expert attacks every enemy in range in every phase that has one
    phases = bt.trace_phases("expert", 100, 1)
    assert len(phases) == len(bt.PHASES) and phases[0][0] > 0
    assert all(att == 1.0 for near, att in phases if near > 0)
    rnd = bt.trace_phases("random", 100, 1)
    assert all(0.0 < att < 0.5 for near, att in rnd if near > 0)
    assert bt.main(["--phases", "--n-agents", "24", "--seeds", "1", "expert"]) == 0
    assert "| expert | " in capsys.readouterr().out


def _summarize():
    spec = importlib.util.spec_from_file_location("summarize_grid",
                                                  ROOT / "experiments/summarize_grid.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_seed_table_splits_a_cell_by_training_seed(capsys):
    sg = _summarize()
    assert sg.training_seed({"config": {"policy": "runs/grid/ckpt/x-medium/iql-s12"}}) == "12"
    assert sg.training_seed({"config": {"policy": "expert"}}) is None
    assert sg.training_seed({"config": {"policy": "runs/a-sb"}}) is None

    def rec(seed, score):
        return {"config": {"policy": f"ckpt/mfdiffuser-s{seed}"}, "normalized_score": score}

    by = {("MF-Diffuser", "medium", 100): [rec(0, 90.0), rec(0, 92.0), rec(1, 50.0)],
          ("BC", "medium", 100): [rec(0, 70.0)]}  # one training seed: no rows
    sg.seed_table("ising", by, ["BC", "MF-Diffuser"], [("medium", 100)])
    out = capsys.readouterr().out
    assert "| MF-Diffuser, seed 0 | 91.0 |" in out and "| MF-Diffuser, seed 1 | 50.0 |" in out
    assert "BC, seed" not in out


def test_no_mfdiffuser_row_is_a_cells_best_baseline(capsys):
    """The verdict tables compare an MF-Diffuser row with the learned baselines only: another
    MF-Diffuser row (every grid variant, whatever its label) never counts as the best baseline,
    and every grid variant gets a verdict table of its own."""
    sg = _summarize()
    _module()
    import make_sweep

    labels = [v.label for vs in make_sweep.MFD_VARIANTS.values() for v in vs]
    labels += [e.label for es in make_sweep.EXTRA_ROWS.values() for e in es]
    assert set(labels) <= set(sg.MFD_PLANNERS)
    assert not sg.is_baseline("MF-Diffuser, some future variant") and sg.is_baseline("IQL")

    def recs(v):
        return [{"normalized_score": v + d} for d in (-0.1, 0.0, 0.1)]

    by = {("MF-Diffuser", "medium", 100): recs(100.0), ("BC", "medium", 100): recs(90.0),
          ("MF-Diffuser, head trained on data", "medium", 100): recs(110.0)}
    sg._targets_of("MF-Diffuser", "battle", by,
                   ["BC", "MF-Diffuser", "MF-Diffuser, head trained on data"], [("medium", 100)])
    assert "| medium, 100 | 100.0 | BC 90.0 | +10.0 | yes |" in capsys.readouterr().out


def test_ising_trace_tells_the_expert_from_random_play(capsys):
    """experiments/ising_trace.py: the scripted expert almost never flips a spin that agrees with
    its neighbours; uniform random play flips about half of all spins, aligned or not, every
    step (so every step is a mass flip)."""
    spec = importlib.util.spec_from_file_location("ising_trace",
                                                  ROOT / "experiments/ising_trace.py")
    it = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(it)
    exp = it.trace("expert", 64, 1)
    assert exp["aligned_flip"] < 0.02 and exp["flip"] < 0.5
    rnd = it.trace("random", 64, 1)
    assert 0.35 < rnd["flip"] < 0.65 and 0.35 < rnd["aligned_flip"] < 0.65
    assert rnd["mass"] == 1.0 and rnd["max_flip"] >= rnd["flip"]
    assert it.main(["--n-agents", "64", "--seeds", "1", "random"]) == 0
    assert "| random | " in capsys.readouterr().out
    # --phases: the expert flips most misaligned spins, random about half; the two phases'
    # returns add up to the episode's
    assert exp["misaligned_flip"] > 0.6 and 0.35 < rnd["misaligned_flip"] < 0.65
    for t in (exp, rnd):
        assert abs(t["early"] + t["late"] - t["return"]) < 1e-6
    assert exp["early"] > rnd["early"] and exp["late"] > rnd["late"]
    assert it.main(["--phases", "--n-agents", "64", "--seeds", "1", "expert"]) == 0
    out = capsys.readouterr().out
    assert "| return, rest |" in out and out.count("| expert | ") == 1


def test_need_checkpoints_names_the_missing_one(tmp_path):
    """experiments/lib.sh need_checkpoints: passes when every checkpoint is finished, else exits
    2 naming the first unfinished one and how to make it."""
    done, half = tmp_path / "done", tmp_path / "half"
    done.mkdir()
    half.mkdir()
    (done / "train_done").touch()
    lib = f"set -euo pipefail; source {ROOT}/experiments/lib.sh; "
    ok = subprocess.run(["bash", "-c", lib + f"need_checkpoints 'make it' {done}; echo on"],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout.strip() == "on"
    bad = subprocess.run(["bash", "-c", lib + f"need_checkpoints 'make it' {done} {half}; echo on"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stdout == ""
    assert f"missing {half}: run make it first" in bad.stderr


def test_summarize_keeps_the_sections_of_families_without_records(tmp_path, capsys):
    """--previous: a family with no records keeps its grid.md sections verbatim (marked); one
    with records is rebuilt from them, never copied."""
    sg = _summarize()
    old = ("# Results grid\n\nheader\n\n## squeeze: normalized score\n\nOLD SQUEEZE\n\n"
           "## squeeze: latency\n\nOLD SQ LAT\n\n## ising: normalized score\n\nKEPT ISING\n\n"
           "## battle: normalized score\n\nKEPT BATTLE\n")
    assert sg.previous_sections(old, "ising") == "## ising: normalized score\n\nKEPT ISING\n"
    assert "OLD SQ LAT" in sg.previous_sections(old, "squeeze")
    assert "ising" not in sg.previous_sections(old, "squeeze")
    assert sg.previous_sections(old, "magent") is None
    prev = tmp_path / "grid.md"
    prev.write_text(old)
    rec = {"family": "squeeze", "method": "random", "env_id": "mfdiff/GaussianSqueeze-v0",
           "env_kwargs": {"n_agents": 100}, "normalized_score": 0.0, "optimum_gap": 0.99,
           "latency_ms": 0.1, "seed": 0, "label": "random", "config": {"policy": "random"}}
    records = tmp_path / "records-squeeze.jsonl"
    records.write_text(json.dumps(rec) + "\n")
    sg.main([str(records)], previous=str(prev))
    out = capsys.readouterr().out
    assert "KEPT ISING" in out and "KEPT BATTLE" in out and "OLD SQUEEZE" not in out
    assert "bash experiments/grid.sh squeeze ising battle" in out
    assert "ising, battle sections below are kept verbatim" in out
    assert out.index("## squeeze: normalized score") < out.index("KEPT ISING")
    sg.main([str(records)])  # without --previous: only the family with records
    assert "KEPT ISING" not in capsys.readouterr().out


def test_squeeze_trace_tells_the_expert_from_random_play():
    """experiments/squeeze_trace.py: the scripted expert puts ~22.5 % on level 3 and nobody
    elsewhere; uniform random play puts ~80 % on neither level 2 nor 3."""
    spec = importlib.util.spec_from_file_location("squeeze_trace",
                                                  ROOT / "experiments/squeeze_trace.py")
    st = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(st)
    exp = st.trace("expert", 200, 1)
    assert 0.18 < exp["l3"] < 0.27 and exp["other"] == 0.0 and exp["gone"] == 0.0
    assert abs(exp["level"] - 2.2247) < 0.05
    # the expert's per-step mean level strays by its i.i.d. mixing noise only (~0.03 at
    # N = 200); random play's sits ~2.3 levels off
    assert exp["rms"] < 0.06
    rnd = st.trace("random", 200, 1)
    assert 0.7 < rnd["other"] < 0.9 and rnd["level"] > 4.0 and 2.0 < rnd["rms"] < 2.6


def test_exported_records_carry_the_training_budget(tmp_path, capsys):
    """--export: each record of a checkpoint gets its training steps and seconds, so the budget
    table comes out the same where the checkpoint is gone (a fresh clone)."""
    import gzip

    sg = _summarize()
    ckpt = tmp_path / "ckpt" / "bc-s0"
    ckpt.mkdir(parents=True)
    (ckpt / "metrics.csv").write_text("step,loss,seconds\n500,1.0,4.0\n1000,0.5,8.5\n")
    recs = [{"method": "BC", "env_id": "e", "config": {"policy": str(ckpt)}, "seed": 0},
            {"method": "random", "env_id": "e", "config": {"policy": "random"}, "seed": 0}]
    out = sg.with_training(recs)
    assert out[0]["training"] == {"steps": 1000, "seconds": 8.5} and "training" not in out[1]
    # a record exported before keeps its budget (the checkpoint here may be a retrained copy)
    kept = {**recs[0], "training": {"steps": 1000, "seconds": 7.0}}
    assert sg.with_training([kept])[0]["training"] == {"steps": 1000, "seconds": 7.0}
    sg.budget_table("squeeze", recs, ["BC"])
    from_ckpt = capsys.readouterr().out
    (ckpt / "metrics.csv").unlink()
    sg.budget_table("squeeze", out, ["BC"])
    assert capsys.readouterr().out == from_ckpt and "| BC | 1000 | 8 [8, 8] |" in from_ckpt
    records = tmp_path / "r.jsonl"
    records.write_text("".join(json.dumps(r) + "\n" for r in recs))
    (ckpt / "metrics.csv").write_text("step,loss,seconds\n1000,0.5,8.5\n")
    gz = tmp_path / "r.jsonl.gz"
    subprocess.run([sys.executable, str(ROOT / "experiments/summarize_grid.py"), "--export",
                    str(gz), str(records)], check=True)
    back = [json.loads(line) for line in gzip.decompress(gz.read_bytes()).decode().splitlines()]
    assert back[0]["training"]["seconds"] == 8.5


def test_grid_records_selects_by_checkpoint_acting_tier_and_n(tmp_path):
    """make_sweep.grid_records: the experiment scripts' comparison rows — only the named
    checkpoint dirs' MF-Diffuser records with that acting, tier and N, relabelled."""
    import make_sweep

    acting = {"head_temperature": 0.3}

    def rec(policy, method="MF-Diffuser", n=100, tier="medium", act=acting):
        return {"method": method, "tier": tier, "env_kwargs": {"n_agents": n},
                "config": {"policy": f"runs/grid/ckpt/x/{policy}", "set": act}}

    recs = [rec("mfdiffuser-s0"), rec("mfdiffuser-s1", n=1000), rec("mfdiffuser-s2"),
            rec("mfdiffuser-s0", method="BC"), rec("mfdiffuser-s0", n=10000),
            rec("mfdiffuser-s0", tier="mixed"), rec("mfdiffuser-s0", act={"x": 1}),
            rec("mfdiffuser-ens4-s0")]
    (tmp_path / "records-battle.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    got = make_sweep.grid_records("battle", ("mfdiffuser-s0", "mfdiffuser-s1"), acting,
                                  (100, 1000), lambda r: "grid " + r["config"]["policy"][-1],
                                  records=str(tmp_path))
    assert [(r["method"], r["env_kwargs"]["n_agents"]) for r in got] == [("grid 0", 100),
                                                                         ("grid 1", 1000)]


def test_battle_trace_deviators_gain_is_the_measure_s(capsys):
    """experiments/battle_trace.py --deviators: the deviators' return playing the expert minus
    following the policy is exactly the exploitability measure's own-baseline gain of the
    expert deviation (same deviators, same seeds)."""
    from mfdiff_agents.baselines.scripted import make_scripted
    from mfdiff_agents.evaluation.exploitability import deviation_gains
    from mfdiff_agents.evaluation.run import episode_seed, make_core

    spec = importlib.util.spec_from_file_location("battle_trace",
                                                  ROOT / "experiments/battle_trace.py")
    bt = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bt)
    t = bt.trace_deviators("medium", 100, 1)
    core = make_core("mfdiff/Battle-v0", {"n_agents": 100, "max_cycles": 150,
                                          "opponent": "expert"})
    s0 = episode_seed(0, 0)
    gain = deviation_gains(make_scripted("medium", core, seed=s0), core, s0)["expert"]
    # float32 step rewards summed here, float64 in the rollout: equal to 1e-5
    assert t["deviate who return"] - t["follow who return"] == pytest.approx(gain, abs=1e-5)
    assert 0 <= t["follow rest first_in_range"] <= 150
    assert bt.main(["--deviators", "expert", "--n-agents", "24", "--seeds", "1", "medium"]) == 0
    assert "| medium | " in capsys.readouterr().out


def test_battle_trace_by_start_bins_partition_the_population(capsys):
    """experiments/battle_trace.py --by-start: the bins are equal shares of the agents, nearest
    first, so the bins' mean return is the population's mean return of the same episode, and
    the nearest agents reach an enemy before the farthest."""
    from mfdiff_agents.baselines.scripted import make_scripted
    from mfdiff_agents.evaluation.run import episode_seed, make_core
    from mfdiff_envs.rollout import rollout

    spec = importlib.util.spec_from_file_location("battle_trace",
                                                  ROOT / "experiments/battle_trace.py")
    bt = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bt)
    rows = bt.trace_by_start("expert", 200, 1)
    assert len(rows) == bt.START_BINS
    assert rows[0]["first_in_range"] < rows[-1]["first_in_range"]
    core = make_core("mfdiff/Battle-v0", {"n_agents": 200, "max_cycles": 150,
                                          "opponent": "expert"})
    s0 = episode_seed(0, 0)
    ep = rollout(core, make_scripted("expert", core, seed=s0), seed=s0, record=True).episode
    mean_return = ep["infos"]["rewards"][1:].sum(0).mean()
    assert np.mean([r["return"] for r in rows]) == pytest.approx(mean_return, abs=1e-5)
    assert bt.main(["--by-start", "--n-agents", "200", "--seeds", "1", "expert"]) == 0
    assert "| expert | " in capsys.readouterr().out


def test_grid_md_regenerates_from_the_committed_records():
    """docs/results/grid.md is what summarize_grid prints from the three committed family
    records (the results README's command): a table edited by hand, or a records file
    changed without the table, fails here."""
    recs = [ROOT / f"docs/results/records/records-{fam}.jsonl.gz"
            for fam in ("squeeze", "ising", "battle")]
    out = subprocess.run([sys.executable, str(ROOT / "experiments/summarize_grid.py"),
                          *map(str, recs)], check=True, capture_output=True, text=True,
                         env={**os.environ, "OMP_NUM_THREADS": "1"}).stdout
    assert out == (ROOT / "docs/results/grid.md").read_text()


@pytest.mark.slow  # ~10-30 s a family (bootstrap CIs of every row, and the plots)
@pytest.mark.parametrize("fam", ["squeeze", "ising", "battle"])
def test_grid_family_tables_regenerate_from_the_committed_records(fam, tmp_path):
    """docs/results/grid_<family>.md is what `mfdiff eval --records` writes from the family's
    committed records with the grid's report arguments: the Squeeze and Battle tables had kept
    an older report's format (tier "None", no acting settings) until the seventieth update."""
    rec = ROOT / f"docs/results/records/records-{fam}.jsonl.gz"
    subprocess.run(["mfdiff", "eval", "--records", str(rec), "--report-dir", str(tmp_path),
                    "--name", f"grid_{fam}", "--command", f"bash experiments/grid.sh {fam}"],
                   check=True, capture_output=True, text=True,
                   env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert (tmp_path / f"grid_{fam}.md").read_text() == \
        (ROOT / f"docs/results/grid_{fam}.md").read_text()


@pytest.mark.parametrize("script", ["experiments/family_settings.py", "experiments/make_sweep.py",
                                    "experiments/planning_steps.py",
                                    "benchmarks/baseline_latency.py"])
def test_scripts_without_their_arguments_print_their_usage(script):
    """Run without arguments these scripts raised IndexError / ValueError tracebacks; they print
    their docstring (exit 2; --help: exit 0)."""
    import subprocess

    r = subprocess.run([sys.executable, str(ROOT / script)], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "python" in r.stderr
    r = subprocess.run([sys.executable, str(ROOT / script), "--help"], capture_output=True,
                       text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0 and "python" in r.stdout


def test_sweep_resume_keys_compare_override_values_not_spellings():
    """`mfdiff eval --sweep --resume` keeps a finished (run, N) group by its key: a sweep file
    writes a None as "none" (TOML has no null) and a record may hold null, 2.0 or "8,8,4" for
    2 or [8, 8, 4]; one setting, one key (else a resumed sweep drops and replays the group)."""
    from mfdiff_agents.evaluation.sweep import _group_key, _record_key

    record = {"method": "m", "env_id": "mfdiff/Ising-v0", "env_kwargs": {"n_agents": 100},
              "tier": "medium", "config": {"policy": "p", "set": {
                  "stage_steps": None, "ddim_steps": 20.0, "k_schedule": "8,8,4"}}}
    key = _group_key("m", "p", {"stage_steps": "none", "ddim_steps": 20, "k_schedule": [8, 8, 4]},
                     "mfdiff/Ising-v0", {"n_agents": 100}, "medium")
    assert _record_key(record) == key
    assert _group_key("m", "p", {"stage_steps": [8, 8, 4], "ddim_steps": 20,
                                 "k_schedule": [8, 8, 4]},
                      "mfdiff/Ising-v0", {"n_agents": 100}, "medium") != key


def test_cpu_dispatch_marks_a_score_that_changes_with_the_dispatch(tmp_path, monkeypatch):
    """experiments/cpu_dispatch.py: one process per (case, dispatch) with that dispatch's
    environment and the case's planning --set; a seed whose score differs under any dispatch
    reads **no**, equal scores read yes; the file starts with the command."""
    spec = importlib.util.spec_from_file_location("cpu_dispatch",
                                                  ROOT / "experiments/cpu_dispatch.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    calls = []

    def fake_play(policy, tier, n, seeds, env, sets):
        calls.append((n, tuple(sets), tuple(sorted(env.items()))))
        # the Sinkhorn route's seed 1 moves with MKL's AVX2 path; everything else stays
        moved = n == 10_000 and not sets and env.get("MKL_ENABLE_INSTRUCTIONS") == "AVX2"
        return [100.0, 101.5 if moved else 101.0][:seeds]

    monkeypatch.setattr(mod, "play", fake_play)
    monkeypatch.setattr(mod, "capability", lambda env: "AVX2" if env else "AVX512")
    monkeypatch.setenv("MKL_ENABLE_INSTRUCTIONS", "SSE4_2")  # the caller's own: not "default"
    assert "MKL_ENABLE_INSTRUCTIONS" not in mod.dispatch_env({})
    assert mod.dispatch_env({"MKL_CBWR": "COMPATIBLE"})["MKL_CBWR"] == "COMPATIBLE"
    out = tmp_path / "t.md"
    mod.main(["runs/x/battle-mixed-s0", "--out", str(out)])
    text = out.read_text()
    assert text.startswith("Command:\n\n    OMP_NUM_THREADS=1 python experiments/cpu_dispatch.py "
                           "runs/x/battle-mixed-s0\n")
    rows = [ln for ln in text.splitlines() if ln.startswith("| 10,000") or ln.startswith("| 2,000")]
    assert len(rows) == 6 and len(calls) == 3 * len(mod.DISPATCH)
    assert [r.endswith("| **no** |") for r in rows] == [False, True, False, False, False, False]
    assert ("exact_ot_max_n=10000",) in {c[1] for c in calls}
    with pytest.raises(SystemExit):
        mod.main(["runs/mixed/battle-s0"])  # no tier in the directory's name, none given


def test_the_grid_command_trains_today_the_settings_of_the_grids_records(tmp_path):
    """A checkpoint trained today with the grid's own command (a new training seed, an outside
    reproduction) has the settings digest of the grid's committed records, so that its records
    pool with theirs in one row. Every field added to a config since must keep it
    (checkpoint.LATER_FIELDS): ``init_seed``, ``lr_schedule`` and ``value_warmup`` did not, and
    split such runs from the grid's rows with "trained with different settings". Checked on
    every grid checkpoint whose records carry a digest (Ising's MF-Diffuser rows)."""
    import gzip

    from mfdiff_agents.checkpoint import settings_digest
    from mfdiff_agents.config import build_config, config_to_dict
    from mfdiff_agents.methods import get_method

    gj = _module()
    checked = 0
    for fam in ("squeeze", "ising", "battle"):
        recorded: dict[str, set[str]] = {}
        with gzip.open(ROOT / f"docs/results/records/records-{fam}.jsonl.gz", "rt") as f:
            for line in f:
                r = json.loads(line)
                digest = (r["config"].get("checkpoint") or {}).get("settings")
                if digest is not None:
                    ckpt = Path(r["config"]["policy"])
                    recorded.setdefault(f"{ckpt.parent.name}/{ckpt.name}", set()).add(digest)
        # a folder with no checkpoints: train_jobs leaves out those already trained (a
        # runs/grid of the checkout's own made this test check nothing)
        for cmd, *_ in gj.train_jobs([fam], tmp_path / "grid"):
            out = Path(cmd[cmd.index("--out") + 1])
            want = recorded.get(f"{out.parent.name}/{out.name}")
            if want is None:  # records from before the digest was recorded
                continue
            algo, dataset = cmd[cmd.index("--algo") + 1], cmd[cmd.index("--dataset") + 1]
            sets = [cmd[i + 1] for i, a in enumerate(cmd) if a == "--set"]
            method = get_method(algo)
            cfg = build_config(method.config, family_config(algo, fam), overrides=sets,
                               method=method.name)
            meta = {"method": method.name, "config": json.loads(json.dumps(config_to_dict(cfg))),
                    "env": {"dataset_id": dataset, "dataset_episodes": None}}
            assert want == {settings_digest(meta)}, (out, want)
            checked += 1
    assert checked >= 12
