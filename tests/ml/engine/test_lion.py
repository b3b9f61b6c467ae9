import torch

from ml.engine.lion import Lion


def test_lion_matches_algorithm_2_on_two_hand_computed_steps():
    # lr 0.1, wd 0.5, betas (0.9, 0.99); values worked out by hand from Chen et al. 2023, Alg. 2:
    # step 1 (m0 = 0): c = 0.1 g1 -> sign(g1); p1 = 0.95 p0 - 0.1 sign(g1); m1 = 0.01 g1
    # step 2: c = 0.9 m1 + 0.1 g2; the 4th coordinate has g2 < 0 but c = 0.009 - 0.005 > 0 (momentum wins)
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5, 0.0]))
    opt = Lion([p], lr=0.1, betas=(0.9, 0.99), weight_decay=0.5)
    p.grad = torch.tensor([0.3, -0.1, 0.0, 1.0])
    opt.step()
    # float32 arithmetic on O(1) numbers: agreement to 1e-6 absolute
    torch.testing.assert_close(p.detach(), torch.tensor([0.85, -1.8, 0.475, -0.1]), atol=1e-6, rtol=0)
    torch.testing.assert_close(opt.state[p]["exp_avg"], torch.tensor([0.003, -0.001, 0.0, 0.01]), atol=1e-7, rtol=0)
    p.grad = torch.tensor([-0.2, -0.1, 0.05, -0.05])
    opt.step()
    torch.testing.assert_close(p.detach(), torch.tensor([0.9075, -1.61, 0.35125, -0.195]), atol=1e-6, rtol=0)
    torch.testing.assert_close(opt.state[p]["exp_avg"], torch.tensor([0.00097, -0.00199, 0.0005, 0.0094]),
                               atol=1e-7, rtol=0)


def test_lion_update_has_unit_size_per_coordinate():
    p = torch.nn.Parameter(torch.zeros(1000))
    opt = Lion([p], lr=1e-3)
    p.grad = torch.randn(1000, generator=torch.Generator().manual_seed(0)) * 1e-4
    opt.step()
    # |update| = lr on every coordinate whatever the gradient's scale (sign update); g is never exactly 0 here
    torch.testing.assert_close(p.detach(), -1e-3 * torch.sign(p.grad), atol=0, rtol=0)
