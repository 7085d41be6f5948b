"""Integrity of mfdiff datasets: content hashes written at build, checked at load and on demand.

At build (:func:`mfdiff_envs.offline.build.build_dataset`) every episode's arrays are hashed as
they are copied into the final hdf5 file, and the ``mfdiff`` metadata block gets::

    "integrity": {
        "algorithm": "sha256",
        "episodes": ["<hex>", ...],   # one digest per episode, in episode order
        "content": "<hex>",           # sha256 of the episode digests, in order
        "hdf5_bytes": 123456789,      # exact size of data/main_data.hdf5
        "metadata": "<hex>",          # sha256 of the metadata that defines the data (below)
    }

An episode digest (:func:`episode_digest`) covers every array of the episode group (observations,
actions, rewards, terminations, truncations and each ``infos`` array) in sorted path order, each
preceded by its path, dtype and shape, so a changed value, dtype or shape changes the digest.

The metadata digest (:func:`metadata_digest`) covers every field of ``metadata.json`` that
changes what the data mean — the spaces, env specs, reference scores (evaluation normalises by
them), episode and step counts, and the ``mfdiff`` block — and leaves out only the fields
written after it (``dataset_size``, ``description``, ``mfdiff.size_mb``,
``mfdiff.build_seconds``) and the integrity block itself. :func:`metadata_problem` checks it
and, for every dataset (including those built before the digest was recorded), that the
fields recorded twice agree with each other. ``open_dataset`` runs it, so a hand-edited
metadata.json stops training, evaluation and ``mfdiff data`` instead of changing their
numbers silently.

Two levels of checking:

* :func:`quick_check` — cheap (no array is read): the metadata passes
  :func:`metadata_problem`, the hdf5 file exists, has the recorded byte size, opens, and holds
  the recorded number of episode groups. ``mfdiff data list`` uses it.
* :func:`~mfdiff_envs.offline.episodes.verify_dataset` — full:
  :func:`~mfdiff_envs.offline.episodes.load_episodes` reads every
  array, recomputes the digests (one sha256 pass over arrays it reads anyway, ~1.5 GB/s) and
  rejects non-finite values. ``mfdiff data verify`` uses it.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

HASH_ALGORITHM = "sha256"
HDF5_FILE = "main_data.hdf5"
#: Arrays that must be finite, by their path inside an episode.
FINITE_KEYS = ("observations", "rewards", "infos/rewards")


class DatasetError(RuntimeError):
    """A dataset is missing, corrupt or not in the mfdiff layout; the message names its id."""


def flatten_arrays(tree: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(path, array) for every leaf of a nested episode dict (``infos/alive``, ...); ``id`` and
    ``None`` leaves are skipped (they are not arrays of the episode group)."""
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from flatten_arrays(value, prefix=f"{path}/")
        elif value is not None and path != "id":
            yield path, value


def episode_digest(arrays: Mapping[str, Any]) -> str:
    """sha256 (hex) of one episode: every leaf array in sorted path order, with its header.

    Args:
        arrays: the episode's arrays, nested (``{"infos": {"alive": ...}}``, as
            ``MinariStorage.get_episodes`` yields them) or flat (``{"infos/alive": ...}``).
    """
    h = hashlib.new(HASH_ALGORITHM)
    for path, value in sorted(flatten_arrays(arrays)):
        a = np.ascontiguousarray(value)
        h.update(f"{path}|{a.dtype.str}|{a.shape}\n".encode())
        h.update(a)  # hashlib reads the buffer in place (no copy) and releases the GIL
    return h.hexdigest()


def content_digest(episode_digests: Sequence[str]) -> str:
    """sha256 (hex) of the episode digests in order: one value naming the dataset's content."""
    h = hashlib.new(HASH_ALGORITHM)
    for d in episode_digests:
        h.update(d.encode() + b"\n")
    return h.hexdigest()


def integrity_block(episode_digests: Sequence[str], hdf5_bytes: int) -> dict[str, Any]:
    """The ``mfdiff.integrity`` metadata block (see the module docstring)."""
    return {
        "algorithm": HASH_ALGORITHM,
        "episodes": list(episode_digests),
        "content": content_digest(episode_digests),
        "hdf5_bytes": int(hdf5_bytes),
    }


#: metadata.json fields written after the digest (or derived text): not covered by it.
UNHASHED_TOP = ("dataset_size", "description")
UNHASHED_MFDIFF = ("integrity", "size_mb", "build_seconds")


def metadata_digest(meta: Mapping[str, Any]) -> str:
    """sha256 (hex) of ``metadata.json`` as parsed, without the fields of :data:`UNHASHED_TOP`
    and :data:`UNHASHED_MFDIFF` (canonical JSON: sorted keys, no whitespace)."""
    import json

    top = {k: v for k, v in meta.items() if k not in UNHASHED_TOP}
    if isinstance(top.get("mfdiff"), Mapping):
        top["mfdiff"] = {k: v for k, v in top["mfdiff"].items() if k not in UNHASHED_MFDIFF}
    text = json.dumps(top, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.new(HASH_ALGORITHM, text.encode()).hexdigest()


def _rebuild_hint(dataset_id: str, built: Mapping[str, Any] | None = None) -> str:
    """:func:`mfdiff_envs.offline.catalogue.rebuild_hint`, imported only when a message needs
    it (it reads the catalogue)."""
    from mfdiff_envs.offline.catalogue import rebuild_hint as hint

    return hint(dataset_id, built)


def _differs(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return not np.isclose(float(a), float(b), rtol=1e-9, atol=1e-12)
    return a != b


def metadata_problem(meta: Mapping[str, Any], dataset_id: str | None = None) -> str | None:
    """``None`` if an mfdiff dataset's metadata is as built, else what was changed.

    Checks the recorded metadata digest (datasets built since it is recorded) and, for every
    dataset with an ``mfdiff`` block, that the fields recorded twice agree: the id, the
    reference scores, the episode and step counts, the env id and kwargs of ``env_spec`` /
    ``eval_env_spec``, and ``normalized_mean`` against ``return_mean`` and the references.
    Metadata without an ``mfdiff`` block (not an mfdiff dataset) is not checked here.
    """
    import json

    mf = meta.get("mfdiff")
    if not isinstance(mf, Mapping):
        return None
    target = dataset_id or meta.get("dataset_id") or "ID"

    def fix() -> str:  # on the error path only: it may read the catalogue
        # the episode count from the per-episode digests, not the (possibly edited) field
        digests = mf.get("integrity", {}).get("episodes") if isinstance(
            mf.get("integrity"), Mapping) else None
        safe = {k: v for k, v in mf.items() if k != "episodes"}
        if isinstance(digests, list):
            safe["episodes"] = len(digests)
        return ("metadata.json was edited after the build; rebuild with "
                f"{_rebuild_hint(target, safe)}")

    recorded = mf.get("integrity", {}).get("metadata") if isinstance(
        mf.get("integrity"), Mapping) else None
    pairs = [
        ("ref_min_score", meta.get("ref_min_score"), mf.get("ref_min_score")),
        ("ref_max_score", meta.get("ref_max_score"), mf.get("ref_max_score")),
        ("total_episodes", meta.get("total_episodes"), mf.get("episodes")),
        ("total_steps", meta.get("total_steps"), mf.get("steps")),
        ("dataset_id", meta.get("dataset_id"), mf.get("dataset_id")),
    ]
    if dataset_id is not None:
        pairs.append(("dataset_id (directory)", dataset_id, meta.get("dataset_id")))
    for key in ("env_spec", "eval_env_spec"):
        raw = meta.get(key)
        if not raw:
            continue
        try:
            spec = json.loads(raw) if isinstance(raw, str) else dict(raw)
        except ValueError:
            return f"metadata.json's {key} does not parse ({fix()})"
        pairs.append((f"{key}.id", spec.get("id"), mf.get("env_id")))
        pairs.append((f"{key}.kwargs", spec.get("kwargs"), mf.get("env_kwargs")))
    lo, hi, ret, norm = (mf.get(k) for k in
                         ("ref_min_score", "ref_max_score", "return_mean", "normalized_mean"))
    if None not in (lo, hi, ret, norm) and hi != lo and math.isfinite(norm):
        pairs.append(("normalized_mean", norm, 100.0 * (ret - lo) / (hi - lo)))
    bad = [f"{name} ({a!r} vs {b!r})" for name, a, b in pairs
           if a is not None and b is not None and _differs(a, b)]
    if bad:  # first: it names the field
        return f"metadata.json disagrees with itself: {'; '.join(bad)} ({fix()})"
    if recorded is not None and metadata_digest(meta) != recorded:
        return f"metadata.json does not match the sha256 recorded at build ({fix()})"
    return None


def nonfinite_rows(arrays: Mapping[str, Any]) -> str | None:
    """``None`` if every float array of :data:`FINITE_KEYS` is finite, else a description
    (``"observations rows [3, 4]"``) of where the NaN/inf values are (rows = time index)."""
    flat = dict(flatten_arrays(arrays))
    bad = []
    for key in FINITE_KEYS:
        a = flat.get(key)
        if a is None:
            continue
        a = np.asarray(a)
        if a.dtype.kind != "f" or np.isfinite(a).all():  # fast path: one vectorised pass
            continue
        rows = np.flatnonzero(~np.isfinite(a.reshape(len(a), -1)).all(axis=1))
        shown = rows[:10].tolist()
        more = f" and {len(rows) - 10} more" if len(rows) > 10 else ""
        bad.append(f"{key} rows {shown}{more}")
    return "; ".join(bad) if bad else None


def dataset_dir(dataset_id: str) -> Path:
    """``<MINARI_DATASETS_PATH>/<id>`` (whether or not it exists)."""
    from minari.storage import get_dataset_path

    return Path(get_dataset_path(dataset_id))


def disk_size_mb(dataset_id: str) -> float:
    """Bytes under ``<id>/data`` on disk, in MB (10^6 B), as Minari's ``dataset_size`` counts."""
    data = dataset_dir(dataset_id) / "data"
    return sum(f.stat().st_size for f in data.rglob("*") if f.is_file()) / 1e6


def read_metadata(dataset_id: str) -> dict[str, Any]:
    """The dataset's ``metadata.json`` as written (unchecked: see :func:`metadata_problem`)."""
    import json

    path = dataset_dir(dataset_id) / "data" / "metadata.json"
    with open(path) as f:
        return json.load(f)


def quick_check(dataset_id: str) -> str | None:
    """Cheap check (no array read): ``None`` if the dataset looks whole, else what is wrong.

    Checks that the metadata parses and passes :func:`metadata_problem`, the hdf5 file exists
    with the byte size recorded at build, opens, and holds ``total_episodes`` episode groups.
    Datasets built before content hashes were recorded are only checked for opening and the
    episode count.
    """
    import h5py

    data = dataset_dir(dataset_id) / "data"
    try:
        meta = read_metadata(dataset_id)
    except (OSError, ValueError) as e:
        return f"metadata.json unreadable ({type(e).__name__}: {e})"
    problem = metadata_problem(meta, dataset_id)
    if problem is not None:
        return problem
    h5 = data / HDF5_FILE
    if not h5.is_file():
        return f"{HDF5_FILE} is missing"
    size = h5.stat().st_size
    expected = meta.get("mfdiff", {}).get("integrity", {}).get("hdf5_bytes")
    if expected is not None and size != expected:
        return f"{HDF5_FILE} has {size} bytes, {expected} were written (truncated or altered)"
    try:
        with h5py.File(h5, "r") as f:
            n_groups = sum(1 for k in f if k.startswith("episode_"))
    except Exception as e:  # h5py raises OSError (bad signature, truncated) and others
        return f"{HDF5_FILE} does not open ({type(e).__name__}: {e})"
    if n_groups != meta.get("total_episodes"):
        return f"{HDF5_FILE} holds {n_groups} episodes, metadata says {meta.get('total_episodes')}"
    return None


#: How :func:`unhashed_reason` begins: a dataset that cannot be verified, not a damaged one.
UNHASHED = "no content hash recorded"


def unhashed_reason(meta: Mapping[str, Any], dataset_id: str) -> str:
    """Why a dataset has no content hash, and what to do: built by an older mfdiff (rebuild
    it), or by another tool (Minari's ``combine_datasets`` / ``DataCollector``: no mfdiff block,
    nothing to rebuild from)."""
    if "mfdiff" in meta:
        mf = meta["mfdiff"] if isinstance(meta["mfdiff"], Mapping) else None
        return (f"{UNHASHED} (built by an older mfdiff): loaded unverified; "
                f"{_rebuild_hint(dataset_id, mf)} rebuilds it")
    return (f"{UNHASHED} (not built by mfdiff: e.g. Minari's combine_datasets or "
            "DataCollector): its episodes cannot be checked against one")


def check_loaded_episode(
    dataset_id: str, index: int, ep: Mapping[str, Any], recorded: Sequence[str] | None
) -> None:
    """Raise :class:`DatasetError` if episode ``index`` (as read from disk) does not match its
    recorded digest or holds non-finite values. ``recorded=None``: no digest to compare."""
    if recorded is not None:
        if index >= len(recorded):
            raise DatasetError(
                f"dataset {dataset_id}: episode {index} has no recorded content hash "
                f"({len(recorded)} recorded); the file holds more episodes than were built"
            )
        if episode_digest(ep) != recorded[index]:
            raise DatasetError(
                f"dataset {dataset_id}: episode {index} does not match the sha256 recorded at "
                f"build (damaged file); rebuild with {_rebuild_hint(dataset_id)}"
            )
    where = nonfinite_rows(ep)
    if where is not None:
        raise DatasetError(f"dataset {dataset_id}: episode {index} has NaN/inf values in {where}")
