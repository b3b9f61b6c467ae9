"""The sweep's Optuna study, stored in our PostgreSQL (schema `optuna`, made by migration 0010).

Optuna keeps its own tables through SQLAlchemy, on a connection of its own: its writes are not part
of Django's transactions, so the controller asks and tells only while it holds the sweep's row lock.
The sampler is not stored with a study (Optuna never stores one): it is made again from the sweep's
method and seed each time the study is loaded."""
from __future__ import annotations

import logging
import os

import optuna
from django.conf import settings
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

optuna.logging.set_verbosity(optuna.logging.WARNING)
log = logging.getLogger(__name__)

SCHEMA = "optuna"


def storage_url(db: dict | None = None) -> str:
    """SQLAlchemy's URL of Django's database (`db`: a DATABASES entry, default Django's own)."""
    from sqlalchemy.engine import URL

    db = db or settings.DATABASES["default"]
    host = db.get("HOST") or None
    # a unix socket's folder (the embedded PostgreSQL) goes in the query: in the URL's host part its
    # slashes would be read as the database name
    socket = host if host and host.startswith("/") else None
    return URL.create("postgresql+psycopg", username=db.get("USER") or None, password=db.get("PASSWORD") or None,
                      host=None if socket else host, port=int(db["PORT"]) if db.get("PORT") else None,
                      database=db["NAME"], query={"host": socket} if socket else {}).render_as_string(hide_password=False)


_STORAGES: dict[tuple[str, int], optuna.storages.RDBStorage] = {}


def storage() -> optuna.storages.RDBStorage:
    # one engine per process and database (a forked worker child must not share its parent's connections)
    key = (storage_url(), os.getpid())
    if key not in _STORAGES:
        _STORAGES[key] = optuna.storages.RDBStorage(key[0], engine_kwargs={
            "pool_pre_ping": True, "pool_size": 2, "max_overflow": 4,
            "connect_args": {"options": f"-c search_path={SCHEMA}"}})
    return _STORAGES[key]


def close() -> None:
    """Close this process's connections of Optuna's storage (a test database cannot be dropped while
    they are open)."""
    _STUDIES.clear()
    while _STORAGES:
        _STORAGES.popitem()[1].engine.dispose()


class SweepGridSampler(optuna.samplers.GridSampler):
    """Optuna's grid, told trials outside `study.optimize`: its `after_trial` only reads every trial to
    call `study.stop()` once the grid is done, which is for `optimize` (outside it, it raises). The
    controller stops at max_trials (the grid's size) itself, so that read is skipped."""

    def after_trial(self, study, trial, state, values) -> None:
        return None


def sampler(sweep, n_trials: int):
    """The sweep's sampler. Grid: the same seed every time (GridSampler's point order is a shuffle by
    its seed, and trial k takes point k of it). Random and TPE: a seed that moves on with the trials
    made, since a sampler made afresh with one fixed seed would draw the same first point each time."""
    if sweep.method == "grid":
        return SweepGridSampler({n: d["values"] for n, d in sweep.space.items()}, seed=sweep.seed)
    seed = sweep.seed + n_trials
    if sweep.method == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    # multivariate: TPE models the params jointly (Falkner et al.'s finding, Optuna's recommendation)
    return optuna.samplers.TPESampler(seed=seed, multivariate=True, n_startup_trials=min(10, max(2, sweep.max_trials // 4)))


def pruner(sweep):
    rule = (sweep.early_stop or {}).get("rule")
    es = sweep.early_stop or {}
    if rule == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=es.get("startup_trials", 5),
                                           n_warmup_steps=es.get("warmup_steps", 0))
    if rule == "asha":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=es.get("min_resource", "auto"),
                                                      reduction_factor=es.get("reduction_factor", 4))
    return optuna.pruners.NopPruner()


RULE_NAMES = {"median": "median rule", "asha": "successive halving"}


def create(sweep) -> optuna.Study:
    directions = [{"min": "minimize", "max": "maximize"}[o["goal"]] for o in sweep.objective]
    return optuna.create_study(storage=storage(), study_name=sweep.study_name, directions=directions,
                               sampler=sampler(sweep, 0), pruner=pruner(sweep))


_STUDIES: dict[tuple[str, int], optuna.Study] = {}


def load(sweep, n_trials: int = 0) -> optuna.Study:
    """The sweep's study, loaded once per process (a load is several queries); its sampler and pruner
    made afresh each time, from the sweep's row."""
    key = (sweep.study_name, os.getpid())
    study = _STUDIES.get(key)
    if study is None:
        study = optuna.load_study(study_name=sweep.study_name, storage=storage(), sampler=sampler(sweep, n_trials),
                                  pruner=pruner(sweep))
        if len(_STUDIES) > 256:  # a long-lived worker sees many sweeps: keep the recent ones
            _STUDIES.pop(next(iter(_STUDIES)))
        _STUDIES[key] = study
    study.sampler, study.pruner = sampler(sweep, n_trials), pruner(sweep)
    return study


def distributions(space: dict) -> dict:
    out = {}
    for name, d in space.items():
        if "values" in d:
            out[name] = CategoricalDistribution(d["values"])
        elif isinstance(d["low"], int) and isinstance(d["high"], int):
            out[name] = IntDistribution(d["low"], d["high"], log=d["log"])
        else:
            out[name] = FloatDistribution(float(d["low"]), float(d["high"]), log=d["log"])
    return out
