"""The ``mfdiff`` command line: ``env``, ``data``, ``train``, ``eval``, ``demo``.

Subcommands are thin: each parses its arguments and calls library functions, so everything
the CLI does is importable and testable. Heavy imports (torch) happen inside subcommands, so
``mfdiff --help`` and ``mfdiff data …`` never import torch.

A user error (bad config key, missing dataset, damaged checkpoint, bad JSON, …) prints one line
``mfdiff <command>: error: …`` and exits with code 2; set ``MFDIFF_DEBUG=1`` for the traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings

#: Exit code of a user error (argparse uses the same).
USAGE_ERROR = 2

# Idle OpenMP threads sleep instead of spinning (must be set before torch loads its OpenMP
# runtime): on a busy 2-core machine spinning made training 4-6x slower in wall time and CPU
# (docs/results/threads.md). A value the user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _env_demo(args: argparse.Namespace) -> int:
    from mfdiff_envs.demo import run_env_demo

    run_env_demo(n_agents=args.n_agents, steps=args.steps, seed=args.seed)
    return 0


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exception types that mean "the input is wrong", not "the code is wrong"."""
    errors: list[type[BaseException]] = [FileExistsError, FileNotFoundError,
                                         json.JSONDecodeError, ValueError, TypeError]
    # gymnasium.error.Error: an env id that is not registered (NameNotFound, with gymnasium's
    # "did you mean"), a missing optional dependency
    for mod, name in (("mfdiff_envs.offline.integrity", "DatasetError"),
                      ("gymnasium.error", "Error")):
        m = sys.modules.get(mod)
        if m is not None and hasattr(m, name):
            errors.append(getattr(m, name))
    return tuple(errors)


def build_parser() -> argparse.ArgumentParser:
    """The ``mfdiff`` argument parser: the ``data``, ``train``, ``eval`` and ``demo`` commands."""
    from mfdiff import __version__

    p = argparse.ArgumentParser(prog="mfdiff", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"mfdiff {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    env = sub.add_parser("env", help="environment utilities",
                         description="Environment utilities.")
    env_sub = env.add_subparsers(dest="env_command", required=True)
    demo = env_sub.add_parser(
        "demo", help="play each family with its scripted expert and random policy, print a table",
        description="Play one episode of each family (Gaussian Squeeze, Ising, Battle, and "
        "MAgentBattle when magent2 is installed) with its scripted expert and with uniform "
        "random actions; print the mean team reward per step, the family metric and the speed.")
    demo.add_argument("--n-agents", type=int, default=1000,
                      help="population size N (Ising rounds down to a square L², Battle to an "
                      "even total of two teams); default 1000")
    demo.add_argument("--steps", type=int, default=50, help="episode length; default 50")
    demo.add_argument("--seed", type=int, default=0, help="env and policy seed; default 0")
    demo.set_defaults(func=_env_demo)

    from mfdiff_envs.offline.cli import add_parser as add_data_parser

    add_data_parser(sub)

    from mfdiff.cli_agents import add_parsers

    add_parsers(sub)
    return p


def _one_line_warning(message, category, filename, lineno, line=None) -> str:  # noqa: ANN001
    from mfdiff_envs.core import MfdiffWarning

    if issubclass(category, MfdiffWarning):  # one of ours, by category (not by file: torch's
        # warnings carry the file of the mfdiff line that called torch)
        return f"mfdiff: warning: {message}\n"
    # another library's warning (a deprecation, say), or one a user's code raised: with its
    # category and source, as Python prints it, not passed off as mfdiff's own (an audit)
    return f"mfdiff: {category.__name__} from {filename}:{lineno}: {message}\n"


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    # through tqdm, which clears a progress bar's line first: printed plainly, the warning ran
    # on after the bar's text
    from tqdm import tqdm

    tqdm.write(_one_line_warning(message, category, filename, lineno).rstrip("\n"),
               file=file or sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run ``mfdiff`` with ``argv`` (default: ``sys.argv[1:]``); the exit code: 0, 1 for a
    failure of the code, 2 for bad input (one line on stderr, no traceback)."""
    try:
        return _main(argv)
    except BrokenPipeError:  # `mfdiff … | head`: the reader left; no traceback, as a Unix tool
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _main(argv: list[str] | None) -> int:
    saved = warnings.formatwarning, warnings.showwarning
    warnings.formatwarning = _one_line_warning  # a warning is one line, like an error
    if sys.stderr.isatty():  # where a progress bar draws its line
        warnings.showwarning = _show_warning
    try:  # restored after: main() called in-process must not change the caller's warnings
        return _run(argv)
    finally:
        warnings.formatwarning, warnings.showwarning = saved


#: the commands whose work is torch's (train, act): the ones that tune the C allocator
TORCH_COMMANDS = ("train", "eval", "demo")


def _run(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in TORCH_COMMANDS:
        from mfdiff_agents.allocator import tune_cpu_allocator

        tune_cpu_allocator()  # glibc keeps freed memory: up to a third of acting (allocator.md)
    try:
        return int(args.func(args) or 0)
    except _user_errors() as e:
        if os.environ.get("MFDIFF_DEBUG"):
            raise
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        print(f"mfdiff {args.command}: error: {msg}", file=sys.stderr)
        return USAGE_ERROR
    except FloatingPointError as e:  # training diverged, or a checkpoint acts on NaN
        if os.environ.get("MFDIFF_DEBUG"):
            raise
        print(f"mfdiff {args.command}: error: {str(e).splitlines()[0]}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        note = ""
        if args.command == "train" and getattr(args, "out", None) is not None:
            from mfdiff.cli_agents import interrupted_train_note

            note = interrupted_train_note(args.out)
        print(f"mfdiff {args.command}: interrupted{note}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
