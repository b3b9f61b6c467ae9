import math

import numpy as np
import torch

from ml.train.metrics import frechet_distance, rms_error, sliced_wasserstein, straightness


def test_sliced_wasserstein_of_a_shift_is_its_length_over_sqrt_dim():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(500, 2, generator=g)
    assert sliced_wasserstein(x, x, g) == 0.0
    shift = torch.tensor([3.0, 4.0])
    # every sorted 1-D projection moves by <shift, theta> exactly, and E <shift, theta>^2 = |shift|^2 / d over
    # uniform theta; in 2-D <s, theta>^2 = |s|^2 cos^2(phi) has relative sd sqrt(1/8) / (1/2) = 0.71, so over
    # 2048 directions the mean is off by ~1.6 % (SW, its sqrt, by ~0.8 %); 5 % is > 6 sd
    sw = sliced_wasserstein(x, x + shift, g, n_proj=2048)
    assert math.isclose(sw, 5.0 / math.sqrt(2), rel_tol=0.05)


def test_frechet_distance_of_gaussians_with_shifted_means():
    rng = np.random.default_rng(0)
    f = rng.standard_normal((5000, 3))
    assert abs(frechet_distance(f, f)) < 1e-8
    # equal covariances: FD = |mu1 - mu2|^2 exactly (the covariance terms cancel)
    assert math.isclose(frechet_distance(f, f + np.array([1.0, 2.0, 2.0])), 9.0, rel_tol=1e-6)


def test_straightness_is_zero_on_straight_paths_and_positive_on_curved_ones():
    x0 = torch.tensor([[1.0, -2.0]]).expand(64, 2)

    def straight(x, t):
        return (x - x0) / t[:, None]

    def curved(x, t):
        return x + torch.stack([-x[:, 1], x[:, 0]], 1)  # rotation plus growth: the path spirals

    z = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
    assert straightness(straight, z) < 1e-10
    assert straightness(curved, z) > 0.1


def test_rms_error_is_per_coordinate():
    assert math.isclose(rms_error(torch.zeros(10, 4), torch.full((10, 4), 2.0)), 2.0)


def test_digits_evaluator_follows_the_prototype_protocol_and_ranks_by_damage():
    from ml.data.digits import digits_half
    from ml.train.metrics import digits_classifier, digits_fd_floor, digits_report

    x0, y0 = digits_half(0)
    with torch.no_grad():
        acc = float((digits_classifier()(x0).argmax(1) == y0).float().mean())
    # it never saw half 0; the samplers note's recipe reached 0.974 there (900 images: sd of acc ~0.006)
    assert acc > 0.95
    floor = digits_fd_floor()
    # the note's floor is 0.84 with this recipe; training half vs held-out half scored as generated samples
    assert 0.5 < floor < 1.2
    assert math.isclose(digits_report(x0)["fd"], floor, rel_tol=1e-9)
    # blurring the real images by a little and by a lot must cost FD in that order, and noise costs most
    g = torch.Generator().manual_seed(0)
    fds = [digits_report(x0 + s * torch.randn(x0.shape, generator=g))["fd"] for s in (0.2, 0.6)]
    noise = digits_report(torch.randn(900, 1, 8, 8, generator=g).clamp(-1, 1))
    assert floor < fds[0] < fds[1] < noise["fd"] and noise["fd"] > 20 * floor, (floor, fds, noise["fd"])
    rep = digits_report(x0 * 3)  # far outside [-1, 1]: only the raw FD sees it
    assert rep["fd_clipped"] < rep["fd"]
    assert sum(digits_report(x0)["class_hist"]) == len(x0)


def test_frechet_distance_equals_the_matrix_square_root_form_and_stays_quiet_when_singular():
    import warnings

    from scipy import linalg

    rng = np.random.default_rng(1)
    a = rng.standard_normal((400, 6)) @ rng.standard_normal((6, 6))
    b = 1.3 * rng.standard_normal((400, 6)) + 0.2
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    ref = ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(ca + cb - 2 * np.real(linalg.sqrtm(ca @ cb)))
    assert math.isclose(frechet_distance(a, b), ref, rel_tol=1e-9)
    # 20 samples of 64 features: both covariances have rank 19; FD of a set with itself is still 0, up to
    # the square roots of the 45 zero eigenvalues' round-off (~1e-15 each -> ~3e-8): 1e-6 of the trace (~64)
    few = rng.standard_normal((20, 64))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert abs(frechet_distance(few, few)) < 1e-6 * np.trace(np.cov(few, rowvar=False))
        assert np.isfinite(frechet_distance(few, rng.standard_normal((20, 64))))
