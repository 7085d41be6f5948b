"""The ``mfdiff`` command line.

Subcommands are thin: each parses its arguments and calls a library function, so everything
the CLI does is importable and testable. Heavy imports (torch) happen inside subcommands.
"""

from __future__ import annotations

import argparse
import sys


def _env_demo(args: argparse.Namespace) -> int:
    from mfdiff_envs.demo import run_env_demo

    run_env_demo(n_agents=args.n_agents, steps=args.steps, seed=args.seed)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mfdiff", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    env = sub.add_parser("env", help="environment utilities")
    env_sub = env.add_subparsers(dest="env_command", required=True)
    demo = env_sub.add_parser(
        "demo", help="step every family with its scripted policy and print a table"
    )
    demo.add_argument("--n-agents", type=int, default=1000)
    demo.add_argument("--steps", type=int, default=50)
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(func=_env_demo)

    from mfdiff_envs.offline.cli import add_parser as add_data_parser

    add_data_parser(sub)

    from mfdiff_agents.cli_eval import add_parser as add_eval_parser

    add_eval_parser(sub)
    from mfdiff_agents.train import add_parser as add_train_parser  # torch imported lazily

    add_train_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
