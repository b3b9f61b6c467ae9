"""Sweeps: searches over a kind's params, each trial an ordinary job of the sweep's project.

Optuna does the searching (its grid, random and TPE samplers; its median and successive-halving
pruners), with its study stored in our PostgreSQL (jobs/sweeps/study.py). The sweep row and its
trial rows are the truth this app answers from; Optuna's tables hold what its samplers learn from.
"""
