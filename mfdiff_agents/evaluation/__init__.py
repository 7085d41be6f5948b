"""Evaluation of any mfdiff policy: runs and records (:mod:`.run`), statistics (:mod:`.stats`),
tables and plots (:mod:`.report`), sweeps over methods × N (:mod:`.sweep`)."""

from mfdiff_agents.evaluation.report import (
    append_new_runs,
    check_appendable,
    markdown_table,
    read_jsonl,
    read_records,
    records_lock,
    seeds_already_in,
    write_jsonl,
    write_report,
)
from mfdiff_agents.evaluation.run import evaluate, make_core, reference_scores
from mfdiff_agents.evaluation.stats import aggregate, bootstrap_ci, iqm, summarize
from mfdiff_agents.evaluation.sweep import load_sweep, run_sweep

__all__ = [
    "aggregate",
    "append_new_runs",
    "bootstrap_ci",
    "check_appendable",
    "evaluate",
    "iqm",
    "load_sweep",
    "make_core",
    "markdown_table",
    "read_jsonl",
    "read_records",
    "records_lock",
    "reference_scores",
    "seeds_already_in",
    "run_sweep",
    "summarize",
    "write_jsonl",
    "write_report",
]
