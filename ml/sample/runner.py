"""The `sample` job: draw samples from an analytic mixture or a trained model with one solver."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from ml.device import generator, resolve_device
from ml.finite import check_tensors
from ml.params import parse
from ml.reporting import check_stop
from ml.sample import chunks as chunk_store
from ml.sample.grids import make_grid
from ml.sample.model import Model
from ml.sample.params import GmmModel, Params, model_kind
from ml.sample.samplers import get_sampler
from ml.sample.schedules import get_schedule


def prior_std(schedule) -> float:
    """Std of x_T: 1 for VP and flow (x_T ~ N(0, I)), sigma_max for EDM (Karras et al., Alg. 1 line 1)."""
    return schedule.t_max if schedule.name == "edm" else 1.0


def default_grid(spec, schedule) -> str:
    """The sampler's paper grid; on the edm schedule, where t is sigma in [0.002, 80], grids uniform in t or
    sqrt(t) put almost every step at sigma > 1, so EDM's own Karras grid replaces them."""
    if schedule.name == "edm" and spec.default_grid in ("uniform_t", "quadratic_t"):
        return "karras"
    return spec.default_grid


def plan_grid(schedule, sampler: str, nfe: int, grid=None, final_step="denoise", t_eps=None):
    """The plan (steps, orders) and time grid a solver will use for an exact NFE budget, and the result's
    description of those choices. No network call."""
    spec = get_sampler(sampler)
    plan = spec.plan(nfe, final_step)
    grid = grid or default_grid(spec, schedule)
    t_start = schedule.t_max
    if schedule.alpha(t_start) == 0.0 and not spec.starts_at_alpha_0:
        # flow at t = 1: alpha = 0, and noise-form solvers divide by alpha; they start one t_eps later
        t_start -= schedule.t_eps if t_eps is None else t_eps
    ts = make_grid(schedule, grid, plan.n_steps, final_step, t_eps, t_start=t_start)
    info = {"sampler": sampler, "grid": grid, "final_step": final_step, "steps": plan.n_steps,
            "orders": plan.orders, "grid_times": [float(f"{t:.8g}") for t in ts], "nfe_used": nfe}
    return plan, ts, info


def solve(model: Model, x_T: torch.Tensor, sampler: str, nfe: int, grid=None, final_step="denoise",
          t_eps=None, callback=None, **solver_kwargs):
    """Run one solver with an exact NFE budget. Returns (x, info) where info names the choices made.
    solver_kwargs go to the solver function (e.g. diffusers_compat=True for dpm_solver_pp_3m)."""
    plan, ts, info = plan_grid(model.schedule, sampler, nfe, grid, final_step, t_eps)
    start = model.nfe
    x = get_sampler(sampler).fn(model, x_T, ts, callback=callback, **{**plan.kwargs, **solver_kwargs})
    used = model.nfe - start
    if used != nfe:
        raise RuntimeError(f"{sampler} spent {used} NFE for a budget of {nfe}")
    return x, info


@torch.no_grad()
def sample_model(model, config: dict, noise: torch.Tensor, sampler: str = "dpm_solver_pp_2m", nfe: int = 10,
                 grid=None, final_step: str = "denoise", callback=None, schedule=None) -> torch.Tensor:
    """Samples of a trained `net(x, t)` (config: its model.json) from the given starting noise x_T
    (x_T ~ N(0, I) for VP and flow, sigma_max N(0, I) for edm); for `train`'s reflow pairs and evals.
    schedule: the model's own when it is not a named one (a diffusers model's betas)."""
    m = Model(model, config["prediction"], schedule or get_schedule(config["schedule"]))
    x, _ = solve(m, noise, sampler, nfe, grid=grid, final_step=final_step, callback=callback)
    return x


@dataclass
class Target:
    """What is sampled: the solver's view of the model, the data shape, and the mixture if it is exact."""
    model: Model
    data_shape: list
    dtype: torch.dtype
    schedule: str
    gmm: GmmModel | None = None
    lineage: dict = field(default_factory=dict)


def _gmm_target(p: Params, device) -> Target:
    from ml.sample.gmm import GaussianMixture

    sched_name = p.schedule or "vp_linear"
    schedule = get_schedule(sched_name)
    prediction = p.model.prediction or ("flow" if sched_name == "flow" else "eps")
    gmm = GaussianMixture(p.model.means, p.model.stds, p.model.weights, dtype=torch.float64, device=device)
    # float64: the analytic model is cheap, and the exactness check should see solver error only
    return Target(Model(gmm.net(schedule, prediction), prediction, schedule), [gmm.dim], torch.float64, sched_name, p.model)


def _artifact_target(p: Params, net, cfg: dict, reporter, schedule=None) -> Target:
    """schedule: the model's own when it is not a named one (a diffusers model's betas)."""
    if p.schedule and p.schedule != cfg["schedule"]:
        reporter.log(f"note: the model was trained with schedule {cfg['schedule']!r}; using it, not {p.schedule!r}")
    gmm = None
    if cfg.get("arch") == "gmm_exact":  # a model file of the exact mixture: its samples can be checked too
        kw = cfg["arch_kwargs"]
        gmm = GmmModel(means=kw["means"], stds=kw["stds"], weights=kw["weights"])
    return Target(Model(net, cfg["prediction"], schedule or get_schedule(cfg["schedule"])), list(cfg["data_shape"]),
                  torch.float32, cfg["schedule"], gmm,
                  {k: cfg[k] for k in ("arch", "data", "objective", "prediction_type", "parameters") if k in cfg})


def run(params, reporter) -> dict:
    p = parse(Params, params)
    device = resolve_device(p.device)
    t_start = time.perf_counter()
    if isinstance(p.model, GmmModel):
        target = _gmm_target(p, device)
    else:
        from ml.modelio import load_model
        from ml.sample import diffusers_unet

        if p.model.path is None:
            raise ValueError(f"model artifact {p.model.artifact} has no folder: the job system fills 'path', "
                             "a terminal run must give {'path': '<dir>'}")
        schedule = None
        if diffusers_unet.is_diffusers_folder(p.model.path):
            net, cfg, schedule = diffusers_unet.load(p.model.path, device)
        else:
            net, cfg = load_model(p.model.path, device)
        misfits = p.misfits(cfg)  # the params validated before the folder was known (a terminal run's dict)
        if misfits:
            raise ValueError("; ".join(f"{name}: {why}" for name, why in misfits))
        if model_kind(cfg) == "masked":
            from ml.dna.sample_job import run_sample  # masked diffusion: the DNA task scores the sequences

            return run_sample(net, cfg, p, reporter)
        target = _artifact_target(p, net, cfg, reporter, schedule)
    model, data_shape, dtype = target.model, target.data_shape, target.dtype
    sampler = p.sampler_for(None)

    if p.t_eps is not None and p.t_eps >= model.schedule.t_max / 2:
        raise ValueError(f"t_eps={p.t_eps} must be well below the schedule's start time {model.schedule.t_max}")
    plan, _, info = plan_grid(model.schedule, sampler, p.nfe, p.grid, p.final_step, p.t_eps)
    grid = info["grid"]
    reporter.log(f"sampling {p.n_samples} x {data_shape} with {sampler} ({plan.n_steps} steps, orders {plan.orders}), "
                 f"{p.nfe} NFE, grid {grid}, schedule {target.schedule}, prediction {model.prediction}, on {device}")

    # all noise drawn up front on the CPU from one seeded generator: chunking and device do not change it
    x_T = torch.randn(p.n_samples, *data_shape, generator=generator(p.seed), dtype=torch.float32) * prior_std(model.schedule)
    chunks = list(range(0, p.n_samples, p.batch_size))
    total, done = len(chunks) * plan.n_steps, [0]

    def step_done(i, x):
        done[0] += 1
        # a solver step past its stability region (too few NFE on a stiff schedule) blows up and stays blown up
        check_tensors([x], "samples", f"at step {done[0]} of {total}")
        reporter.progress(done[0], total)
        check_stop(reporter)

    check_stop(reporter)
    folder = reporter.out_dir / "checkpoint"
    outs = [c["x"] for c in chunk_store.finished(folder, p)] if len(chunks) > 1 else []
    if outs:
        done[0] = len(outs) * plan.n_steps
        reporter.log(f"resumed from step {done[0]} ({len(outs)} of {len(chunks)} chunks), attempt {reporter.attempt}")
    with torch.inference_mode():
        for k, c in enumerate(chunks):
            if k < len(outs):
                continue
            x = x_T[c:c + p.batch_size].to(device=device, dtype=dtype)
            x, _ = solve(model, x, sampler, p.nfe, grid=grid, final_step=p.final_step, t_eps=p.t_eps,
                         callback=step_done)
            outs.append(x.float().cpu())
            if len(chunks) > 1:
                chunk_store.keep(folder, k, {"x": outs[-1]}, p)
    samples = torch.cat(outs).numpy().astype(np.float32)
    seconds = time.perf_counter() - t_start

    out = reporter.out_dir
    np.save(out / "samples.npy", samples)
    reporter.artifact("samples.npy", out / "samples.npy", "samples")
    if p.save_noise:
        np.save(out / "noise.npy", x_T.numpy())
        reporter.artifact("noise.npy", out / "noise.npy", "noise")

    result = {**info, "seconds": seconds, "n_samples": p.n_samples, "schedule": target.schedule,
              "prediction": model.prediction, "data_shape": data_shape, "chunks": len(chunks),
              "t_start": info["grid_times"][0], "t_end": info["grid_times"][-1], "device": str(device), **target.lineage}
    reference = None
    gmm_spec = target.gmm
    if gmm_spec is not None:
        result.update(_exactness(gmm_spec, target.schedule, x_T.numpy(), samples, info["grid_times"], p))
        if "exact_rmse" in result:
            reporter.metric("exact_rmse", result["exact_rmse"], p.nfe)
            reporter.log(f"RMSE vs the exact ODE on {result['exact_subset']} samples: {result['exact_rmse']:.4g}")
        from ml.sample.exact import exact_samples

        reference = exact_samples(gmm_spec.means, gmm_spec.stds, gmm_spec.weights, min(p.n_samples, 5000), seed=p.seed + 1)

    from ml.sample.plots import save_samples_png

    title = f"{sampler}, {p.nfe} NFE, {grid}" + (f", RMSE {result['exact_rmse']:.3g}" if "exact_rmse" in result else "")
    if save_samples_png(samples, out / "samples.png", title, reference):
        reporter.artifact("samples.png", out / "samples.png", "image")
    reporter.log(f"done in {seconds:.2f} s, {result['nfe_used']} NFE per sample")
    return result


def _exactness(spec, sched_name, noise, samples, ts, p: Params) -> dict:
    """RMSE against the exact ODE endpoint from the same noise, and sliced W2 against exact data."""
    from ml.sample.exact import exact_samples, solve_exact
    from ml.sample.metrics import sliced_w2

    m = min(p.n_samples, p.exact_subset)
    res = {"exact_subset": m}
    if m > 0:
        ref = solve_exact(spec.means, spec.stds, spec.weights, sched_name, noise[:m], ts[0], ts[-1])
        res["exact_rmse"] = math.sqrt(float(((samples[:m].astype(np.float64) - ref) ** 2).reshape(m, -1).sum(1).mean()))
    n = min(p.n_samples, 2000)
    if n >= 50 and p.final_step == "denoise":
        # SW2 has a Monte-Carlo floor (two exact draws of the same size); below it solvers are indistinguishable
        data = [torch.from_numpy(exact_samples(spec.means, spec.stds, spec.weights, n, seed=p.seed + k)) for k in (1, 2)]
        res["sw2"] = sliced_w2(torch.from_numpy(samples[:n]), data[0])
        res["sw2_floor"] = sliced_w2(data[1], data[0])
    return res
