import math

import numpy as np
import torch
from scipy import stats

from ml.train.flow import U_SHAPED_A, distill_t, l2, pseudo_huber, sample_flow_t


def u_shaped_cdf(t, a=U_SHAPED_A):
    # half mass with density a e^{a t}/(e^a - 1), half mirrored: rfpp's U shape
    return 0.5 * np.expm1(a * t) / math.expm1(a) + 0.5 * (1 - np.expm1(a * (1 - t)) / math.expm1(a))


def test_u_shaped_times_follow_the_rfpp_density():
    t = sample_flow_t(20000, torch.Generator().manual_seed(0), "cpu", "u_shaped").numpy()
    # a Kolmogorov-Smirnov test at n = 20000 detects CDF errors above ~0.014; a fixed seed makes it deterministic
    assert stats.kstest(t, u_shaped_cdf).pvalue > 1e-3
    # and it is U-shaped: the ends carry more mass than the middle (exact: F(0.1) = 0.5 * 0.0277 + 0.5 * 0.5499...)
    assert (t < 0.1).mean() > 2 * ((t > 0.45) & (t < 0.55)).mean()


def test_distillation_times_are_the_k_step_euler_grid():
    t = distill_t(1000, torch.Generator().manual_seed(0), "cpu", 4)
    assert sorted(set(t.tolist())) == [0.25, 0.5, 0.75, 1.0]


def test_pseudo_huber_is_quadratic_near_zero_and_linear_far_away():
    d = 64
    c = 0.00054 * math.sqrt(d)
    zero = torch.zeros(1, d)
    small = torch.full((1, d), 1e-6)
    big = torch.full((1, d), 10.0)
    r_small = 1e-6 * math.sqrt(d)
    # Taylor: sqrt(r^2 + c^2) - c = r^2 / (2c) + O(r^4 / c^3); r/c ~ 2e-3 so relative error ~ 1e-6
    assert math.isclose(pseudo_huber(small, zero).item(), r_small ** 2 / (2 * c) / math.sqrt(d), rel_tol=1e-3)
    # far: (r - c + O(c^2 / r)) / sqrt(d)
    assert math.isclose(pseudo_huber(big, zero).item(), (80.0 - c) / 8.0, rel_tol=1e-5)
    assert math.isclose(l2(big, zero).item(), 100.0)
