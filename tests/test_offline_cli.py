"""``mfdiff data`` as users run it (subprocesses): exit codes, one-line errors, idempotent
builds, damage reporting by ``list`` / ``verify``, and stale staging cleanup by every command.

Every test points MINARI_DATASETS_PATH at a tmp dir; builds use a tiny tmp catalogue (N = 16,
4 steps) so a build costs little more than the interpreter start.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mfdiff_envs.offline.build import STAGING_DIR

DS = "mfdiff/squeeze-n16/random-v0"
TINY = """family = "squeeze"
env_id = "mfdiff/GaussianSqueeze-v0"
tiers = ["random"]
[env_kwargs]
max_cycles = 4
[[sizes]]
n_agents = 16
episodes = 2
expected_size_mb = 0.01
"""


@pytest.fixture()
def root(tmp_path) -> Path:
    return tmp_path / "minari"


@pytest.fixture()
def cat(tmp_path) -> str:
    d = tmp_path / "catalogue"
    d.mkdir()
    (d / "squeeze.toml").write_text(TINY)
    return str(d)


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MINARI_DATASETS_PATH": str(root), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "mfdiff.cli", "data", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def _h5(root: Path) -> Path:
    return root / DS / "data" / "main_data.hdf5"


USER_ERRORS = {
    "unknown family": (["build", "nofamily"], "unknown family 'nofamily'"),
    "unknown id": (["build", "mfdiff/squeeze-n37/expert-v0"], "not in the catalogue"),
    "N not in catalogue": (["build", "squeeze", "--n-agents", "7"], "N = 7 (N: [100, 1000"),
    "N not an int": (["build", "squeeze", "--n-agents", "ten"], "invalid int value: 'ten'"),
    # an N the env refuses gets the env's reason, not a Python call that fails the same way
    "N the env refuses": (["build", "battle", "--n-agents", "7"], "the env refuses N = 7: "
                          "n_agents (both teams together) must be even"),
    # a hint is not worth building an env of 2·10⁸ agents (24 GB, killed: a review)
    "id at a huge N": (["build", "mfdiff/squeeze-n200000000/expert-v0"],
                       "another N or version is built from Python"),
    "id at an N the env refuses": (["build", "mfdiff/ising-n10/medium-v0"],
                                   "no ising dataset can be built at N = 10: n_agents must be a "
                                   "perfect square"),
    "bad tier": (["build", "squeeze", "--tier", "best"], "unknown tier 'best'"),
    "zero episodes": (["build", "squeeze", "--episodes", "0"], "--episodes must be >= 1"),
    "zero workers": (["build", "squeeze", "--workers", "0"], "--workers must be >= 1"),
    "no target": (["build"], "required: target"),
    "no catalogue": (["list", "--catalogue", "/nonexistent/dir"], "/nonexistent/dir not found"),
    "verify bad id": (["verify", "squeeze-n100"], "not an mfdiff dataset id"),
    "verify unbuilt": (["verify", "mfdiff/squeeze-n100/expert-v0"],
                       "is not built; `mfdiff data build mfdiff/squeeze-n100/expert-v0`"),
    # `data build` takes catalogue ids only: the hint for another one is the Python call
    "verify unbuilt, off the catalogue": (["verify", "mfdiff/squeeze-n37/expert-v0"],
                                          "build_dataset('squeeze', n_agents=37, tier='expert'"),
    # ... at the id's version: without it the call built v0
    "verify unbuilt v1, off the catalogue": (["verify", "mfdiff/squeeze-n37/expert-v1"],
                                             "tier='expert', episodes=<how many>, version=1)"),
    "unknown command": (["frobnicate"], "invalid choice: 'frobnicate'"),
}


@pytest.mark.parametrize("case", list(USER_ERRORS), ids=list(USER_ERRORS))
def test_user_errors_are_one_line_exit_2(root, case):
    args, message = USER_ERRORS[case]
    r = _cli(root, *args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and message in lines[0], r.stderr
    assert "Traceback" not in r.stderr and lines[0].startswith("mfdiff data")


#: id -> (text the one line holds, text it must not): a misspelt family or tier gets the
#: nearest catalogue id, as gymnasium does for env ids; build_dataset advice only where the
#: family and tier are known and the N or version differs
NEAR_MISSES = {
    "family in an id": (["build", "mfdiff/sqeeze-n1000/medium-v0"],
                        "; did you mean mfdiff/squeeze-n1000/medium-v0?", "build_dataset"),
    "tier in an id": (["build", "mfdiff/ising-n1024/expret-v0"],
                      "; did you mean mfdiff/ising-n1024/expert-v0?", "build_dataset"),
    "no family near": (["build", "mfdiff/chess-n10/expert-v0"],
                       "catalogue families: ['battle', 'ising', 'squeeze']", "did you mean"),
    "family name": (["build", "sqeeze"], "unknown family 'sqeeze' (did you mean 'squeeze'?)",
                    "build_dataset"),
    "another N": (["build", "mfdiff/squeeze-n37/expert-v0"],
                  "at N = [100, 1000, 10000]; another N or version is built from Python: "
                  "mfdiff_envs.offline.build_dataset('squeeze', n_agents=37, tier='expert', "
                  "episodes=<how many>)", "did you mean"),
    "another version": (["build", "mfdiff/squeeze-n100/expert-v1"],
                        "there is mfdiff/squeeze-n100/expert-v0; another N or version",
                        "did you mean"),
    # a review of the forty-fourth update: the whole id was matched, so a misspelt tier at an
    # N off the catalogue was offered another population (ising-n100 for ising-n4096)
    "tier at another N": (["build", "mfdiff/ising-n4096/mediun-v0"],
                          "; did you mean mfdiff/ising-n4096/medium-v0?; the catalogue has "
                          "ising medium at N = [100, 1024, 10000]; another N",
                          "ising-n100/"),
    "tier at another version": (["build", "mfdiff/battle-n100/medum-v1"],
                                "; did you mean mfdiff/battle-n100/medium-v1?", "medium-v0?"),
    "N spelt with a zero": (["build", "mfdiff/squeeze-n01000/medium-v0"],
                            "; did you mean mfdiff/squeeze-n1000/medium-v0?", "build_dataset"),
    "verify, family": (["verify", "mfdiff/sqeeze-n100/expert-v0"],
                       "not built, and not in the catalogue (`mfdiff data list`); did you mean "
                       "mfdiff/squeeze-n100/expert-v0?", "build_dataset"),
}


@pytest.mark.parametrize("case", list(NEAR_MISSES), ids=list(NEAR_MISSES))
def test_an_id_off_the_catalogue_gets_the_nearest_or_the_python_call(root, case):
    """Audit: `mfdiff data build mfdiff/sqeeze-n1000/medium-v0` (family misspelt) advised
    build_dataset('sqeeze', ...), which refuses that family, instead of naming the id meant."""
    args, says, not_says = NEAR_MISSES[case]
    r = _cli(root, *args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and says in lines[0] and not_says not in lines[0], r.stderr


def test_a_misspelt_id_is_matched_to_a_built_one_too(root, monkeypatch):
    """`verify` and `train` (open_dataset) also offer the built ids: one built from Python at
    an N off the catalogue is the id a misspelling of it means."""
    from mfdiff_envs.offline import DatasetError, load_episodes
    from mfdiff_envs.offline.build import build_dataset

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    build_dataset("squeeze", n_agents=16, tier="random", episodes=1, progress=False,
                  env_kwargs={"max_cycles": 4}, ref_scores=(0.0, 1.0))
    r = _cli(root, "verify", "mfdiff/sqeeze-n16/random-v0")
    assert r.returncode == 2 and "did you mean mfdiff/squeeze-n16/random-v0?" in r.stderr
    with pytest.raises(DatasetError, match="did you mean mfdiff/squeeze-n16/random-v0[?]"):
        load_episodes("mfdiff/sqeeze-n16/random-v0")
    r = _cli(root, "verify", "mfdiff/squeeze-n16/random-v1")  # the version differs
    assert r.returncode == 2 and "there is mfdiff/squeeze-n16/random-v0; " in r.stderr


def test_build_is_idempotent_then_force(root, cat):
    BUILD = ["build", DS, "--no-progress", "--catalogue", cat]
    r = _cli(root, *BUILD)
    assert r.returncode == 0 and f"building {DS}" in r.stdout, r.stderr
    r = _cli(root, *BUILD)  # `build && train` scripts: a built dataset is success
    assert r.returncode == 0 and "already built" in r.stdout and "building" not in r.stdout
    r = _cli(root, *BUILD, "--episodes", "3")  # not what is on disk: a conflicting request
    assert r.returncode == 2 and "already built with episodes 2 (asked 3)" in r.stderr
    assert r.stderr.startswith("mfdiff data build: ") and len(r.stderr.splitlines()) == 1
    r = _cli(root, *BUILD, "--episodes", "3", "--force", "--workers", "2")
    assert r.returncode == 0 and "3 episodes" in r.stdout, r.stderr
    r = _cli(root, *BUILD)  # the catalogue's 2 asked of a 3-episode build: `&& train` stops
    assert r.returncode == 2 and "already built with episodes 3 (asked 2)" in r.stderr
    # the catalogue asks 2: the list must not pass the 3-episode build off as the catalogue's
    r = _cli(root, "list", "--catalogue", cat)
    assert r.returncode == 0 and "| yes, 3 of 2 episodes (" in r.stdout, r.stdout


def test_list_and_verify_report_damage(root, cat):
    BUILD = ["build", DS, "--no-progress", "--catalogue", cat]
    assert _cli(root, *BUILD).returncode == 0
    r = _cli(root, "verify", DS)
    assert r.returncode == 0 and r.stdout.startswith(f"ok: {DS}"), r.stderr
    r = _cli(root, "list", "--catalogue", cat)
    assert r.returncode == 0 and f"| {DS} |" in r.stdout
    row = next(ln for ln in r.stdout.splitlines() if ln.startswith(f"| {DS} |"))
    assert "| yes (" in row and " MB) |" in row

    h5 = _h5(root)
    h5.write_bytes(h5.read_bytes()[: h5.stat().st_size - 5000])  # truncated
    r = _cli(root, "list", "--catalogue", cat)
    assert r.returncode == 0
    row = next(ln for ln in r.stdout.splitlines() if ln.startswith(f"| {DS} |"))
    assert "DAMAGED" in row and "truncated" in row, row
    # an entry of --catalogue DIR: rebuilt by `data build` given that catalogue (review of the
    # forty-fourth update: it was told "--force", which alone refuses an id off the default)
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("DAMAGED"))
    assert f"`mfdiff data build {DS} --catalogue {cat} --force` rebuilds it" in line, line
    # also where the problem names another rebuild (an edited metadata.json: its call would
    # rebuild with the edited settings; the catalogue's recipe is the build's own)
    import json

    meta_path = Path(root) / DS / "data" / "metadata.json"
    meta = json.loads(meta_path.read_text())
    meta["mfdiff"]["seed"] = 5
    meta_path.write_text(json.dumps(meta))
    r = _cli(root, "list", "--catalogue", cat)
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("DAMAGED"))
    assert "edited after the build" in line, line
    assert f"`mfdiff data build {DS} --catalogue {cat} --force` rebuilds it" in line, line
    meta["mfdiff"]["seed"] = 0
    meta_path.write_text(json.dumps(meta))
    r = _cli(root, "verify", DS)
    assert r.returncode == 1 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and f"{DS} is damaged" in r.stderr
    r = _cli(root, *BUILD)  # an idempotent build does not accept a damaged dataset
    assert r.returncode == 1 and "damaged" in r.stderr and "--force" in r.stderr


def test_damage_off_the_catalogue_names_the_python_rebuild(root, monkeypatch):
    """Audit: `verify` and `list` told a damaged dataset built from Python at an id off the
    catalogue to run `mfdiff data build ID --force`, which refuses that id; they name the
    build_dataset call with what the build recorded instead."""
    import h5py

    from mfdiff_envs.offline.build import build_dataset

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    build_dataset("squeeze", n_agents=16, tier="random", episodes=2, progress=False, version=1,
                  env_kwargs={"max_cycles": 4}, ref_scores=(0.0, 1.0))
    ds = "mfdiff/squeeze-n16/random-v1"
    call = "build_dataset('squeeze', n_agents=16, tier='random', episodes=2, env_kwargs="
    h5 = root / ds / "data" / "main_data.hdf5"
    with h5py.File(h5, "r+") as f:
        f["episode_1/rewards"][0] += 1.0
    r = _cli(root, "verify", ds)
    assert r.returncode == 1 and f"{ds} is damaged" in r.stderr, r.stderr
    assert call in r.stderr and "version=1, overwrite=True)`" in r.stderr, r.stderr
    assert "mfdiff data build" not in r.stderr
    h5.write_bytes(h5.read_bytes()[:-100])
    r = _cli(root, "list")
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("DAMAGED"))
    assert call in line and "overwrite=True)` rebuilds it" in line and "--force" not in line
    # an edited metadata.json names its rebuild in the problem itself: the list says it once
    # (review of the forty-fourth update: the long call was printed twice on one line)
    import json

    meta_path = root / ds / "data" / "metadata.json"
    meta = json.loads(meta_path.read_text())
    meta["mfdiff"]["seed"] = 5
    meta_path.write_text(json.dumps(meta))
    r = _cli(root, "list")
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("DAMAGED"))
    assert "edited after the build" in line and line.count("build_dataset(") == 1, line


def test_force_on_an_id_built_from_python_names_its_own_rebuild(root, monkeypatch):
    """A review of the forty-fourth update: `data build ID --force` on an id built from Python
    (older messages taught it) got a generic build_dataset call without overwrite=True or the
    recorded kwargs; it names the call that rebuilds that dataset as it was, its reference
    rollouts included (ref_episodes, which normalise every score on it)."""
    from mfdiff_envs.offline.build import build_dataset

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    build_dataset("ising", n_agents=16, tier="expert", episodes=1, progress=False,
                  env_kwargs={"max_cycles": 3}, ref_episodes=2)
    r = _cli(root, "build", "mfdiff/ising-n16/expert-v0", "--force")
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "it is built here: rebuild it in place with `mfdiff_envs.offline.build_dataset(" \
        "'ising', n_agents=16, tier='expert', episodes=1, env_kwargs=" in r.stderr, r.stderr
    assert "ref_episodes=2, overwrite=True)`" in r.stderr, r.stderr


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


@pytest.mark.parametrize(
    "args", [["list"], ["verify", "all"], ["build", "nofamily"]], ids=["list", "verify", "build"]
)
def test_any_data_command_removes_stale_staging(root, args):
    staging = root / STAGING_DIR
    stale = staging / f"{_dead_pid()}-deadbeef" / "shard-0" / "mfdiff"
    stale.mkdir(parents=True)
    (stale / "main_data.hdf5").write_bytes(b"x" * 1000)
    live = staging / f"{os.getpid()}-cafecafe"  # a build still running: kept
    live.mkdir()
    r = _cli(root, *args)
    assert "Traceback" not in r.stderr
    assert sorted(p.name for p in staging.iterdir()) == [live.name]
    assert "removed 1 staging folder(s)" in r.stderr


@pytest.mark.parametrize("built_as", ["other env kwargs", "other behaviour"])
def test_build_refuses_a_dataset_built_otherwise_under_the_id(root, cat, monkeypatch, built_as):
    """Data built from Python with other env kwargs (or another behaviour policy) under a
    catalogue id is not "already built": ``build X && train X`` must stop."""
    from mfdiff_envs.offline.build import build_dataset

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    kw: dict = {"env_kwargs": {"max_cycles": 4}}
    if built_as == "other env kwargs":
        kw = {"env_kwargs": {"max_cycles": 3}}
    else:
        kw["skill_of_tier"] = lambda *a: 1.0  # expert play under the random tier's id
    build_dataset("squeeze", n_agents=16, tier="random", episodes=2, progress=False, **kw)
    r = _cli(root, "build", DS, "--no-progress", "--catalogue", cat)
    assert r.returncode == 2 and "already built with" in r.stderr, (r.stdout, r.stderr)
    assert ("env_kwargs" if built_as == "other env kwargs" else "behaviour") in r.stderr
    r = _cli(root, "list", "--catalogue", cat)
    assert "NOT the catalogue's" in r.stdout, r.stdout


def test_build_dataset_refuses_an_env_of_another_family_or_a_second_n(monkeypatch, root):
    from mfdiff_envs.offline.build import build_dataset

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    with pytest.raises(ValueError, match="'ising' family, not 'squeeze'"):
        build_dataset("squeeze", n_agents=16, tier="random", episodes=1, progress=False,
                      env_id="mfdiff/Ising-v0")
    with pytest.raises(ValueError, match="n_agents=9 contradicts n_agents=16"):
        build_dataset("squeeze", n_agents=16, tier="random", episodes=1, progress=False,
                      env_kwargs={"n_agents": 9})
    for bad in (True, 2.0):  # named mfdiff/squeeze-n1, -n2: "already exists" where built
        with pytest.raises(TypeError, match="n_agents must be an int"):
            build_dataset("squeeze", n_agents=bad, tier="random", episodes=1, progress=False)
    assert not (root / "mfdiff").exists()  # refused before anything was written


def test_a_build_holding_its_lock_is_alive_whatever_its_pid(root):
    """An outside audit: a build in another PID namespace (a container sharing the Minari root)
    has a PID this machine does not see, and `data list` deleted its staging folder mid-build.
    A build holds a lock in its staging folder; a held lock is a live build."""
    import fcntl

    from mfdiff_envs.offline.build import BUILDER_LOCK, clean_stale_staging

    staging = root / STAGING_DIR
    other_ns = staging / f"{_dead_pid()}-0ther0ns"
    ended = staging / f"{os.getpid()}-ended000"  # a live PID, but its lock is free: ended
    for d in (other_ns, ended):
        d.mkdir(parents=True)
        (d / BUILDER_LOCK).touch()
    with open(other_ns / BUILDER_LOCK, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert clean_stale_staging(root) == [ended]
    assert clean_stale_staging(root) == [other_ns]


def test_a_build_another_process_finished_first_as_asked_is_done(root, cat, monkeypatch):
    """An outside audit: of two identical `data build` commands at once, the second to publish
    failed (exit 1, "use --force") though the dataset was built as asked: `build && train`
    stopped. It is judged as an existing build now."""
    import mfdiff_envs.offline.build as build_mod
    from mfdiff_envs.offline.cli import main

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    real = build_mod.build_recipe

    def built_meanwhile(r, **kw):
        real(r, **kw)  # the other process's build, published first
        raise build_mod.DatasetExistsError(f"dataset {r.dataset_id} appeared during the build")

    monkeypatch.setattr(build_mod, "build_recipe", built_meanwhile)
    assert main(["build", DS, "--no-progress", "--catalogue", cat]) == 0
    # built otherwise by the other process (3 episodes, not the 2 asked): a conflict, exit 2
    shutil.rmtree(root / DS)
    monkeypatch.setattr(build_mod, "build_recipe", lambda r, **kw: built_meanwhile(
        dataclasses.replace(r, episodes=3), **kw))
    assert main(["build", DS, "--no-progress", "--catalogue", cat]) == 2


def test_a_recipe_of_a_new_family_without_env_id_is_refused_by_name(tmp_path):
    """Outside audit: a catalogue file of a family of one's own without env_id crashed the
    build with a bare KeyError; a family with digits failed later, at the dataset id."""
    from mfdiff_envs.offline.catalogue import load_catalogue

    d = tmp_path / "cat"
    d.mkdir()
    no_env_id = 'family = "crowd"\n' + TINY.split("\n", 2)[2]
    (d / "crowd.toml").write_text(no_env_id)
    with pytest.raises(ValueError, match="family 'crowd' has no default env id"):
        load_catalogue(d)
    (d / "crowd.toml").write_text(TINY.replace('family = "squeeze"', 'family = "crowd2"'))
    with pytest.raises(ValueError, match="lowercase letters a-z only"):
        load_catalogue(d)


def test_a_new_family_with_another_familys_env_is_refused_by_name(root, monkeypatch):
    """The builder's own wrong-family error raised KeyError for a family without a default."""
    from mfdiff_envs.offline import build_dataset

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    with pytest.raises(ValueError, match=r"is the 'squeeze' family, not 'crowd'; give an env "
                                         r"id of the 'crowd' family"):
        build_dataset("crowd", env_id="mfdiff/GaussianSqueeze-v0", n_agents=8, tier="random",
                      episodes=1)
    with pytest.raises(ValueError, match="unknown family 'crowd'"):
        build_dataset("crowd", env_id="", n_agents=8, tier="random", episodes=1)


@pytest.mark.parametrize("line, key", [
    ("seed = 1.5", "seed"), ("seed = true", "seed"), ('seed = "7"', "seed"), ("seed = -1", "seed"),
    ("version = 0.5", "version"), ("n_agents = 16.9", "n_agents"), ("episodes = 2.9", "episodes"),
    ("episodes = 0", "episodes")])
def test_a_recipe_number_that_is_no_whole_number_is_refused_by_name(tmp_path, line, key):
    """Outside audit: int() read seed = 1.5 as 1 (and true as 1, "7" as 7, n_agents 16.9 as
    16) and built a dataset the file does not describe; seed = -1 failed only after the
    reference returns, naming no key."""
    from mfdiff_envs.offline.catalogue import load_catalogue

    d = tmp_path / "cat"
    d.mkdir()
    text = TINY.replace("[env_kwargs]", "seed = 3\n[env_kwargs]")
    old = {"seed": "seed = 3", "version": "seed = 3", "n_agents": "n_agents = 16",
           "episodes": "episodes = 2"}[key]
    (d / "s.toml").write_text(text.replace(old, line) if key != "version"
                              else text.replace(old, f"{old}\n{line}"))
    with pytest.raises(ValueError, match=f"{key} must be an integer"):
        load_catalogue(d)
    (d / "s.toml").write_text(text)
    assert load_catalogue(d)[0].seed == 3
