import numpy as np

from ml.dna.hmm import BASES
from ml.dna.problem import build


def ids(s):
    return np.array([[BASES.index(c) for c in s]])


def clean_background(t, seed):
    """A uniform random sequence with no motif site (all soft counts < 0.1) and balanced GC."""
    from ml.dna import activity
    rng = np.random.default_rng(seed)
    while True:
        x = rng.integers(0, 4, (1, t.length))
        f = activity.features(x, t.motifs, t.roles)
        if f["counts"].max() < 0.1 and 0.4 < f["gc"].item() < 0.5 and f["max_run"].item() < 5:
            return x


def with_sites(t, sites, seed=0):
    """A clean background with the given sites planted 15 bases apart."""
    x = clean_background(t, seed)[0].copy()
    pos = 5
    for s in sites:
        x[pos:pos + len(s)] = ids(s)[0]
        pos += len(s) + 15
    return x[None]


def test_natural_median_is_calibrated_to_zero():
    t = build({})
    f = t.true_activity(t.sample_natural(2000, seed=11))
    # offset = median of 4000 calibration draws; two medians of ~2000-4000 draws differ by ~0.05 (std ~1)
    assert abs(np.median(f)) < 0.15
    assert np.all(np.abs(f) < 6.0)   # 6 tanh(.) saturation


def test_activators_raise_activity_and_repressors_lower_it():
    t = build({})
    a1, a2, a3, pio, r1, r2 = t.motifs
    bg = np.median([t.true_activity(with_sites(t, [], seed=s))[0] for s in range(20)])
    act = t.true_activity(with_sites(t, [pio, a1, a2, a3]))[0]
    rep = t.true_activity(with_sites(t, [pio, a1, a2, a3, r1, r2]))[0]
    assert act > bg + 2.0
    assert rep < act - 1.0


def test_crowding_and_gc_are_penalised():
    t = build({})
    a1, a2, a3, pio, _, _ = t.motifs
    good = t.true_activity(with_sites(t, [pio, a1, a2, a3]))[0]
    stuffed = t.true_activity(with_sites(t, [pio, a1, a1, a1, a2, a2, a3, a3]))[0]
    # saturation: extra copies add little; crowding costs 0.8 per site beyond 4
    assert stuffed < good
    assert t.true_activity(ids("GC" * 100))[0] < -3.0


def test_accessibility_needs_a_pioneer_site_and_balanced_gc():
    t = build({})
    pio = t.motifs[3]
    x = with_sites(t, [pio])
    assert t.accessible(x)[0]
    # a GC-only sequence cannot be open even with the pioneer site planted
    gc = ids("GC" * 100)
    gc[0, 10:10 + len(pio)] = ids(pio)[0]
    assert not t.accessible(gc)[0]


def test_task_params_change_the_ground_truth():
    t1, t2 = build({"length": 64}), build({"length": 64, "motifs": ["AAAACCCC", "GGGGTTTT", "ACACACAC"]})
    x = t1.sample_natural(200, seed=3)
    assert t2.roles == ["activator", "activator", "pioneer"]
    assert not np.allclose(t1.true_activity(x), t2.true_activity(x))
