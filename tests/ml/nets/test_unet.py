import torch

from ml import nets


def test_unet8_maps_images_to_images_and_starts_at_zero():
    torch.manual_seed(0)
    net = nets.build("unet8", channels=1, width=16, depth=1)
    x = torch.randn(5, 1, 8, 8)
    out = net(x, torch.rand(5))
    assert out.shape == x.shape
    # zero-initialised output conv: the untrained net predicts exactly 0 (a neutral start for every objective)
    assert torch.count_nonzero(out) == 0


def test_unet8_output_depends_on_time_after_a_few_steps():
    torch.manual_seed(0)
    net = nets.build("unet8", channels=1, width=16, depth=1)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    x = torch.randn(8, 1, 8, 8)
    t = torch.rand(8)
    # zero-initialised output conv and zero-initialised second convs: gradients reach the time path only
    # on the third step (output conv first, then the blocks' second convs, then the rest)
    for _ in range(3):
        opt.zero_grad()
        (net(x, t) - x).pow(2).mean().backward()
        opt.step()
    a = net(x[:1], torch.tensor([0.1]))
    b = net(x[:1], torch.tensor([0.9]))
    assert not torch.allclose(a, b)
