import math

import torch

from ml.engine.optim import ema_update, lr_at, make_ema


def test_lr_warms_up_linearly_then_decays_by_cosine_to_zero():
    assert lr_at(0, 1.0, 10, 110) == 0.1
    assert lr_at(9, 1.0, 10, 110) == 1.0
    assert lr_at(10, 1.0, 10, 110) == 1.0
    assert math.isclose(lr_at(60, 1.0, 10, 110), 0.5, rel_tol=1e-12)  # half way: cos(pi/2) = 0
    assert lr_at(110, 1.0, 10, 110) == 0.0


def test_the_constant_schedule_warms_up_then_holds_the_peak_as_mdlm_does():
    lr = 2e-3
    for step in range(0, 300, 7):
        # bit for bit the float order the DNA loop always used, so its runs keep their numbers
        assert lr_at(step, lr, 50, 300, "constant") == lr * min(1.0, (step + 1) / 50)
    assert lr_at(0, lr, 0, 300, "constant") == lr and lr_at(299, lr, 50, 300, "constant") == lr


def test_ema_follows_the_model_with_warmed_up_decay():
    net = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.zeros_(net.weight)
    ema = make_ema(net)
    with torch.no_grad():
        net.weight.fill_(1.0)
    ema_update(ema, net, 0.999, 0)  # n = 0: decay min(0.999, 1/10) = 0.1 -> ema = 0.9
    assert math.isclose(ema.weight.item(), 0.9, rel_tol=1e-6)
    for n in range(1, 20000):
        ema_update(ema, net, 0.999, n)
    assert abs(ema.weight.item() - 1.0) < 1e-6
