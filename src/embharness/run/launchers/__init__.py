"""Launchers: run a sweep's (model, task) jobs locally, as a SLURM array (submitit) or on Ray."""

LAUNCHERS = ("local", "slurm", "ray")
