"""experiments/swap_heads.py: one checkpoint's planner with another's action head."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

from mfdiff_agents.checkpoint import load_checkpoint, read_meta, save_checkpoint

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"


def _module():
    spec = importlib.util.spec_from_file_location("swap_heads", ROOT / "experiments/swap_heads.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _other_seed(src: Path, dst: Path) -> Path:
    """``src`` saved again as if trained with another seed: every tensor moved."""
    ck, meta = load_checkpoint(src), read_meta(src)
    cfg = dict(meta["config"], seed=meta["config"]["seed"] + 1)
    tensors = {k: v + 0.5 if v.is_floating_point() else v for k, v in ck.tensors.items()}
    return save_checkpoint(dst, method=ck.method, config=cfg, env=ck.env, tensors=tensors,
                           steps_done=meta.get("steps_done"))


def test_cross_takes_the_head_from_one_and_the_rest_from_the_other(tmp_path):
    sh = _module()
    a = GOLDEN / "ising"
    b = _other_seed(a, tmp_path / "b")
    out = sh.cross(a, b, tmp_path / "a-plans-b-head")
    ta, tb, to = (load_checkpoint(p).tensors for p in (a, b, out))
    heads = [k for k in to if k.startswith("action_head.")]
    assert heads and len(heads) < len(to)
    for k, v in to.items():
        assert torch.equal(v, (tb if k in heads else ta)[k]), k
    meta = json.loads((out / "config.json").read_text())
    assert meta["crossed"]["plans"] == str(a) and meta["crossed"]["head"] == str(b)
    assert meta["config"] == read_meta(a)["config"]
    # the crossed checkpoint acts like any other
    from mfdiff_agents import load_policy
    load_policy(out)


def test_cross_refuses_to_overwrite_or_to_mix_settings(tmp_path):
    sh = _module()
    (tmp_path / "taken").mkdir()
    with pytest.raises(FileExistsError, match="taken"):
        sh.cross(GOLDEN / "ising", GOLDEN / "ising", tmp_path / "taken")
    with pytest.raises(ValueError, match="differ in settings"):
        sh.cross(GOLDEN / "ising", GOLDEN / "squeeze", tmp_path / "new")
    assert not (tmp_path / "new").exists()
