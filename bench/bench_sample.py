"""Benchmark of the `sample` solvers against diffusers on an exact Gaussian mixture (make bench).

Same mixture, same noise, same ODE, in one run. The model is the exact eps of the default 2-D mixture
under diffusers' own DDPM table (linear betas 1e-4..0.02, 1000 steps); ours reads the same table as a
continuous schedule (`VPDiscrete`), diffusers calls it at its own timesteps. In y = x / alpha and rho =
sigma / alpha every such reading is the same ODE (dy/drho = eps*), so each output is compared with the
scipy solution at that output's own final rho (0 for most, rho(t=0) ~ 0.01 where diffusers stops there).

Printed and saved (bench/results/sample.json, plot bench/results/sample.png):
- RMSE at 5/10/20 NFE (50 for the plot) for each of our solvers (default grid, and best grid) and the
  nearest diffusers configuration; NFE counted by wrappers on both sides;
- per-step solver overhead: wall time of the sampling loop outside model calls, divided by steps, on
  the mixture batch and on a large image-shaped batch with a trivial model (median of repeats).
"""
from __future__ import annotations

import json
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ml.sample.exact import solve_exact_rho  # noqa: E402
from ml.sample.gmm import DEFAULT_MEANS, DEFAULT_STDS, DEFAULT_WEIGHTS, GaussianMixture  # noqa: E402
from ml.sample.grids import GRIDS  # noqa: E402
from ml.sample.metrics import rmse  # noqa: E402
from ml.sample.model import Model  # noqa: E402
from ml.sample.runner import solve  # noqa: E402
from ml.sample.samplers import SAMPLERS, get_sampler  # noqa: E402
from ml.sample.schedules import VPDiscrete  # noqa: E402

NFES = (5, 10, 20, 50)
BETAS = dict(num_train_timesteps=1000, beta_schedule="linear", beta_start=1e-4, beta_end=0.02)

# ours -> diffusers' nearest equivalent: (class name, config, how num_inference_steps follows from NFE)
PAIRS = {
    "ddim": ("DDIMScheduler", dict(timestep_spacing="trailing", set_alpha_to_one=True, clip_sample=False), "n"),
    "dpm_solver_1": ("DPMSolverSinglestepScheduler", dict(algorithm_type="dpmsolver", solver_order=1,
                                                          final_sigmas_type="sigma_min"), "n"),
    "dpm_solver_2": ("DPMSolverSinglestepScheduler", dict(algorithm_type="dpmsolver", solver_order=2,
                                                          final_sigmas_type="sigma_min"), "n"),
    "dpm_solver_3": ("DPMSolverSinglestepScheduler", dict(algorithm_type="dpmsolver", solver_order=3,
                                                          final_sigmas_type="sigma_min"), "n"),
    "dpm_solver_pp_2m": ("DPMSolverMultistepScheduler", dict(), "n"),
    "dpm_solver_pp_3m": ("DPMSolverMultistepScheduler", dict(solver_order=3), "n"),
    # our 3M with diffusers' D2 weight (see dpm_solver_pp_3m's docstring): the same algorithm exactly
    "dpm_solver_pp_3m_compat": ("DPMSolverMultistepScheduler", dict(solver_order=3), "n"),
    "deis_1": ("DEISMultistepScheduler", dict(solver_order=2), "n"),
    "deis_2": ("DEISMultistepScheduler", dict(solver_order=3), "n"),
    "deis_3": ("DEISMultistepScheduler", dict(solver_order=3), "n"),
    "pndm": ("PNDMScheduler", dict(skip_prk_steps=False, timestep_spacing="trailing", set_alpha_to_one=True), "search"),
    "plms": ("PNDMScheduler", dict(skip_prk_steps=True, timestep_spacing="trailing", set_alpha_to_one=True), "search"),
    "euler": ("EulerDiscreteScheduler", dict(use_karras_sigmas=True), "n"),
    "heun": ("HeunDiscreteScheduler", dict(use_karras_sigmas=True), "search"),
}
# our solver on the grid kind and final step diffusers' configuration uses (for the same-algorithm comparison)
SAME_SETTING = {name: ("uniform_t", "denoise") for name in PAIRS}
SAME_SETTING.update({k: ("uniform_t", "t_eps") for k in ("dpm_solver_1", "dpm_solver_2", "dpm_solver_3",
                                                           "deis_1", "deis_2", "deis_3")})
SAME_SETTING.update({"euler": ("karras", "denoise"), "heun": ("karras", "denoise")})
EXTRA_DIFFUSERS = {"unipc_bh2": ("UniPCMultistepScheduler", dict(solver_type="bh2"), "n")}


class Timed:
    """Counts and times the calls of a model callable (the NFE counter of the diffusers side)."""

    def __init__(self, fn):
        self.fn, self.calls, self.seconds = fn, 0, 0.0
        self.scalar_t = getattr(fn, "scalar_t", False)

    def __call__(self, *a):
        t0 = time.perf_counter()
        out = self.fn(*a)
        self.seconds += time.perf_counter() - t0
        self.calls += 1
        return out


def make_setup(n: int, seed: int = 0):
    import diffusers

    acp = diffusers.DDIMScheduler(**BETAS).alphas_cumprod.double().numpy()
    gmm = GaussianMixture(DEFAULT_MEANS, DEFAULT_STDS, DEFAULT_WEIGHTS)
    noise = torch.randn(n, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    log_sig = np.log(np.sqrt((1 - acp) / acp))
    rho_T = float(np.exp(log_sig[-1]))
    y_T = noise.numpy() / math.sqrt(acp[-1])
    refs = {}

    def exact(rho_end):
        key = round(rho_end, 12)
        if key not in refs:
            refs[key] = torch.from_numpy(solve_exact_rho(DEFAULT_MEANS, DEFAULT_STDS, DEFAULT_WEIGHTS, y_T, rho_T, rho_end))
        return refs[key]

    def diffusers_eps(x, t):
        # the mixture's eps at the timestep diffusers passes (fractional ones: its own log-sigma interpolation)
        rho = float(np.exp(np.interp(float(t), np.arange(len(acp)), log_sig)))
        alpha = 1.0 / math.sqrt(1.0 + rho * rho)
        return gmm.eps_x0(x, alpha, rho * alpha)[0]

    return dict(acp=acp, gmm=gmm, noise=noise, exact=exact, diffusers_eps=diffusers_eps)


def ours(setup, name, nfe, grid=None, net=None, noise=None, final_step="denoise"):
    """-> (y at the end, rho at the end, NFE counted, solver overhead per NFE in seconds)."""
    kwargs = {}
    if name == "dpm_solver_pp_3m_compat":
        name, kwargs = "dpm_solver_pp_3m", {"diffusers_compat": True}
    sched = VPDiscrete(setup["acp"])
    timed = Timed(net or setup["gmm"].net(sched, "eps"))
    x_T = setup["noise"] if noise is None else noise
    model = Model(timed, "eps", sched)
    t0 = time.perf_counter()
    x, info = solve(model, x_T.clone(), name, nfe, grid=grid, final_step=final_step, **kwargs)
    loop = time.perf_counter() - t0
    rho_end = sched.rho(info["grid_times"][-1])
    y = x / sched.alpha(info["grid_times"][-1])
    return y, rho_end, model.nfe, (loop - timed.seconds) / model.nfe


def theirs(setup, cls_name, config, n_steps, model_fn=None, noise=None):
    import diffusers

    sch = getattr(diffusers, cls_name)(**BETAS, **config)
    sch.set_timesteps(n_steps)
    timed = Timed(model_fn or setup["diffusers_eps"])
    x = (setup["noise"] if noise is None else noise).clone() * float(sch.init_noise_sigma)
    t0 = time.perf_counter()
    for t in sch.timesteps:
        out = timed(sch.scale_model_input(x, t), t)
        x = sch.step(out, t, x).prev_sample
    loop = time.perf_counter() - t0
    rho_end = float(sch.sigmas[-1]) if hasattr(sch, "sigmas") else 0.0
    ve = float(sch.init_noise_sigma) > 1.5          # Euler/Heun work in y = x / alpha already
    y = x if ve else x * math.sqrt(1.0 + rho_end ** 2)
    return y, rho_end, timed.calls, (loop - timed.seconds) / timed.calls


def theirs_at_nfe(setup, cls_name, config, how, nfe, **kw):
    """diffusers' num_inference_steps for an NFE budget: = NFE, or searched where a step costs more."""
    if how == "n":
        return theirs(setup, cls_name, config, nfe, **kw)
    best = None
    for n in range(1, nfe + 1):
        try:
            out = theirs(setup, cls_name, config, n, **kw)
        except ValueError:  # e.g. PNDM's PRK warm-up cannot be laid out on so few steps
            continue
        if out[2] <= nfe:
            best = out
        if out[2] >= nfe:
            break
    return best


def min_overhead(fn, repeats=5):
    # the minimum over repeats: on a shared machine, noise from other processes only ever adds time
    fn()
    return min(fn()[3] for _ in range(repeats))


def main(n_samples: int = 2000, repeats: int = 5):
    import warnings

    import diffusers

    diffusers.utils.logging.set_verbosity_error()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)   # timing: no thread contention; tiny tensors are faster single-threaded anyway
    setup = make_setup(n_samples)
    exact = setup["exact"]
    rows = []
    for name in [n for n in SAMPLERS if n != "rf_euler"] + ["dpm_solver_pp_3m_compat"]:
        default_grid = get_sampler(name.replace("_compat", "")).default_grid
        row = {"sampler": name, "grid": default_grid, "ours": {}, "ours_same_setting": {}, "diffusers": {},
               "diffusers_nfe": {}}
        for nfe in NFES:
            y, rho_end, used, _ = ours(setup, name, nfe)
            assert used == nfe
            row["ours"][nfe] = rmse(y, exact(rho_end))
        per_grid = {}
        for g in GRIDS:
            y, rho_end, _, _ = ours(setup, name, 10, grid=g)
            per_grid[g] = rmse(y, exact(rho_end))
        g = min(per_grid, key=per_grid.get)
        row["ours_best_grid_10"] = {"grid": g, "rmse": per_grid[g], "all": per_grid}
        if name in SAME_SETTING:
            grid, final = SAME_SETTING[name]
            row["same_setting"] = {"grid": grid, "final_step": final}
            for nfe in NFES:
                y, rho_end, _, _ = ours(setup, name, nfe, grid=grid, final_step=final)
                row["ours_same_setting"][nfe] = rmse(y, exact(rho_end))
        if name in PAIRS:
            cls_name, config, how = PAIRS[name]
            row["diffusers_config"] = f"{cls_name}({', '.join(f'{k}={v!r}' for k, v in config.items())})"
            for nfe in NFES:
                out = theirs_at_nfe(setup, cls_name, config, how, nfe)
                if out is None:
                    continue
                y, rho_end, used, _ = out
                row["diffusers"][nfe] = rmse(y, exact(rho_end))
                row["diffusers_nfe"][nfe] = used
            # overhead per step at 20 NFE: the mixture batch, and a large image-shaped batch with a trivial model
            grid, final = SAME_SETTING[name]
            row["overhead_us"] = 1e6 * min_overhead(lambda: ours(setup, name, 20, grid=grid, final_step=final), repeats)
            row["diffusers_overhead_us"] = 1e6 * min_overhead(
                lambda: theirs_at_nfe(setup, cls_name, config, how, 20), repeats)
            big = torch.randn(64, 3, 32, 32, generator=torch.Generator().manual_seed(1))

            def trivial(x, t):
                return 0.1 * x
            row["overhead_large_us"] = 1e6 * min_overhead(
                lambda: ours(setup, name, 20, net=trivial, noise=big, grid=grid, final_step=final), repeats)
            row["diffusers_overhead_large_us"] = 1e6 * min_overhead(
                lambda: theirs_at_nfe(setup, cls_name, config, how, 20, model_fn=trivial, noise=big), repeats)
        rows.append(row)
    flow = flow_rows(n_samples)
    extra = []
    for label, (cls_name, config, how) in EXTRA_DIFFUSERS.items():
        r = {"diffusers": label, "config": f"{cls_name}({config})", "rmse": {}}
        for nfe in NFES:
            y, rho_end, used, _ = theirs_at_nfe(setup, cls_name, config, how, nfe)
            r["rmse"][nfe] = rmse(y, exact(rho_end))
        extra.append(r)
    return report(rows, extra, n_samples, flow)


def flow_rows(n: int, seed: int = 0):
    """Flow matching (x_t = (1-t) x0 + t z) on the same mixture: our rf_euler and DPM-Solver++(2M) against
    diffusers' FlowMatchEulerDiscreteScheduler (sigmas 1 .. 1/1000, then 0), exact velocity, same z."""
    import diffusers

    from ml.sample.exact import solve_exact
    from ml.sample.schedules import Flow

    gmm = GaussianMixture(DEFAULT_MEANS, DEFAULT_STDS, DEFAULT_WEIGHTS)
    z = torch.randn(n, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    ref = torch.from_numpy(solve_exact(DEFAULT_MEANS, DEFAULT_STDS, DEFAULT_WEIGHTS, "flow", z.numpy(), 1.0, 0.0))
    sched = Flow()
    net = gmm.net(sched, "flow")
    out = {"ours_rf_euler": {}, "ours_dpm_solver_pp_2m": {}, "diffusers_flow_match_euler": {}}
    for nfe in (2, 5, 10, 20):
        for name in ("rf_euler", "dpm_solver_pp_2m"):
            x, _ = solve(Model(net, "flow", sched), z.clone(), name, nfe)
            out[f"ours_{name}"][nfe] = rmse(x, ref)
        sch = diffusers.FlowMatchEulerDiscreteScheduler()
        sch.set_timesteps(nfe)
        x = z.clone()
        for t in sch.timesteps:
            x = sch.step(net(x, float(t) / 1000.0), t, x).prev_sample
        out["diffusers_flow_match_euler"][nfe] = rmse(x, ref)
    return out


def report(rows, extra, n_samples, flow=None):
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)

    def f3(d):
        return " ".join(f"{d[n]:.3f}" if n in d else "  -  " for n in (5, 10, 20))

    hdr = (f"{'sampler':23s} {'grid':11s} | {'ours 5/10/20':17s} | {'best grid @10':19s} | {'ours, diffusers grid':20s} | "
           f"{'diffusers 5/10/20':17s} | overhead us/NFE ours/diff (ratio), mixture | same, 64x3x32x32")
    print(f"Exact 2-D mixture, {n_samples} samples, RMSE vs the exact ODE endpoint from the same noise; NFE counted.")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        b = r["ours_best_grid_10"]
        ov = ovl = ""
        if "overhead_us" in r:
            ov = f"{r['overhead_us']:6.0f}/{r['diffusers_overhead_us']:6.0f} ({r['overhead_us'] / r['diffusers_overhead_us']:.2f})"
            ovl = (f"{r['overhead_large_us']:6.0f}/{r['diffusers_overhead_large_us']:6.0f} "
                   f"({r['overhead_large_us'] / r['diffusers_overhead_large_us']:.2f})")
        print(f"{r['sampler']:23s} {r['grid']:11s} | {f3(r['ours']):17s} | {b['rmse']:.3f} {b['grid']:13s} | "
              f"{f3(r['ours_same_setting']):20s} | {f3(r['diffusers']):17s} | {ov:41s} | {ovl}")
    for e in extra:
        print(f"{'(diffusers only)':23s} {e['diffusers']:11s} | {'':17s} | {'':19s} | {'':20s} | {f3(e['rmse']):17s} |")

    ddim10 = next(r for r in rows if r["sampler"] == "ddim")["diffusers"][10]
    best = {r["sampler"]: min(r["ours"][10], r["ours_best_grid_10"]["rmse"]) for r in rows}
    ours_best_name = min(best, key=best.get)
    diff_best10 = min([r["diffusers"][10] for r in rows if r["diffusers_nfe"].get(10) == 10] + [e["rmse"][10] for e in extra])
    worse = [(r["sampler"], n, round(r["ours_same_setting"][n], 4), round(r["diffusers"][n], 4))
             for r in rows for n in (5, 10, 20)
             if n in r["diffusers"] and r["diffusers_nfe"].get(n) == n and r["ours_same_setting"][n] > r["diffusers"][n] * 1.001]
    ratios = [r["overhead_us"] / r["diffusers_overhead_us"] for r in rows if "overhead_us" in r]
    ratios_l = [r["overhead_large_us"] / r["diffusers_overhead_large_us"] for r in rows if "overhead_us" in r]
    goals = {
        "ddim_10_nfe_rmse": ddim10,
        "ours_best_10_nfe_rmse": best[ours_best_name],
        "ours_best_10_nfe_solver": ours_best_name,
        "ours_best_over_ddim": best[ours_best_name] / ddim10,
        "diffusers_best_10_nfe_rmse": diff_best10,
        "same_setting_rows_where_ours_worse": worse,
        "median_overhead_ratio": statistics.median(ratios),
        "max_overhead_ratio": max(ratios),
        "median_overhead_ratio_large": statistics.median(ratios_l),
        "max_overhead_ratio_large": max(ratios_l),
    }
    print()
    print(f"best of ours at 10 NFE: {best[ours_best_name]:.3f} ({ours_best_name}) = {goals['ours_best_over_ddim']:.2f} x DDIM "
          f"({ddim10:.3f}); diffusers' best at 10 NFE: {diff_best10:.3f}")
    print(f"same grid and final step, ours worse than diffusers (solver, NFE, ours, diffusers): {worse or 'none'}")
    print(f"solver overhead per NFE ours/diffusers: median {goals['median_overhead_ratio']:.2f}, max {goals['max_overhead_ratio']:.2f} "
          f"(mixture batch); median {goals['median_overhead_ratio_large']:.2f}, max {goals['max_overhead_ratio_large']:.2f} (64x3x32x32)")
    if flow:
        print("\nflow matching, RMSE at 2/5/10/20 NFE: " + "; ".join(
            f"{k} " + " ".join(f"{v:.3f}" for v in d.values()) for k, d in flow.items()))
    result = {"name": "sample", "n_samples": n_samples, "nfes": list(NFES), "rows": rows, "diffusers_extra": extra,
              "flow": flow, "goals": goals, "torch": torch.__version__}
    (out_dir / "sample.json").write_text(json.dumps(result, indent=1, default=str))
    plot(rows, extra, out_dir / "sample.png")
    return result


def plot(rows, extra, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 6), dpi=100)
    for i, r in enumerate(rows):
        c = f"C{i % 10}"
        ls = "-" if i < 10 else "-."
        ax.plot(list(r["ours"]), list(r["ours"].values()), ls, color=c, marker="o", ms=3, label=f"{r['sampler']} (ours)")
        d = {n: v for n, v in r["diffusers"].items()}
        if d:
            ax.plot([r["diffusers_nfe"][n] for n in d], list(d.values()), "--", color=c, marker="x", ms=3, alpha=0.6)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("NFE")
    ax.set_ylabel("RMSE vs exact ODE endpoint")
    ax.set_title("ours (solid) vs diffusers' nearest equivalent (dashed), exact 2-D mixture")
    ax.legend(fontsize=7, ncol=2)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)


if __name__ == "__main__":
    small = "--small" in sys.argv
    main(n_samples=500 if small else 2000, repeats=3 if small else 5)
