"""Dataset metadata, content hashes, damage detection, non-finite values and sharded builds.

Every test points MINARI_DATASETS_PATH at a tmp dir and builds tiny datasets (N <= 48, <= 8 steps).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import h5py
import minari
import numpy as np
import pytest
from conftest import wait_until_writing

from mfdiff_envs.offline import (
    DatasetError,
    Episodes,
    WindowSampler,
    build_dataset,
    load_episodes,
    quick_check,
    verify_dataset,
)
from mfdiff_envs.offline.build import REF_EPISODES, STAGING_DIR
from mfdiff_envs.offline.integrity import disk_size_mb, episode_digest
from mfdiff_envs.policies import make_behaviour_policy

DS = "mfdiff/squeeze-n36/mixed-v0"
SMALL = {"n_agents": 36, "tier": "mixed", "episodes": 4, "env_kwargs": {"max_cycles": 8}}


@pytest.fixture(autouse=True)
def minari_root(tmp_path, monkeypatch):
    root = tmp_path / "minari"
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    return root


def _build(**kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_dataset("squeeze", **{**SMALL, "progress": False, **kw})


def _h5(root: Path, ds_id: str = DS) -> Path:
    return root / ds_id / "data" / "main_data.hdf5"


def _meta(root: Path, ds_id: str = DS) -> dict:
    return json.loads((root / ds_id / "data" / "metadata.json").read_text())


# ----------------------------------------------------------------------------- metadata
def test_metadata_is_honest(minari_root):
    ds = _build(ref_episodes=3)
    meta = ds.storage.metadata
    assert meta["requirements"] == ["mfdiff"]
    assert meta["num_episodes_average_score"] == 3  # the rollouts behind ref_min/max_score
    assert meta["author_email"] and meta["author"] and meta["code_permalink"]
    # dataset_size = what is on disk after the merge/repack, not Minari's pre-repack value
    on_disk = disk_size_mb(DS)
    assert abs(meta["dataset_size"] - on_disk) <= 0.051, (meta["dataset_size"], on_disk)
    assert meta["mfdiff"]["size_mb"] == meta["dataset_size"]
    integ = meta["mfdiff"]["integrity"]
    assert integ["algorithm"] == "sha256" and len(integ["episodes"]) == 4
    assert integ["hdf5_bytes"] == _h5(minari_root).stat().st_size
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # mfdiff is installed: no "requirement not met" warning
        env = ds.recover_environment()
    assert env.spec.kwargs["n_agents"] == 36
    # the digests are those of the arrays a reader gets
    stored = list(ds.storage.get_episodes(range(4)))
    assert [episode_digest(ep) for ep in stored] == integ["episodes"]


def test_default_reference_episodes_recorded():
    ds = _build(tier="random", episodes=1, ref_scores=None)
    assert ds.storage.metadata["num_episodes_average_score"] == REF_EPISODES == 5


# ----------------------------------------------------------------------------- damage
def _chunk_offset(h5: Path, key: str) -> tuple[int, int]:
    with h5py.File(h5, "r") as f:
        d = f[key]
        info = d.id.get_chunk_info(0)
        return int(info.byte_offset), int(info.size)


def test_overwritten_chunk_fails_load_with_episode_named(minari_root):
    _build()
    h5 = _h5(minari_root)
    off, size = _chunk_offset(h5, "episode_2/observations")
    assert size > 4096 + 64  # one chunk per episode array: 9 x 36 x 11 float32
    with open(h5, "r+b") as f:  # 4 KB of the chunk's payload, same file size
        f.seek(off + 64)
        old = f.read(4096)
        f.seek(off + 64)
        f.write(bytes(b ^ 0x5A for b in old))
    assert quick_check(DS) is None  # the cheap check cannot see in-place damage ...
    with pytest.raises(DatasetError, match=rf"{DS}: episode 2 does not match the sha256"):
        load_episodes(DS)
    with pytest.raises(DatasetError, match=rf"{DS}: episode 2 does not match"):
        WindowSampler(DS, horizon=2, n_particles=4)
    assert "episode 2 does not match" in verify_dataset(DS)  # ... the full one does


CATALOGUED = """family = "squeeze"
tiers = ["mixed"]
[env_kwargs]
max_cycles = 8
[[sizes]]
n_agents = 36
episodes = 4
"""


def _flip_episode_2(root: Path) -> None:
    with h5py.File(_h5(root), "r+") as f:  # same size: only the full check sees it
        f["episode_2/rewards"][0] += 1.0


@pytest.mark.parametrize("catalogued", [False, True, "fewer episodes"],
                         ids=["off the catalogue", "catalogued", "catalogued, fewer episodes"])
def test_damage_names_a_rebuild_that_takes_the_id(minari_root, tmp_path, monkeypatch,
                                                  catalogued):
    """Audit: a damaged dataset built from Python at an id off the catalogue was told to run
    `mfdiff data build ID --force`, which refuses any id not in the catalogue. Such an id gets
    the build_dataset call with what its build recorded, and that call, run as given, rebuilds
    it; a catalogue id keeps the command, with `--episodes` where it was built with fewer than
    the catalogue's (a CLI audit: `--force` alone rebuilt the catalogue's size)."""
    from mfdiff_envs.offline import cli

    if catalogued:
        (tmp_path / "cat").mkdir()
        (tmp_path / "cat" / "squeeze.toml").write_text(CATALOGUED)
        monkeypatch.setenv("MFDIFF_CATALOGUE", str(tmp_path / "cat"))
    else:
        monkeypatch.delenv("MFDIFF_CATALOGUE", raising=False)  # the repo's: no N = 36
    seed = 0 if catalogued else 3  # the catalogue's seed is 0; another must reach the call
    _build(seed=seed, **({"episodes": 3} if catalogued == "fewer episodes" else {}))
    built = _meta(minari_root)["mfdiff"]
    _flip_episode_2(minari_root)
    if catalogued == "fewer episodes":
        fix = f"rebuild with `mfdiff data build {DS} --force --episodes 3`"
    elif catalogued:
        fix = f"rebuild with `mfdiff data build {DS} --force`"
    else:
        kwargs = {k: v for k, v in built["env_kwargs"].items() if k != "n_agents"}
        call = ("mfdiff_envs.offline.build_dataset('squeeze', n_agents=36, tier='mixed', "
                f"episodes=4, env_kwargs={kwargs!r}, seed=3, overwrite=True)")
        fix = f"rebuild with `{call}`"
    problem = verify_dataset(DS)
    assert "episode 2 does not match" in problem and problem.endswith(fix), problem
    with pytest.raises(DatasetError) as e:  # what `mfdiff train` prints
        load_episodes(DS)
    assert str(e.value).endswith(fix)
    h5 = _h5(minari_root)
    h5.write_bytes(h5.read_bytes()[:-100])
    with pytest.raises(DatasetError, match="truncated") as e:
        load_episodes(DS)
    assert str(e.value).endswith(fix)
    # the fix runs as given and gives the dataset as it was built
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if catalogued:  # the command of the hint, word for word
            command = fix.split("`")[1].split()
            assert command[:3] == ["mfdiff", "data", "build"]
            assert cli.main([*command[2:], "--no-progress"]) == 0
        else:
            import mfdiff_envs

            eval(call.replace("overwrite=True", "overwrite=True, progress=False"),
                 {"mfdiff_envs": mfdiff_envs})
    assert verify_dataset(DS) is None
    again = _meta(minari_root)["mfdiff"]
    assert [again[k] for k in ("episodes", "env_kwargs", "seed")] == [
        built[k] for k in ("episodes", "env_kwargs", "seed")]
    assert again["integrity"]["content"] == built["integrity"]["content"]  # the same episodes


def test_truncated_file_is_damaged(minari_root):
    _build()
    h5 = _h5(minari_root)
    h5.write_bytes(h5.read_bytes()[: h5.stat().st_size // 2])
    problem = quick_check(DS)
    assert problem is not None and "truncated" in problem
    assert verify_dataset(DS) == problem
    with pytest.raises(DatasetError, match=rf"{DS}: main_data.hdf5 has \d+ bytes .*truncated"):
        load_episodes(DS)


def test_nonfinite_rejected_at_load_naming_episode_and_rows(minari_root):
    _build()
    h5 = _h5(minari_root)
    with h5py.File(h5, "r+") as f:
        obs = f["episode_1/observations"]
        obs[3, 5, 0] = np.nan
        obs[6, 0, 2] = np.inf
    meta = _meta(minari_root)
    # a dataset whose hashes were recorded over NaN content (e.g. written by another tool)
    meta["mfdiff"]["integrity"]["episodes"][1] = episode_digest(
        next(iter(minari.load_dataset(DS).storage.get_episodes([1])))
    )
    (minari_root / DS / "data" / "metadata.json").write_text(json.dumps(meta))
    msg = rf"{DS}: episode 1 has NaN/inf values in observations rows \[3, 6\]"
    with pytest.raises(DatasetError, match=msg):
        load_episodes(DS)


def test_nonfinite_rejected_in_windows(tiny_squeeze_episodes):
    eps = [type(e)(**vars(e)) for e in tiny_squeeze_episodes]
    eps[2].agent_rewards = eps[2].agent_rewards.copy()
    eps[2].agent_rewards[4, 7] = np.nan
    msg = r"episode 2 has NaN/inf values in infos/rewards rows \[4\]"
    with pytest.raises(ValueError, match=msg):
        WindowSampler(Episodes(eps), horizon=2, n_particles=4)


def test_values_that_overflow_the_window_statistics_are_refused(tiny_squeeze_episodes):
    """An outside audit: finite observations of ~1e19 (or returns beyond float32) made the
    mean-field std and returns-to-go inf, and some methods trained on without a word."""
    eps = [type(e)(**vars(e)) for e in tiny_squeeze_episodes]
    eps[1].observations = eps[1].observations.copy()
    eps[1].observations[3, 5, 0] = 1e19
    with pytest.raises(ValueError, match=r"episode 1 has observations up to \|x\| = 1e\+19"):
        WindowSampler(Episodes(eps), horizon=2, n_particles=4)
    eps = [type(e)(**vars(e)) for e in tiny_squeeze_episodes]
    eps[2].rewards = np.full_like(eps[2].rewards, 3e38)
    with pytest.raises(ValueError, match="episode 2's discounted return-to-go overflows"):
        WindowSampler(Episodes(eps), horizon=2, n_particles=4, gamma=0.99)


def test_dataset_views_load_their_own_episodes(minari_root):
    ds = _build()
    full = load_episodes(DS)
    first, rest = minari.split_dataset(ds, [1, 3], seed=0)
    parts = [load_episodes(first), load_episodes(rest)]
    assert [len(p) for p in parts] == [1, 3]
    by_obs = {full[i].observations.tobytes(): i for i in range(len(full))}
    got = sorted(by_obs[p[i].observations.tobytes()] for p in parts for i in range(len(p)))
    assert got == [0, 1, 2, 3]  # every episode once, none twice
    kept = ds.filter_episodes(lambda ep: ep.id % 2 == 1)
    odd = load_episodes(kept)
    assert [e.observations.tobytes() for e in odd] == [
        full[i].observations.tobytes() for i in (1, 3)
    ]


def test_unhashed_dataset_loads_with_warning(minari_root):
    _build()
    meta = _meta(minari_root)
    del meta["mfdiff"]["integrity"]
    (minari_root / DS / "data" / "metadata.json").write_text(json.dumps(meta))
    with pytest.warns(UserWarning, match="no content hash recorded"):
        assert len(load_episodes(DS)) == 4
    assert "no content hash" in verify_dataset(DS)


# ----------------------------------------------------------------------------- metadata edits
def _write_meta(root: Path, meta: dict) -> None:
    (root / DS / "data" / "metadata.json").write_text(json.dumps(meta))


def test_metadata_digest_recorded_and_stable(minari_root):
    from mfdiff_envs.offline.integrity import metadata_digest

    _build()
    meta = _meta(minari_root)
    assert meta["mfdiff"]["integrity"]["metadata"] == metadata_digest(meta)
    # fields written after the digest, or derived text, may change without a finding
    meta["dataset_size"] = 123.4
    meta["description"] = "another card"
    meta["mfdiff"]["build_seconds"] = 1.0
    _write_meta(minari_root, meta)
    assert quick_check(DS) is None and verify_dataset(DS) is None


@pytest.mark.parametrize(
    "edit, finding",
    [
        # evaluation normalises by the top-level references: an edit there changes every score
        (lambda m: m.update(ref_max_score=m["ref_max_score"] + 1.0), "ref_max_score"),
        # a field only the digest covers
        (lambda m: m["mfdiff"].update(tier="expert"), "sha256 recorded at build"),
        (lambda m: m.update(env_spec=m["env_spec"].replace('"max_cycles": 8', '"max_cycles": 9')),
         "env_spec.kwargs"),
    ],
    ids=["ref_max_score", "mfdiff-tier", "env_spec-kwargs"],
)
def test_edited_metadata_is_refused_everywhere(minari_root, edit, finding):
    from mfdiff_agents.evaluation.run import reference_scores

    _build()
    meta = _meta(minari_root)
    edit(meta)
    _write_meta(minari_root, meta)
    for problem in (quick_check(DS), verify_dataset(DS)):
        # the field named where a field recorded twice disagrees, and a fix that runs as given
        assert problem is not None and "edited after the build" in problem and finding in problem
        # DS is off the catalogue (`mfdiff data build` refuses it): the Python call, at the
        # id's tier whatever the edited mfdiff block says
        assert ("rebuild with `mfdiff_envs.offline.build_dataset('squeeze', n_agents=36, "
                "tier='mixed', episodes=4, env_kwargs=" in problem), problem
        assert "overwrite=True)`" in problem and "mfdiff data build" not in problem
    with pytest.raises(DatasetError, match="edited after the build"):
        load_episodes(DS)
    with pytest.raises(DatasetError, match="edited after the build"):
        reference_scores("mfdiff/Squeeze-v0", {"n_agents": 36, "max_cycles": 8}, dataset_id=DS)
    # a dataset built before the digest: the fields recorded twice still name the edit
    if finding != "sha256 recorded at build":
        del meta["mfdiff"]["integrity"]["metadata"]  # a dataset built before the digest
        _write_meta(minari_root, meta)
        assert finding in quick_check(DS)


def test_consistent_metadata_without_digest_loads(minari_root):
    _build()
    meta = _meta(minari_root)
    del meta["mfdiff"]["integrity"]["metadata"]  # built before the digest was recorded
    _write_meta(minari_root, meta)
    assert quick_check(DS) is None and verify_dataset(DS) is None
    assert len(load_episodes(DS)) == 4


# ----------------------------------------------------------------------------- sharded builds
def test_workers_build_is_identical(minari_root, monkeypatch):
    one = _build(episodes=5, seed=3, workers=1)
    files = {1: _h5(minari_root).read_bytes()}
    metas = {1: _meta(minari_root)}
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(minari_root.parent / "minari2"))
    two = _build(episodes=5, seed=3, workers=2)  # mixed tier: skill follows the episode index
    files[2] = _h5(minari_root.parent / "minari2").read_bytes()
    metas[2] = _meta(minari_root.parent / "minari2")
    for m in metas.values():
        del m["mfdiff"]["build_seconds"]
    assert metas[1] == metas[2]
    assert files[1] == files[2]  # same arrays, attributes and layout, byte for byte
    a, b = load_episodes(one), load_episodes(two)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.observations, y.observations)
    assert [ep["seed"] for ep in two.storage.get_episode_metadata(range(5))] == [
        ep["seed"] for ep in one.storage.get_episode_metadata(range(5))
    ]
    assert not any((minari_root.parent / "minari2" / STAGING_DIR).iterdir())


def test_failed_worker_is_reported_and_nothing_published(minari_root):
    def factory(core, skill, seed):
        if skill > 0.9:  # the last episode of the mixed tier (3 of 0..3), in worker 3 % 2 = 1
            raise RuntimeError("policy exploded")
        return make_behaviour_policy(core, skill, seed)

    msg = r"rollout worker 1 \(episode 3\) failed(.|\n)*policy exploded"
    with pytest.raises(RuntimeError, match=msg):
        _build(workers=2, policy_factory=factory, ref_scores=(0.0, 1.0))
    assert not (minari_root / DS).exists()
    assert not any((minari_root / STAGING_DIR).iterdir())


def test_layout_matches_minari_writer(minari_root, monkeypatch):
    """write_episodes writes Minari's own hdf5 layout: same groups, attributes, arrays."""
    from minari.data_collector.episode_buffer import EpisodeBuffer

    from mfdiff_envs.offline.build import episode_seeds, make_env
    from mfdiff_envs.policies import TIER_SKILL
    from mfdiff_envs.rollout import rollout

    ours = _build(tier="medium", episodes=2, seed=5, ref_scores=(0.0, 1.0))
    env = make_env("mfdiff/GaussianSqueeze-v0", {"n_agents": 36, "max_cycles": 8})
    core = env.unwrapped.core
    buffers = []
    for e, (es, ps) in enumerate(episode_seeds(5, 2)):
        pol = make_behaviour_policy(core, TIER_SKILL["squeeze"]["medium"], int(ps))
        ep = rollout(core, pol, seed=int(es), policy_seed=int(ps), record=True).episode
        buffers.append(EpisodeBuffer(id=e, seed=int(es), **ep))
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(minari_root.parent / "minari-ref"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = minari.create_dataset_from_buffers(
            "mfdiff/ref/medium-v0", buffers, env=env.spec, jpeg_encoding=False
        )

    def layout(h5: Path) -> dict:
        out = {}
        with h5py.File(h5, "r") as f:
            f.visititems(
                lambda name, obj: out.__setitem__(
                    name,
                    (dict(obj.attrs), obj.dtype, obj.shape, obj.maxshape)
                    if isinstance(obj, h5py.Dataset)
                    else dict(obj.attrs),
                )
            )
        return out

    got = layout(ours.storage.data_path / "main_data.hdf5")
    want = layout(ref.storage.data_path / "main_data.hdf5")
    assert got.keys() == want.keys()
    for k in want:
        assert str(got[k]) == str(want[k]), k
    assert list(ours.storage.get_episode_metadata([0, 1])) == list(
        ref.storage.get_episode_metadata([0, 1])
    )
    for a, b in zip(ours.iterate_episodes(), ref.iterate_episodes()):
        for key in ("observations", "actions", "rewards", "terminations", "truncations"):
            np.testing.assert_array_equal(getattr(a, key), getattr(b, key), err_msg=key)
        for key in ("rewards", "alive"):
            np.testing.assert_array_equal(a.infos[key], b.infos[key], err_msg=key)


_KILLED_BUILD = """
import warnings; warnings.simplefilter("ignore")
from mfdiff_envs.offline import build_dataset
build_dataset("squeeze", n_agents=2000, tier="random", episodes=100000, workers=2,
              env_kwargs={"max_cycles": 25}, progress=False, ref_scores=(0.0, 1.0))
"""


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_killed_sharded_build_stops_its_workers(minari_root):
    import os
    import signal
    import subprocess
    import sys
    import time

    proc = subprocess.Popen([sys.executable, "-c", _KILLED_BUILD], env=dict(os.environ))
    staging = minari_root / STAGING_DIR
    try:
        wait_until_writing(proc, staging, timeout=60)
        workers = _children(proc.pid)
        assert len(workers) == 2
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    def running(pid: int) -> bool:  # exited workers may linger as zombies until reaped
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    deadline = time.monotonic() + 15
    while any(running(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = [w for w in workers if running(w)]
    assert not alive, f"orphaned rollout workers {alive}"
    assert minari.list_local_datasets() == {} and any(staging.iterdir())


@pytest.mark.parametrize("family", ["squeeze", "ising", "battle"])
def test_catalogue_recipes_rebuild_with_honest_metadata(family):
    import dataclasses

    from mfdiff_envs.offline import build_recipe, select

    recipe = select(family, n_agents=100, tier="mixed")[0]
    recipe = dataclasses.replace(recipe, episodes=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = build_recipe(recipe, progress=False, workers=2, ref_scores=(0.0, 1.0))
    meta = ds.storage.metadata
    assert meta["requirements"] == ["mfdiff"] and meta["num_episodes_average_score"] == 5
    assert abs(meta["dataset_size"] - disk_size_mb(recipe.dataset_id)) <= 0.051
    assert verify_dataset(recipe.dataset_id) is None
    eps = load_episodes(recipe.dataset_id)
    assert len(eps) == 2 and recipe.env_kwargs.items() <= eps.env_kwargs.items()


# ----------------------------------------------------------------------------- foreign datasets
def test_minari_combined_dataset_keeps_its_family(minari_root):
    """combine_datasets writes no mfdiff block; the env id still names the family, so training
    uses the family's settings rather than falling back to the Config defaults in silence."""
    from mfdiff_agents.methods import train_config

    a = _build(tier="medium")
    b = _build(tier="mixed")
    ds = minari.combine_datasets([a, b], "mfdiff/squeeze-n36/combined-v0")
    assert "mfdiff" not in ds.storage.metadata
    with pytest.warns(UserWarning, match="not built by mfdiff"):
        eps = load_episodes(ds)
    assert len(eps) == 8 and eps.family == "squeeze"
    _, path = train_config("mfdiffuser", "mfdiff/squeeze-n36/combined-v0")
    assert path is not None and path.name == "squeeze.json"
    problem = verify_dataset("mfdiff/squeeze-n36/combined-v0")
    assert problem.startswith("no content hash recorded (not built by mfdiff")


def test_verify_command_checks_a_minari_made_dataset_under_any_id(minari_root, capsys):
    """`mfdiff data verify` on a dataset Minari's tools made under an id of their own: reported
    as unverifiable (exit 1), as under an mfdiff-form id, not refused as an unknown id (exit
    2) while `mfdiff train` takes it (an outside audit); an id with no dataset stays refused."""
    from mfdiff.cli import main

    a = _build(tier="medium")
    b = _build(tier="mixed")
    minari.combine_datasets([a, b], "squeeze-n36-comb-v0")
    assert main(["data", "verify", "squeeze-n36-comb-v0"]) == 1
    err = capsys.readouterr().err
    assert "squeeze-n36-comb-v0 cannot be verified: no content hash recorded (not built by " \
           "mfdiff" in err, err
    assert main(["data", "verify", "squeeze-n36-nothing-v0"]) == 2
    assert "not an mfdiff dataset id" in capsys.readouterr().err


def test_build_takes_the_catalogues_env_kwargs_for_keys_not_given(minari_root):
    """A Battle dataset at an N off the catalogue runs the catalogue's 200 steps (the env's
    default is 300, which every such build got before, said only by `data list`); a key the
    caller gives still wins."""
    from mfdiff_envs.offline.catalogue import family_env_kwargs

    assert family_env_kwargs("battle", "mfdiff/Battle-v0") == {"opponent": "expert",
                                                               "max_cycles": 200}
    assert family_env_kwargs("battle", "mfdiff/MAgentBattle-v0") == {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = build_dataset("battle", n_agents=6, tier="random", episodes=1, progress=False,
                           ref_scores=(0.0, 1.0))
        mine = build_dataset("battle", n_agents=6, tier="random", episodes=1, progress=False,
                             ref_scores=(0.0, 1.0), version=1, env_kwargs={"max_cycles": 7})
    assert ds.storage.metadata["mfdiff"]["env_kwargs"]["max_cycles"] == 200
    assert mine.storage.metadata["mfdiff"]["env_kwargs"]["max_cycles"] == 7
    assert mine.storage.metadata["mfdiff"]["env_kwargs"]["opponent"] == "expert"


def test_unknown_family_trains_with_a_warning(monkeypatch):
    from mfdiff_agents.methods import train_config

    monkeypatch.setattr("mfdiff_envs.offline.dataset_family", lambda dataset: None)
    with pytest.warns(UserWarning, match="names no env family .* trains with the Config defaults"):
        _, path = train_config("bc", "mfdiff/anything-n36/mixed-v0")
    assert path is None


def test_a_split_is_recorded_and_resume_keeps_to_it(minari_root, tmp_path):
    """A run trained on a held-out split records the episodes it saw; resuming it on the whole
    file (or another split) is refused instead of training on the held-out episodes."""
    from mfdiff_agents import get_method, make_sampler, train_config
    from mfdiff_agents.config import ConfigError

    ds = _build(episodes=6)
    train_split, test_split = minari.split_dataset(ds, [3, 3], seed=0)
    cfg, _ = train_config("bc", train_split, overrides=["steps=2", "horizon=4", "ckpt_every=2"])
    out = tmp_path / "bc_split"
    get_method("bc").fit(make_sampler(train_split, cfg), cfg, out_dir=out, progress=False,
                         num_threads=1)
    env = json.loads((out / "config.json").read_text())["env"]
    assert set(env["dataset_episodes"]) == {int(i) for i in train_split.episode_indices}
    more, _ = train_config("bc", DS, overrides=["steps=4", "horizon=4", "ckpt_every=2"])
    for other in (DS, test_split):
        with pytest.raises(ConfigError, match="dataset_episodes"):
            get_method("bc").fit(make_sampler(other, more), more, out_dir=out, resume=True,
                                 progress=False, num_threads=1)
    more_split, _ = train_config("bc", train_split,
                                 overrides=["steps=4", "horizon=4", "ckpt_every=2"])
    get_method("bc").fit(make_sampler(train_split, more_split), more_split, out_dir=out,
                         resume=True, progress=False, num_threads=1)  # its own split: ok
    # the whole file records no list
    full = make_sampler(DS, more)
    assert full.dataset_episodes is None


def test_a_build_leaves_no_thread_for_the_next_builds_fork(minari_root):
    """An outside audit (deprecations): a build's tqdm bar left its monitor thread running, and
    the next build of the process forked its workers beside it (Python >= 3.12 warns that such
    a fork may deadlock). The bars run no monitor thread now."""
    import threading

    before = set(threading.enumerate())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        build_dataset("squeeze", **{**SMALL, "progress": True, "workers": 2})
    assert set(threading.enumerate()) <= before
