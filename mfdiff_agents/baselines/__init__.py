"""Baselines behind the :class:`~mfdiff_agents.policy.Policy` interface.

| module | method (``--algo``) | acts by |
|---|---|---|
| :mod:`.scripted` | random, scripted medium/expert (the dataset behaviour policies) | numpy |
| :mod:`.bc` | ``bc``: behaviour cloning π(a \\| s_i, m_t) | sampling the softmax |
| :mod:`.mfq` | ``mfq``: offline mean-field Q-learning Q(s_i, m_t, ā) + CQL | Boltzmann over Q |
| :mod:`.independent_diffuser` | ``indep_diffuser``: one single-agent Diffuser | per-agent plans |
| :mod:`.joint_diffuser` | ``joint_diffuser``: MADiff-style, all-pairs attention | joint plan |

Each trainable module holds its ``Config``, its policy, its ``Learner`` (one gradient step) and
``fit``; they are listed in :data:`mfdiff_agents.methods.METHODS`, trained by
:func:`mfdiff_agents.training.train` and saved in the one checkpoint format of
:mod:`mfdiff_agents.checkpoint`.
"""
