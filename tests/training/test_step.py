"""One training step with real (tiny) networks: phases at their intervals, w_avg, non-finite."""

from __future__ import annotations

import torch

from stylegan.training import TrainingState, make_config, training_step
from stylegan.training.accumulate import clean_gradients
from stylegan.training.state import build_networks

RES, BATCH = 16, 4


def make_state(config, c_dim=0):
    torch.manual_seed(0)
    G, D = build_networks(config, RES, 3, c_dim)
    return TrainingState.create(config, G, D)


def step(state, config, c_dim=0):
    real = torch.rand(BATCH, 3, RES, RES) * 2 - 1
    real_c = torch.zeros(BATCH, c_dim)
    z = torch.randn(4, BATCH, state.G.z_dim)
    gen_c = torch.zeros(4, BATCH, c_dim)
    return training_step(state, config, real, real_c, z, gen_c)


def test_phases_run_at_their_intervals():
    config = make_config("tiny", g_reg_interval=4, d_reg_interval=8)
    state = make_state(config)
    w_avg = state.G.mapping.w_avg.clone()
    ran = {name: [] for name in ("Gmain", "Greg", "Dmain", "Dreg")}
    for i in range(9):
        result = step(state, config)
        for name in result.losses:
            ran[name].append(i)
        assert all(torch.isfinite(torch.tensor(v)) for v in result.losses.values())
    assert ran == {
        "Gmain": list(range(9)),
        "Greg": [0, 4, 8],
        "Dmain": list(range(9)),
        "Dreg": [0, 8],
    }
    assert state.counters == {"phase/Gmain": 9, "phase/Greg": 3, "phase/Dmain": 9, "phase/Dreg": 2}
    assert (state.batch_idx, state.cur_nimg) == (9, 9 * BATCH)
    assert float(state.pl_mean) > 0, "path length mean starts moving"
    assert not torch.equal(state.G.mapping.w_avg, w_avg), "w_avg tracked in the D main phase"
    assert torch.equal(state.G_ema.mapping.w_avg, state.G.mapping.w_avg), "buffers copied"


def test_regularisers_switch_off():
    config = make_config("tiny", pl_weight=0.0, r1_gamma=0.0)
    state = make_state(config)
    for _ in range(2):
        assert set(step(state, config).losses) == {"Gmain", "Dmain"}


def test_only_the_phase_network_changes():
    config = make_config("tiny", pl_weight=0.0, r1_gamma=0.0)
    state = make_state(config)
    g_before = [p.detach().clone() for p in state.G.parameters()]
    d_before = [p.detach().clone() for p in state.D.parameters()]
    step(state, config)
    assert any(not torch.equal(a, p) for a, p in zip(g_before, state.G.parameters()))
    assert any(not torch.equal(a, p) for a, p in zip(d_before, state.D.parameters()))
    assert all(not p.requires_grad for p in state.G.parameters())  # frozen between phases
    assert all(not p.requires_grad for p in state.D.parameters())


def test_conditional_step():
    config = make_config("tiny")
    state = make_state(config, c_dim=3)
    assert state.G.c_dim == 3 and state.D.c_dim == 3
    result = step(state, config, c_dim=3)
    assert all(torch.isfinite(torch.tensor(v)) for v in result.losses.values())


def test_nonfinite_gradients_are_cleaned_and_counted():
    config = make_config("tiny", pl_weight=0.0, r1_gamma=0.0)
    state = make_state(config)
    weight = state.D.b4.out.weight

    def poison(grad):
        grad = grad.clone()
        grad.view(-1)[0] = float("nan")
        grad.view(-1)[1] = float("inf")
        return grad

    weight.requires_grad_(True)  # hooks can only be registered on tensors that need grads
    handle = weight.register_hook(poison)
    weight.requires_grad_(False)
    result = step(state, config)
    handle.remove()
    assert result.nonfinite_grads["Dmain"] == 2
    assert result.nonfinite_grads["Gmain"] == 0
    assert torch.isfinite(weight).all(), "the optimiser never saw the NaN"


def test_clean_gradients_values():
    p = torch.nn.Parameter(torch.zeros(4))
    p.grad = torch.tensor([float("nan"), float("inf"), -float("inf"), 2.0])
    module = torch.nn.Module()
    module.p = p
    assert int(clean_gradients(module)) == 3
    assert p.grad.tolist() == [0.0, 1e5, -1e5, 2.0]


def test_data_stream_is_seekable():
    from itertools import islice

    from stylegan.training.data_stream import ShuffledStream

    whole = list(islice(iter(ShuffledStream(10, seed=3)), 35))
    assert sorted(whole[:10]) == list(range(10)) and sorted(whole[10:20]) == list(range(10))
    assert whole[:10] != whole[10:20], "every epoch is shuffled anew"
    assert list(islice(iter(ShuffledStream(10, seed=3, start=17)), 18)) == whole[17:35]
    assert whole != list(islice(iter(ShuffledStream(10, seed=4)), 35))


def test_phase_table_schedules_phases_and_gains():
    from stylegan.training.step import scheduled_phases

    def due(config, step):
        return [(phase.name, gain) for phase, gain in scheduled_phases(config, step)]

    lazy = make_config("tiny", g_reg_interval=4, d_reg_interval=16)
    assert due(lazy, 0) == [("Gmain", 1), ("Greg", 4), ("Dmain", 1), ("Dreg", 16)]
    assert due(lazy, 4) == [("Gmain", 1), ("Greg", 4), ("Dmain", 1)]
    assert due(lazy, 5) == [("Gmain", 1), ("Dmain", 1)]
    # Regularised on every step: one optimiser step on the sum, gain 1.
    every = make_config("tiny", g_reg_interval=None, d_reg_interval=None)
    assert due(every, 3) == [("Gboth", 1), ("Dboth", 1)]
    off = make_config("tiny", pl_weight=0.0, r1_gamma=0.0, d_reg_interval=None)
    assert due(off, 0) == [("Gmain", 1), ("Dmain", 1)]
    wgan = make_config("tiny", loss="wgan-gp", r1_gamma=0.0, d_reg_interval=2, pl_weight=0.0)
    assert due(wgan, 2) == [("Gmain", 1), ("Dmain", 1), ("Dreg", 2)]
