"""What each KL estimator contributes on hard and on relaxed steps."""
import torch

from ml.dna import mdlm
from ml.dna.mdlm import MASK
from ml.finetune.kl import kl_repo, kl_textbook
from ml.nets.dnaconv import dnaconv

M_T, M_S = 0.6, 0.55


def nets():
    torch.manual_seed(0)
    new, old = dnaconv(width=16, depth=2), dnaconv(width=16, depth=2)
    return new, old


def hard_state():
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 4, (3, 12), generator=g)
    ids[:, ::2] = MASK   # half the positions masked
    return mdlm.onehot(ids)


def relaxed_state():
    g = torch.Generator().manual_seed(2)
    x = torch.softmax(torch.randn(3, 12, 5, generator=g), -1)
    x[:, ::2, MASK] += 2.0      # argmax MASK at even positions, with some token mass left
    x[:, 1::2, 0] += 2.0        # argmax a token at odd positions, with some MASK mass left
    return x / x.sum(-1, keepdim=True)


def both(new, old, x):
    return mdlm.denoise(new, x), mdlm.denoise(old, x)


def test_repo_kl_is_exactly_zero_on_hard_steps_textbook_is_not():
    new, old = nets()
    x = hard_state()
    lp, lo = both(new, old, x)
    # unmasked positions: SUBS copies (p = p_old = one-hot, term 0); masked ones: c = 1 - x[MASK] = 0
    assert torch.all(kl_repo(lp, lo, x, M_T, M_S) == 0)
    assert torch.all(kl_textbook(lp, lo, x, M_T, M_S) > 0)


def test_textbook_kl_equals_the_kl_between_the_two_reverse_kernels():
    new, old = nets()
    x = hard_state()
    lp, lo = both(new, old, x)
    q = mdlm.transition_weights(lp, M_T, M_S)
    q_old = mdlm.transition_weights(lo, M_T, M_S)
    q, q_old = q / q.sum(-1, keepdim=True), q_old / q_old.sum(-1, keepdim=True)
    masked = x[..., MASK] == 1
    direct = ((q * (q.clamp_min(1e-30).log() - q_old.clamp_min(1e-30).log())).sum(-1) * masked).sum(1)
    # float32 sums of 6 positions x 5 terms of size ~0.1: round-off ~1e-6
    torch.testing.assert_close(kl_textbook(lp, lo, x, M_T, M_S), direct, atol=1e-5, rtol=1e-4)


def test_on_relaxed_steps_repo_kl_comes_only_from_positions_still_masked_by_argmax():
    new, old = nets()
    x = relaxed_state()
    lp, lo = both(new, old, x)
    full = kl_repo(lp, lo, x, M_T, M_S)
    keep = (x.argmax(-1) == MASK)[..., None].float()
    only_masked = kl_repo(lp * keep, lo * keep, x * keep + (1 - keep) * mdlm.onehot(torch.zeros(3, 12)), M_T, M_S)
    assert torch.all(full > 0)
    # token-argmax positions: p = p_old = one-hot there, each term p log(p/p_old) - p + p_old = 0
    torch.testing.assert_close(full, only_masked, atol=1e-6, rtol=1e-5)
    assert torch.all(kl_textbook(lp, lo, x, M_T, M_S) > 0)


def test_both_kls_vanish_for_identical_models_and_only_relaxed_steps_carry_repo_gradient():
    new, old = nets()
    x = relaxed_state()
    lp = mdlm.denoise(new, x)
    assert torch.allclose(kl_repo(lp, lp, x, M_T, M_S), torch.zeros(3), atol=1e-7)
    assert torch.allclose(kl_textbook(lp, lp, x, M_T, M_S), torch.zeros(3), atol=1e-7)
    for state, expect_grad in ((hard_state(), False), (relaxed_state(), True)):
        new.zero_grad()
        lp, lo = both(new, old, state)
        kl_repo(lp, lo.detach(), state, M_T, M_S).sum().backward()
        g = sum(p.grad.abs().sum() for p in new.parameters() if p.grad is not None)
        assert (g > 0) == expect_grad
