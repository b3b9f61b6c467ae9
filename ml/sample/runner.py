"""The `sample` job: draw samples from an analytic mixture or a trained model with one solver."""
from __future__ import annotations

import math
import time

import numpy as np
import torch

from ml.device import generator, resolve_device
from ml.params import parse
from ml.reporting import check_stop
from ml.sample.grids import make_grid
from ml.sample.model import Model
from ml.sample.params import GmmModel, Params
from ml.sample.samplers import get_sampler
from ml.sample.schedules import get_schedule


def prior_std(schedule) -> float:
    """Std of x_T: 1 for VP and flow (x_T ~ N(0, I)), sigma_max for EDM (Karras et al., Alg. 1 line 1)."""
    return schedule.t_max if schedule.name == "edm" else 1.0


def solve(model: Model, x_T: torch.Tensor, sampler: str, nfe: int, grid=None, final_step="denoise",
          t_eps=None, callback=None):
    """Run one solver with an exact NFE budget. Returns (x, info) where info names the choices made."""
    spec = get_sampler(sampler)
    plan = spec.plan(nfe, final_step)
    grid = grid or spec.default_grid
    ts = make_grid(model.schedule, grid, plan.n_steps, final_step, t_eps)
    start = model.nfe
    x = spec.fn(model, x_T, ts, callback=callback, **plan.kwargs)
    used = model.nfe - start
    if used != nfe:
        raise RuntimeError(f"{sampler} spent {used} NFE for a budget of {nfe}")
    return x, {"sampler": sampler, "grid": grid, "final_step": final_step, "steps": plan.n_steps,
               "orders": plan.orders, "grid_times": [float(f"{t:.8g}") for t in ts], "nfe_used": used}


@torch.no_grad()
def sample_model(model, config: dict, noise: torch.Tensor, sampler: str = "dpm_solver_pp_2m", nfe: int = 10,
                 grid=None, final_step: str = "denoise") -> torch.Tensor:
    """Samples of a trained `net(x, t)` (config: its model.json) from the given starting noise x_T
    (x_T ~ N(0, I) for VP and flow, sigma_max N(0, I) for edm); for `train`'s reflow pairs and evals."""
    m = Model(model, config["prediction"], get_schedule(config["schedule"]))
    x, _ = solve(m, noise, sampler, nfe, grid=grid, final_step=final_step)
    return x


def _setup(p: Params, device):
    """-> (Model, data_shape, dtype, mixture spec or None, schedule name, lineage dict)."""
    if isinstance(p.model, GmmModel):
        from ml.sample.gmm import GaussianMixture

        sched_name = p.schedule or "vp_linear"
        schedule = get_schedule(sched_name)
        prediction = p.model.prediction or ("flow" if sched_name == "flow" else "eps")
        gmm = GaussianMixture(p.model.means, p.model.stds, p.model.weights, dtype=torch.float64, device=device)
        # float64: the analytic model is cheap, and the exactness check should see solver error only
        return Model(gmm.net(schedule, prediction), prediction, schedule), [gmm.dim], torch.float64, p.model, sched_name, {}
    from ml.modelio import load_model

    net, cfg = load_model(p.model.path, device)
    return net, cfg


def run(params, reporter) -> dict:
    p = parse(Params, params)
    device = resolve_device(p.device)
    t_start = time.perf_counter()
    setup = _setup(p, device)
    if len(setup) == 2:
        net, cfg = setup
        if cfg.get("prediction") == "masked":
            from ml.dna.sample_job import run_sample  # masked diffusion is sampled by its own job code

            return run_sample(net, cfg, p, reporter)
        schedule = get_schedule(cfg["schedule"])
        if p.schedule and p.schedule != cfg["schedule"]:
            reporter.log(f"note: the model was trained with schedule {cfg['schedule']!r}; using it, not {p.schedule!r}")
        model = Model(net, cfg["prediction"], schedule)
        data_shape, dtype, gmm_spec, sched_name = list(cfg["data_shape"]), torch.float32, None, cfg["schedule"]
        lineage = {k: cfg[k] for k in ("arch", "data", "objective") if k in cfg}
    else:
        model, data_shape, dtype, gmm_spec, sched_name, lineage = setup

    spec = get_sampler(p.sampler)
    plan = spec.plan(p.nfe, p.final_step)
    grid = p.grid or spec.default_grid
    reporter.log(f"sampling {p.n_samples} x {data_shape} with {p.sampler} ({plan.n_steps} steps, orders {plan.orders}), "
                 f"{p.nfe} NFE, grid {grid}, schedule {sched_name}, prediction {model.prediction}, on {device}")

    # all noise drawn up front on the CPU from one seeded generator: chunking and device do not change it
    x_T = torch.randn(p.n_samples, *data_shape, generator=generator(p.seed), dtype=torch.float32) * prior_std(model.schedule)
    chunks = list(range(0, p.n_samples, p.batch_size))
    total, done = len(chunks) * plan.n_steps, [0]

    def step_done(i, x):
        done[0] += 1
        reporter.progress(done[0], total)
        check_stop(reporter)

    check_stop(reporter)
    outs, info = [], None
    with torch.inference_mode():
        for c in chunks:
            x = x_T[c:c + p.batch_size].to(device=device, dtype=dtype)
            x, info = solve(model, x, p.sampler, p.nfe, grid=grid, final_step=p.final_step, t_eps=p.t_eps,
                            callback=step_done)
            outs.append(x.float().cpu())
    samples = torch.cat(outs).numpy().astype(np.float32)
    seconds = time.perf_counter() - t_start

    out = reporter.out_dir
    np.save(out / "samples.npy", samples)
    reporter.artifact("samples.npy", out / "samples.npy", "samples")
    if p.save_noise:
        np.save(out / "noise.npy", x_T.numpy())
        reporter.artifact("noise.npy", out / "noise.npy", "noise")

    result = {**info, "seconds": seconds, "n_samples": p.n_samples, "schedule": sched_name,
              "prediction": model.prediction, "data_shape": data_shape, "chunks": len(chunks),
              "t_start": info["grid_times"][0], "t_end": info["grid_times"][-1], "device": str(device), **lineage}
    reference = None
    if gmm_spec is not None:
        result.update(_exactness(gmm_spec, sched_name, x_T.numpy(), samples, info["grid_times"], p))
        if "exact_rmse" in result:
            reporter.metric("exact_rmse", result["exact_rmse"], p.nfe)
            reporter.log(f"RMSE vs the exact ODE on {result['exact_subset']} samples: {result['exact_rmse']:.4g}")
        from ml.sample.exact import exact_samples

        reference = exact_samples(gmm_spec.means, gmm_spec.stds, gmm_spec.weights, min(p.n_samples, 5000), seed=p.seed + 1)

    from ml.sample.plots import save_samples_png

    title = f"{p.sampler}, {p.nfe} NFE, {grid}" + (f", RMSE {result['exact_rmse']:.3g}" if "exact_rmse" in result else "")
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
