"""mfdiff_agents: the MF-Diffuser planner and the baselines, behind one policy interface."""

from mfdiff_agents.policy import Policy, RandomPolicy

__all__ = ["Policy", "RandomPolicy"]
