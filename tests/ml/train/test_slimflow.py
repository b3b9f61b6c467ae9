import math

import torch

from ml.train.flow import l2
from ml.train.slimflow import anneal_beta, annealing_reflow_loss, flow_guided_distill_loss


def test_annealing_goes_from_random_pairs_to_teacher_pairs():
    assert anneal_beta(0, 100) == 1.0
    assert math.isclose(anneal_beta(25, 100), math.cos(math.pi / 4), rel_tol=1e-12)
    assert anneal_beta(50, 100) < 1e-15 and anneal_beta(99, 100) < 1e-15


def test_annealed_noise_is_teacher_noise_at_beta_zero_and_independent_at_one():
    g = torch.Generator().manual_seed(0)
    x0, z, z_rand = (torch.randn(256, 2, generator=g) for _ in range(3))
    t = torch.rand(256, generator=g)

    def net(x, t):  # a fixed function, so only the coupling differs between the calls
        return x * t[:, None]

    def rf_loss(noise):
        tb = t[:, None]
        return l2(net((1 - tb) * x0 + tb * noise, t), noise - x0)

    torch.testing.assert_close(annealing_reflow_loss(net, x0, z, z_rand, t, 0.0, l2), rf_loss(z))
    torch.testing.assert_close(annealing_reflow_loss(net, x0, z, z_rand, t, 1.0, l2), rf_loss(z_rand))


def test_guidance_term_vanishes_when_student_and_teacher_velocities_agree():
    g = torch.Generator().manual_seed(0)
    z, x0 = torch.randn(64, 2, generator=g), torch.randn(64, 2, generator=g)
    t = torch.rand(64, generator=g)

    def v(x, t):  # a constant velocity field: the student's path and the teacher's finish coincide
        return torch.full_like(x, 0.5)

    plain = flow_guided_distill_loss(v, v, x0, z, t, l2, guidance=0.0)
    guided = flow_guided_distill_loss(v, v, x0, z, t, l2, guidance=3.0)
    # x_tilde = z - (1 - t) v - t v = z - v = x_hat exactly, so the guidance term is 0 (float32 round-off only)
    torch.testing.assert_close(guided, plain, atol=1e-6, rtol=0)
