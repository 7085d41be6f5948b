"""The dataset catalogue: recipes in ``datasets/<family>.toml`` (data, not a Python package).

One TOML file per family lists the env id, the env kwargs, the population sizes N with the
episode count per N, the tiers, the seed and the expected size on disk. Every (N, tier) pair is
one Minari dataset ``mfdiff/<family>-n<N>/<tier>-v<version>``.

Where the catalogue is found (first match wins):

1. an explicit ``path`` argument (``mfdiff data ... --catalogue DIR``);
2. the ``MFDIFF_CATALOGUE`` environment variable (a directory);
3. ``datasets/`` at the root of the source checkout (editable install: beside ``mfdiff_envs/``).

A non-editable (wheel) install does not ship the recipes: point ``MFDIFF_CATALOGUE`` at a copy
of ``datasets/`` or pass ``--catalogue``. Dataset *building* does not need the catalogue
(:func:`mfdiff_envs.offline.build.build_dataset` takes every argument directly).

Recipe file format (``datasets/squeeze.toml``)::

    family = "squeeze"
    env_id = "mfdiff/GaussianSqueeze-v0"
    version = 0
    seed = 0
    tiers = ["expert", "medium", "random", "mixed"]
    [env_kwargs]            # plain data, passed to gym.make besides n_agents
    max_cycles = 25
    [[sizes]]               # one table per population size
    n_agents = 100
    episodes = 1000
    expected_size_mb = 15.0 # per tier (checked against bytes_per_episode by the tests)
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Dataset quality tiers. "mixed" = a learner's replay (skill rising linearly from 0 to 1).
TIERS: tuple[str, ...] = ("expert", "medium", "random", "mixed")
#: Dataset families and their registered env ids.
FAMILY_ENV: dict[str, str] = {
    "squeeze": "mfdiff/GaussianSqueeze-v0",
    "ising": "mfdiff/Ising-v0",
    "battle": "mfdiff/Battle-v0",
}
CATALOGUE_ENV_VAR = "MFDIFF_CATALOGUE"

_FAMILY_RE = re.compile(r"[a-z]+")
_ID_RE = re.compile(r"mfdiff/(?P<family>[a-z]+)-n(?P<n>\d+)/(?P<tier>[a-z]+)-v(?P<version>\d+)")
_RECIPE_KEYS = {
    "family",
    "env_id",
    "version",
    "seed",
    "tiers",
    "env_kwargs",
    "sizes",
    "description",
}
_SIZE_KEYS = {"n_agents", "episodes", "expected_size_mb"}


def dataset_id(family: str, n_agents: int, tier: str, version: int = 0) -> str:
    """``mfdiff/<family>-n<N>/<tier>-v<version>``."""
    return f"mfdiff/{family}-n{int(n_agents)}/{tier}-v{int(version)}"


def parse_id(dataset_id_: str) -> tuple[str, int, str, int]:
    """Inverse of :func:`dataset_id`: ``(family, n_agents, tier, version)``."""
    m = _ID_RE.fullmatch(dataset_id_)
    if m is None:
        raise ValueError(
            f"not an mfdiff dataset id: {dataset_id_!r} (expected mfdiff/<family>-n<N>/<tier>-v<k>,"
            " the family lowercase letters a-z only, no digits or '_')"
        )
    return m["family"], int(m["n"]), m["tier"], int(m["version"])


@dataclass(frozen=True)
class Recipe:
    """One catalogue entry = one dataset.

    Attributes:
        family: env family (``squeeze``, ``ising``, ``battle``).
        env_id: registered gymnasium id of the joint view.
        env_kwargs: plain-data kwargs of ``gym.make`` (``n_agents`` included).
        n_agents: the env's ``n_agents`` kwarg, the N in the dataset id (for Battle: both teams).
        tier: ``expert``, ``medium``, ``random`` or ``mixed``.
        episodes: episodes to roll out.
        seed: base seed of env resets and behaviour policies.
        version: the ``-v<k>`` of the id.
        expected_size_mb: size on disk the catalogue promises (None: not stated).
    """

    family: str
    env_id: str
    env_kwargs: dict[str, Any] = field(hash=False)
    n_agents: int
    tier: str
    episodes: int
    seed: int = 0
    version: int = 0
    expected_size_mb: float | None = None

    @property
    def dataset_id(self) -> str:
        """The Minari id this recipe builds, ``mfdiff/<family>-n<N>/<tier>-v<version>``."""
        return dataset_id(self.family, self.n_agents, self.tier, self.version)


def catalogue_dir(path: str | os.PathLike | None = None) -> Path:
    """Directory holding the recipe files (see the module docstring for the search order)."""
    if path is not None:
        p = Path(path)
    elif os.environ.get(CATALOGUE_ENV_VAR):
        p = Path(os.environ[CATALOGUE_ENV_VAR])
    else:
        p = Path(__file__).resolve().parents[2] / "datasets"
    if not p.is_dir():
        raise FileNotFoundError(
            f"dataset catalogue directory {p} not found; pass --catalogue DIR or set "
            f"{CATALOGUE_ENV_VAR} to a copy of the repository's datasets/ folder"
        )
    return p


def _load_file(file: Path) -> list[Recipe]:
    with open(file, "rb") as f:
        raw = tomllib.load(f)
    unknown = set(raw) - _RECIPE_KEYS
    if unknown:
        raise ValueError(
            f"{file}: unknown keys {sorted(unknown)} (allowed: {sorted(_RECIPE_KEYS)})"
        )
    family = raw["family"]
    if not raw.get("env_id") and family not in FAMILY_ENV:
        raise ValueError(f"{file}: family {family!r} has no default env id (FAMILY_ENV: "
                         f"{sorted(FAMILY_ENV)}); give env_id = \"mfdiff/...\" in the file")
    if not _FAMILY_RE.fullmatch(str(family)):
        raise ValueError(f"{file}: family {family!r} cannot name a dataset id: "
                         "a family is lowercase letters a-z only")
    tiers = raw.get("tiers", list(TIERS))
    bad = [t for t in tiers if t not in TIERS]
    if bad:
        raise ValueError(f"{file}: unknown tiers {bad} (allowed: {list(TIERS)})")
    def whole(key: str, value: object, low: int) -> int:
        # TOML gives ints; int() would read 1.5 as 1, true as 1 and "7" as 7, and build or
        # record a dataset the file does not say (an outside audit)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{file}: {key} must be an integer ≥ {low}, got {value!r}")
        return value

    seed = whole("seed", raw.get("seed", 0), 0)
    version = whole("version", raw.get("version", 0), 0)
    recipes = []
    for size in raw["sizes"]:
        unknown = set(size) - _SIZE_KEYS
        if unknown:
            raise ValueError(f"{file}: unknown keys {sorted(unknown)} in [[sizes]]")
        n = whole("n_agents", size["n_agents"], 1)
        episodes = whole("episodes", size["episodes"], 1)
        kwargs = {**raw.get("env_kwargs", {}), "n_agents": n}
        for tier in tiers:
            recipes.append(
                Recipe(
                    family=family,
                    env_id=raw.get("env_id", FAMILY_ENV.get(family, "")),
                    env_kwargs=kwargs,
                    n_agents=n,
                    tier=tier,
                    episodes=episodes,
                    seed=seed,
                    version=version,
                    expected_size_mb=size.get("expected_size_mb"),
                )
            )
    return recipes


def load_catalogue(path: str | os.PathLike | None = None) -> list[Recipe]:
    """Every recipe of every ``*.toml`` file in the catalogue directory, in file order."""
    out: list[Recipe] = []
    for file in sorted(catalogue_dir(path).glob("*.toml")):
        out.extend(_load_file(file))
    return out


#: the catalogue's errors end with how to build what it does not hold
OTHER_N = ("; a dataset at another N is built from Python: mfdiff_envs.offline.build_dataset("
           "FAMILY, n_agents=N, tier=TIER, episodes=E) (README, Datasets)")


def _catalogue_recipe(dataset_id_: str) -> Recipe | None:
    """The catalogue's recipe of ``dataset_id_`` (None: not in it, or no readable catalogue)."""
    try:
        return next((r for r in load_catalogue() if r.dataset_id == dataset_id_), None)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def family_env_kwargs(family: str, env_id: str) -> dict[str, Any]:
    """The env kwargs the catalogue builds ``family``'s datasets with on ``env_id`` (its file's
    ``[env_kwargs]``, without ``n_agents``), e.g. Battle's ``max_cycles = 200`` where the env's
    own default is 300; ``{}`` where no catalogue recipe of that family uses ``env_id`` or no
    catalogue can be read."""
    try:
        recipes = load_catalogue()
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    for r in recipes:
        if r.family == family and r.env_id == env_id:
            return {k: v for k, v in r.env_kwargs.items() if k != "n_agents"}
    return {}


def in_catalogue(dataset_id_: str, path: str | os.PathLike | None = None) -> bool:
    """Whether ``mfdiff data build`` can make ``dataset_id_``: a catalogue entry has its id. An
    unreadable or missing catalogue holds nothing (the command cannot build from it either)."""
    try:
        return any(r.dataset_id == dataset_id_ for r in load_catalogue(path))
    except (OSError, ValueError, KeyError, TypeError):
        return False


def build_call(
    dataset_id_: str, built: Mapping[str, Any] | None = None, *, overwrite: bool = False
) -> str:
    """The Python call that builds ``dataset_id_``, the way to any id off the catalogue
    (``mfdiff data build`` takes catalogue ids only).

    Family, N, tier and version come from the id, so the call lands on it; episodes, env id,
    env kwargs and seed from ``built`` (the ``mfdiff`` block of a built dataset's metadata)
    where it records them, else ``episodes=<how many>`` and the family's defaults.

    Raises:
        ValueError: ``dataset_id_`` is not an mfdiff dataset id.
    """
    family, n, tier, version = parse_id(dataset_id_)
    built = built or {}
    args = [repr(family), f"n_agents={n}", f"tier={tier!r}",
            f"episodes={built.get('episodes', '<how many>')}"]
    env_id = built.get("env_id")
    if env_id and env_id != FAMILY_ENV.get(family):
        args.append(f"env_id={env_id!r}")
    kwargs = built.get("env_kwargs")
    if isinstance(kwargs, Mapping):  # n_agents is the argument above; a second one is refused
        kwargs = {k: v for k, v in kwargs.items() if k != "n_agents"}
        if kwargs:
            args.append(f"env_kwargs={kwargs!r}")
    if built.get("seed"):
        args.append(f"seed={built['seed']}")
    # the reference returns normalise every score on the dataset: measured over as many
    # rollouts as before (ref_scores passed explicitly to the first build cannot be told
    # from measured ones in the metadata, and are not copied: an edit would be)
    from mfdiff_envs.offline.build import REF_EPISODES  # on the error path only

    if built.get("ref_episodes") not in (None, REF_EPISODES):
        args.append(f"ref_episodes={built['ref_episodes']}")
    if version:
        args.append(f"version={version}")
    if overwrite:
        args.append("overwrite=True")
    return f"mfdiff_envs.offline.build_dataset({', '.join(args)})"


def rebuild_hint(dataset_id_: str, built: Mapping[str, Any] | None = None) -> str:
    """How to rebuild a built dataset in place, in backticks: ``mfdiff data build ID --force``
    for a catalogue id, else :func:`build_call` with ``overwrite=True`` (that command refuses
    an id off the catalogue). ``built``: the ``mfdiff`` block of its metadata; None reads it
    (the call then leaves out what cannot be read). A catalogue id built with another episode
    count gets ``--episodes`` (``--force`` alone would rebuild the catalogue's size), one built
    with another seed or behaviour policy the Python call (the command sets neither)."""
    if built is None:
        from mfdiff_envs.offline.integrity import read_metadata

        try:
            built = read_metadata(dataset_id_).get("mfdiff")
        except (OSError, ValueError, AttributeError):
            built = None
        built = built if isinstance(built, Mapping) else None
    recipe = _catalogue_recipe(dataset_id_)
    if recipe is not None and (built or {}).get("behaviour", "default") == "default" \
            and (built or {}).get("seed", recipe.seed) == recipe.seed:
        episodes = (built or {}).get("episodes", recipe.episodes)
        more = f" --episodes {episodes}" if episodes != recipe.episodes else ""
        return f"`mfdiff data build {dataset_id_} --force{more}`"
    try:
        call = f"`{build_call(dataset_id_, built, overwrite=True)}`"
    except ValueError:  # not an mfdiff id: no family, N or tier to name
        return "`mfdiff_envs.offline.build_dataset(..., overwrite=True)`"
    if (built or {}).get("behaviour") == "custom":  # the metadata cannot say which
        call += " with the policy_factory / skill_of_tier it was built with"
    return call


#: how close (difflib ratio) a misspelt id must be to a known one to be offered: one or two
#: letters of a family or tier score 0.95 or more, an unrelated family ~0.8
CLOSE_ID = 0.85


def _env_refuses(env_id: str, n_agents: int, env_kwargs: Mapping[str, Any] | None = None
                  ) -> str | None:
    """The env's own error for ``n_agents`` (an odd Battle N, a non-square Ising one), None
    where it accepts it: a hint to build a dataset at an N the env refuses would only move the
    error into ``build_dataset`` (an outside audit). Only up to :data:`HINT_MAX_N` agents: the
    check builds the env, and a mistyped N of 2·10⁸ took 24 GB for a hint."""
    import gymnasium as gym

    import mfdiff_envs  # noqa: F401  (registers the ids)

    if n_agents > HINT_MAX_N:
        return None
    try:
        gym.make(env_id, **{**(env_kwargs or {}), "n_agents": n_agents}).close()
    except (ValueError, TypeError) as e:
        return str(e)
    except MemoryError:
        return None
    return None


#: the largest N :func:`_env_refuses` builds an env at (a few MB of env arrays)
HINT_MAX_N = 10**6


def off_catalogue_hint(
    dataset_id_: str, recipes: Sequence[Recipe], also: Iterable[str] = ()
) -> str:
    """What to do about an id the catalogue lacks, to append (``"; ..."``) to a message
    saying so.

    A known family and tier at an N or version the catalogue lacks: the
    :func:`build_call` that makes it, after the ids of other versions in the catalogue or
    ``also``, else the catalogue's N for that family and tier. Anything else — a
    misspelt family or tier, a malformed id — would fail in ``build_dataset`` as well: the
    nearest ids among the catalogue's and ``also`` (e.g. the built ones), as gymnasium does
    for env ids, else the families and tiers.
    """
    try:
        family, n, tier, version = parse_id(dataset_id_)
    except ValueError:
        family = tier = ""
    env_of = {r.family: r.env_id for r in recipes}
    pool = sorted({r.dataset_id for r in recipes} | set(also))
    if family:
        # a misspelt family or tier, or an N spelt another way (n01000): corrected word by
        # word, keeping the N and version asked for: matching the whole id instead offered
        # mfdiff/ising-n100/medium-v0 for mfdiff/ising-n4096/mediun-v0, another population
        fams = sorted(set(FAMILY_ENV) | set(env_of))
        fix_f = family if family in fams else next(
            iter(difflib.get_close_matches(family, fams, n=1, cutoff=0.6)), None)
        fix_t = tier if tier in TIERS else next(
            iter(difflib.get_close_matches(tier, TIERS, n=1, cutoff=0.6)), None)
        if fix_f and fix_t:
            fixed = dataset_id(fix_f, n, fix_t, version)
            if fixed != dataset_id_:
                return (f"; did you mean {fixed}?"
                        + ("" if fixed in pool else off_catalogue_hint(fixed, recipes, also)))
    if tier in TIERS and (family in FAMILY_ENV or family in env_of):
        here = [r for r in recipes if r.family == family and r.tier == tier]
        stem = dataset_id_.rsplit("-v", 1)[0] + "-v"
        same_n = [i for i in pool if i.startswith(stem) and i[len(stem):].isdigit()]
        if same_n:  # only the version differs
            held = f"; there is {' and '.join(same_n)}"
        elif here:
            held = f"; the catalogue has {family} {tier} at N = {sorted(r.n_agents for r in here)}"
        else:
            held = ""
        built = {} if family in FAMILY_ENV else {"env_id": env_of[family]}
        refused = _env_refuses(env_of.get(family) or FAMILY_ENV[family], n)
        if refused:
            return f"{held}; no {family} dataset can be built at N = {n}: {refused}"
        return (f"{held}; another N or version is built from Python: "
                f"{build_call(dataset_id_, built)} (README, Datasets)")
    close = difflib.get_close_matches(dataset_id_, pool, n=1, cutoff=CLOSE_ID)
    if close:
        return f"; did you mean {close[0]}?"
    return (f"; catalogue families: {sorted(env_of)}, tiers: {list(TIERS)} "
            "(`mfdiff data list` shows every id)")


def select(
    target: str,
    *,
    n_agents: int | None = None,
    tier: str | None = None,
    path: str | os.PathLike | None = None,
) -> list[Recipe]:
    """Recipes matching ``target`` (a dataset id, a family name, or ``all``), filtered by N/tier."""
    recipes = load_catalogue(path)
    if target.startswith("mfdiff/"):
        chosen = [r for r in recipes if r.dataset_id == target]
        if not chosen:
            from mfdiff_envs.offline.build import dataset_exists  # on the error path only

            # built here from Python (e.g. `data build ID --force`, which an older message
            # taught): the call that rebuilds it as it was, not a generic one
            hint = (f"; it is built here: rebuild it in place with {rebuild_hint(target)}"
                    if dataset_exists(target) else off_catalogue_hint(target, recipes))
            raise KeyError(f"dataset {target} is not in the catalogue ({catalogue_dir(path)})"
                           + hint)
    elif target == "all":
        chosen = recipes
    else:
        chosen = [r for r in recipes if r.family == target]
        if not chosen:
            families = sorted({r.family for r in recipes})
            close = (difflib.get_close_matches(target, families, n=1)
                     or difflib.get_close_matches(target, [r.dataset_id for r in recipes], n=1,
                                                  cutoff=CLOSE_ID))
            guess = f" (did you mean {close[0]!r}?)" if close else ""
            raise KeyError(f"unknown family {target!r}{guess}; catalogue families: {families} "
                           "(or 'all', or an id)")
    if n_agents is not None:
        sizes = sorted({r.n_agents for r in chosen})
        chosen = [r for r in chosen if r.n_agents == n_agents]
        if not chosen:
            envs = {r.env_id: r.env_kwargs for r in recipes if r.family == target
                    or r.dataset_id == target}
            refused = next((e for e in (_env_refuses(i, n_agents, {
                k: v for k, v in kw.items() if k != "n_agents"}) for i, kw in envs.items())
                if e), None)
            raise KeyError(f"no catalogue entry for {target!r} with N = {n_agents} (N: {sizes})"
                           + (f"; and the env refuses N = {n_agents}: {refused}" if refused
                              else OTHER_N))
    if tier is not None:
        if tier not in TIERS:
            raise ValueError(f"unknown tier {tier!r}; tiers: {list(TIERS)}")
        chosen = [r for r in chosen if r.tier == tier]
    if not chosen:
        raise KeyError(
            f"no catalogue entry matches {target!r} with n_agents={n_agents}, tier={tier}"
        )
    return chosen
