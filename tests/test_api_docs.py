"""The public API documents itself: every public function and class of the three packages has a
docstring and full type hints, and every public method a docstring (its own or inherited)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

PACKAGES = ("mfdiff_envs", "mfdiff_agents", "mfdiff")


def _modules():
    for pkg in PACKAGES:
        root = importlib.import_module(pkg)
        for info in pkgutil.walk_packages(root.__path__, pkg + "."):
            if info.name.endswith("__main__"):
                continue
            try:
                yield importlib.import_module(info.name)
            except ImportError:  # an optional integration's library is not installed
                continue


def _public(mod):
    names = getattr(mod, "__all__", None) or [n for n in dir(mod) if not n.startswith("_")]
    for n in names:
        obj = getattr(mod, n, None)
        if (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ == mod.__name__:
            yield n, obj


def test_public_functions_and_classes_have_docstrings_and_hints():
    undocumented, unhinted = [], []
    for mod in _modules():
        for n, obj in _public(mod):
            where = f"{mod.__name__}.{n}"
            if not (obj.__doc__ or "").strip():
                undocumented.append(where)
            if inspect.isfunction(obj):
                sig = inspect.signature(obj)
                if sig.return_annotation is inspect.Signature.empty or any(
                        p.annotation is inspect.Parameter.empty
                        for p in sig.parameters.values() if p.name not in ("self", "cls")):
                    unhinted.append(where)
            if inspect.isclass(obj):
                for a, v in vars(obj).items():
                    f = v.fget if isinstance(v, property) else getattr(v, "__func__", v)
                    if not a.startswith("_") and inspect.isfunction(f) \
                            and inspect.getdoc(getattr(obj, a)) is None:
                        undocumented.append(f"{where}.{a}")
    assert not undocumented, f"public API without a docstring: {undocumented}"
    assert not unhinted, f"public functions without full type hints: {unhinted}"


def test_the_walk_sees_the_packages():
    """The check above cannot pass by reading nothing."""
    names = {m.__name__ for m in _modules()}
    assert {"mfdiff_envs.core", "mfdiff_agents.diffuser.planner", "mfdiff.cli"} <= names
    if len(names) < 40:
        pytest.fail(f"only {len(names)} modules imported")
