import torch

from ml.quantize.fd import frechet_distance, sample_ode
from ml.sample.schedules import get_schedule


def test_frechet_distance_of_gaussians_matches_closed_form():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(20000, 2, generator=g)
    b = torch.randn(20000, 2, generator=g) * 2 + torch.tensor([1.0, 0.0])
    # N(0, I) vs N((1, 0), 4I): |mu|^2 + tr(I + 4I - 2 * 2I) = 1 + 2 = 3; sampling error of 2e4 points ~ 1e-2 * 3
    assert abs(frechet_distance(a, b) - 3.0) < 0.1


def test_ddim_with_the_exact_eps_of_a_gaussian_lands_on_the_data():
    # data N(m, I): x_t ~ N(alpha m, I), exact eps(x, t) = sigma (x - alpha m), so the ODE maps N(0, I) onto N(m, I)
    m = torch.tensor([3.0, -1.0])

    def eps(x, t):
        a, s = get_schedule("vp_linear").alpha_sigma(t[:, None])
        return s * (x - a * m)

    noise = torch.randn(4000, 2, generator=torch.Generator().manual_seed(1))
    x = sample_ode(eps, {"prediction": "eps", "schedule": "vp_linear"}, noise, steps=50)
    data = torch.randn(4000, 2, generator=torch.Generator().manual_seed(2)) + m
    # DDIM is exact for this linear model up to alpha(1) ~ 7e-3 of leftover prior; FD sampling noise ~ 4/sqrt(4000)
    assert frechet_distance(x, data) < 0.05
