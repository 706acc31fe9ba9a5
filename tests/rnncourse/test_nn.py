"""Tests for rnncourse.nn: oracles, numerical gradients, dtypes, wrappers, losses, optimizers.

Gradient checks use central differences in float64 (eps = 1e-6) on a random
linear loss sum(out * dout) and require a relative error
||analytic - numeric|| / (||analytic|| + ||numeric||) below GRAD_TOL.
"""

import subprocess
import sys
import warnings

import numpy as np
import pytest

from rnncourse import nn
from rnncourse.nn import _common

GRAD_TOL = 1e-6  # relative error of analytic vs. central-difference gradients
ORACLE_TOL = 1e-12  # max abs difference to the per-gate loops, float64
F32_TOL = 1e-4  # relative difference float32 vs. float64
N_BLOCKS = {"rnn": 1, "lstm": 4, "gru": 3}


# ---------------------------------------------------------------- helpers


def rel_error(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300)


def numerical_gradient(loss, arr, eps=1e-6):
    """Central-difference gradient of the scalar ``loss()`` w.r.t. ``arr`` (perturbed in place)."""
    grad = np.zeros_like(arr)
    it = np.nditer(arr, flags=["multi_index"])
    for _ in it:
        ix = it.multi_index
        old = arr[ix]
        arr[ix] = old + eps
        up = loss()
        arr[ix] = old - eps
        down = loss()
        arr[ix] = old
        grad[ix] = (up - down) / (2 * eps)
    return grad


def assert_gradients(loss, arrays, analytic, names):
    for arr, grad, name in zip(arrays, analytic, names):
        assert grad.shape == arr.shape, name
        err = rel_error(grad, numerical_gradient(loss, arr))
        assert err < GRAD_TOL, f"{name}: relative error {err:.2e}"


def make_inputs(rng, cell, N=2, T=4, D=3, H=5, dtype=np.float64, scale=0.5):
    G = N_BLOCKS[cell]
    x = rng.normal(size=(N, T, D))
    h0 = rng.normal(size=(N, H)) * 0.5
    W_x = rng.normal(size=(D, G * H)) * scale
    W_h = rng.normal(size=(H, G * H)) * scale
    b = rng.normal(size=(G * H,)) * scale
    return [a.astype(dtype) for a in (x, h0, W_x, W_h, b)]


def sig(a):
    return 1.0 / (1.0 + np.exp(-a))


# Straightforward per-step, per-gate loops straight from NOTATION.md: the oracles.


def oracle_rnn(x, h0, W_xh, W_hh, b_h):
    h, hs = h0, []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ W_xh + h @ W_hh + b_h)
        hs.append(h)
    return np.stack(hs, axis=1)


def oracle_lstm(x, h0, W_x, W_h, b, c0=None):
    H = h0.shape[1]
    blocks = [slice(k * H, (k + 1) * H) for k in range(4)]
    (W_xi, W_xf, W_xg, W_xo) = (W_x[:, s] for s in blocks)
    (W_hi, W_hf, W_hg, W_ho) = (W_h[:, s] for s in blocks)
    (b_i, b_f, b_g, b_o) = (b[s] for s in blocks)
    h, c = h0, np.zeros_like(h0) if c0 is None else c0
    hs = []
    for t in range(x.shape[1]):
        x_t = x[:, t]
        i = sig(x_t @ W_xi + h @ W_hi + b_i)
        f = sig(x_t @ W_xf + h @ W_hf + b_f)
        g = np.tanh(x_t @ W_xg + h @ W_hg + b_g)
        o = sig(x_t @ W_xo + h @ W_ho + b_o)
        c = f * c + i * g
        h = o * np.tanh(c)
        hs.append(h)
    return np.stack(hs, axis=1), c


def oracle_gru(x, h0, W_x, W_h, b):
    H = h0.shape[1]
    r_, z_, n_ = (slice(k * H, (k + 1) * H) for k in range(3))
    h, hs = h0, []
    for t in range(x.shape[1]):
        x_t = x[:, t]
        r = sig(x_t @ W_x[:, r_] + h @ W_h[:, r_] + b[r_])
        z = sig(x_t @ W_x[:, z_] + h @ W_h[:, z_] + b[z_])
        n = np.tanh(x_t @ W_x[:, n_] + (r * h) @ W_h[:, n_] + b[n_])
        h = (1 - z) * h + z * n
        hs.append(h)
    return np.stack(hs, axis=1)


ORACLES = {"rnn": oracle_rnn, "lstm": lambda *a: oracle_lstm(*a)[0], "gru": oracle_gru}
CELLS = ["rnn", "lstm", "gru"]


# ---------------------------------------------------------------- recurrent cells


@pytest.mark.parametrize("cell", CELLS)
def test_cell_forward_matches_per_gate_oracle(cell):
    """Fused, vectorized forward equals the per-step, per-gate loop of NOTATION.md (float64)."""
    rng = np.random.default_rng(0)
    args = make_inputs(rng, cell, N=3, T=6, D=4, H=5, scale=1.0)
    forward, _ = nn.get_cell(cell)
    h, _ = forward(*args)
    assert h.shape == (3, 6, 5)
    np.testing.assert_allclose(h, ORACLES[cell](*args), rtol=0, atol=ORACLE_TOL)


@pytest.mark.parametrize("cell", CELLS)
def test_cell_backward_matches_numerical_gradient(cell):
    """Every gradient (dx, dh0, dW_x, dW_h, db) agrees with central differences."""
    rng = np.random.default_rng(1)
    args = make_inputs(rng, cell)
    forward, backward = nn.get_cell(cell)
    h, cache = forward(*args)
    dout = rng.normal(size=h.shape)
    grads = backward(dout, cache)
    assert len(grads) == 5

    def loss():
        return float(np.sum(forward(*args)[0] * dout))

    assert_gradients(loss, args, grads, ["dx", "dh0", "dW_x", "dW_h", "db"])


def test_lstm_backward_c0_and_final_cell_gradients_match_numerical():
    """With c0, an upstream dc_T and return_dc0=True, all six gradients are right."""
    rng = np.random.default_rng(2)
    args = make_inputs(rng, "lstm")
    c0 = rng.normal(size=args[1].shape)
    h, c_T, cache = nn.lstm_forward(*args, c0=c0, return_state=True)
    dout, dc_T = rng.normal(size=h.shape), rng.normal(size=c_T.shape)
    grads = nn.lstm_backward(dout, cache, dc_T=dc_T, return_dc0=True)
    assert len(grads) == 6

    def loss():
        h, c_T, _ = nn.lstm_forward(*args, c0=c0, return_state=True)
        return float(np.sum(h * dout) + np.sum(c_T * dc_T))

    assert_gradients(loss, [*args, c0], grads, ["dx", "dh0", "dW_x", "dW_h", "db", "dc0"])


def test_lstm_return_state_carries_over_for_truncated_bptt():
    """Running two halves, passing (h_T, c_T) on, equals running the whole sequence."""
    rng = np.random.default_rng(3)
    x, h0, W_x, W_h, b = make_inputs(rng, "lstm", T=8)
    h_full, c_full = oracle_lstm(x, h0, W_x, W_h, b)
    h1, c1, _ = nn.lstm_forward(x[:, :4], h0, W_x, W_h, b, return_state=True)
    h2, c2, cache = nn.lstm_forward(x[:, 4:], h1[:, -1], W_x, W_h, b, c0=c1, return_state=True)
    np.testing.assert_allclose(np.concatenate([h1, h2], axis=1), h_full, atol=ORACLE_TOL)
    np.testing.assert_allclose(c2, c_full, atol=ORACLE_TOL)
    np.testing.assert_array_equal(cache["c_T"], c2)


@pytest.mark.parametrize("chunk_elements", [None, 1])
def test_gru_torch_backward_matches_numerical_gradient(chunk_elements, monkeypatch):
    """The torch-convention GRU's six gradients (two biases) agree with central differences,
    also when backward precomputes its local derivatives one step at a time."""
    if chunk_elements is not None:
        monkeypatch.setattr(_common, "CHUNK_ELEMENTS", chunk_elements)
    rng = np.random.default_rng(4)
    x, h0, W_x, W_h, b_x = make_inputs(rng, "gru")
    b_h = rng.normal(size=b_x.shape) * 0.5
    args = [x, h0, W_x, W_h, b_x, b_h]
    h, cache = nn.gru_torch_forward(*args)
    dout = rng.normal(size=h.shape)
    grads = nn.gru_torch_backward(dout, cache)

    def loss():
        return float(np.sum(nn.gru_torch_forward(*args)[0] * dout))

    assert_gradients(loss, args, grads, ["dx", "dh0", "dW_x", "dW_h", "db_x", "db_h"])


@pytest.mark.parametrize("cell", CELLS)
def test_cell_backward_chunking_does_not_change_gradients(cell, monkeypatch):
    """Backward precomputes local derivatives in time chunks; one-step chunks give the same result."""
    rng = np.random.default_rng(5)
    args = make_inputs(rng, cell, T=7)
    forward, backward = nn.get_cell(cell)
    h, cache = forward(*args)
    dout = rng.normal(size=h.shape)
    whole = backward(dout, cache)
    monkeypatch.setattr(_common, "CHUNK_ELEMENTS", 1)
    chunked = backward(dout, cache)
    for a, b in zip(whole, chunked):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("cell", CELLS)
def test_cell_backward_leaves_cache_intact(cell):
    """Calling backward twice on one cache gives identical gradients (the cache is not mutated)."""
    rng = np.random.default_rng(6)
    args = make_inputs(rng, cell)
    forward, backward = nn.get_cell(cell)
    h, cache = forward(*args)
    dout = rng.normal(size=h.shape)
    for a, b in zip(backward(dout, cache), backward(dout, cache)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("cell", CELLS)
def test_cell_float32_stays_float32_and_matches_float64(cell):
    """float32 inputs give float32 outputs and gradients within F32_TOL of float64."""
    rng = np.random.default_rng(7)
    args64 = make_inputs(rng, cell, N=4, T=10, D=6, H=8)
    args32 = [a.astype(np.float32) for a in args64]
    forward, backward = nn.get_cell(cell)
    dout = rng.normal(size=(4, 10, 8))
    h64, cache64 = forward(*args64)
    h32, cache32 = forward(*args32)
    assert h32.dtype == np.float32
    assert all(v.dtype == np.float32 for v in cache32.values() if isinstance(v, np.ndarray))
    assert rel_error(h32, h64) < F32_TOL
    grads64 = backward(dout, cache64)
    grads32 = backward(dout.astype(np.float32), cache32)
    for g32, g64 in zip(grads32, grads64):
        assert g32.dtype == np.float32
        assert rel_error(g32, g64) < F32_TOL


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_stable_for_extreme_inputs(dtype):
    """sigmoid gives exact 0/1 at |a| = 1e30 with no overflow warning and keeps the dtype."""
    a = np.array([-1e30, -1e4, -100.0, 0.0, 100.0, 1e4, 1e30], dtype=dtype)
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        s = nn.sigmoid(a)
    assert s.dtype == dtype
    np.testing.assert_array_equal(s[[0, 1, -2, -1]], [0, 0, 1, 1])
    assert s[3] == 0.5
    assert nn.sigmoid(0.0) == 0.5
    np.testing.assert_allclose(
        nn.sigmoid(np.linspace(-30, 30, 61)), sig(np.linspace(-30, 30, 61)), rtol=1e-12, atol=1e-15
    )


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cell_saturated_gates_raise_no_warnings(cell, dtype):
    """Pre-activations of +-1e4 and more (huge weights) run forward and backward without any
    warning, and the saturated gates are exact: the states match the float64 oracle."""
    rng = np.random.default_rng(8)
    args = make_inputs(rng, cell, dtype=dtype, scale=1e4)
    forward, backward = nn.get_cell(cell)
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        h, cache = forward(*args)
        grads = backward(np.ones_like(h), cache)
    assert np.all(np.isfinite(h)) and all(np.all(np.isfinite(g)) for g in grads)
    with np.errstate(over="ignore"):
        expected = ORACLES[cell](*(a.astype(np.float64) for a in args))
    np.testing.assert_allclose(h, expected, rtol=0, atol=1e-12 if dtype == np.float64 else 1e-3)


# ---------------------------------------------------------------- wrappers


@pytest.mark.parametrize("cell", CELLS)
def test_bidirectional_forward_is_forward_and_reversed_backward_pass(cell):
    """Output[..., :H] is the cell on x; output[..., H:] is the cell on reversed x, re-reversed."""
    rng = np.random.default_rng(9)
    x, h0_f, *p_f = make_inputs(rng, cell)
    _, h0_b, *p_b = make_inputs(rng, cell)
    h, _ = nn.bidirectional_forward(cell, x, h0_f, h0_b, p_f, p_b)
    assert h.shape == (2, 4, 10)
    oracle = ORACLES[cell]
    np.testing.assert_allclose(h[..., :5], oracle(x, h0_f, *p_f), atol=ORACLE_TOL)
    np.testing.assert_allclose(h[..., 5:], oracle(x[:, ::-1], h0_b, *p_b)[:, ::-1], atol=ORACLE_TOL)


@pytest.mark.parametrize("cell", CELLS)
def test_bidirectional_backward_matches_numerical_gradient(cell):
    """dx, both dh0 and both directions' parameter gradients agree with central differences."""
    rng = np.random.default_rng(10)
    x, h0_f, *p_f = make_inputs(rng, cell, T=3)
    _, h0_b, *p_b = make_inputs(rng, cell, T=3)
    h, cache = nn.bidirectional_forward(cell, x, h0_f, h0_b, p_f, p_b)
    dout = rng.normal(size=h.shape)
    dx, dh0_f, dh0_b, dp_f, dp_b = nn.bidirectional_backward(dout, cache)

    def loss():
        return float(np.sum(nn.bidirectional_forward(cell, x, h0_f, h0_b, p_f, p_b)[0] * dout))

    assert_gradients(
        loss,
        [x, h0_f, h0_b, *p_f, *p_b],
        [dx, dh0_f, dh0_b, *dp_f, *dp_b],
        [
            "dx",
            "dh0_fwd",
            "dh0_bwd",
            "dW_x_fwd",
            "dW_h_fwd",
            "db_fwd",
            "dW_x_bwd",
            "dW_h_bwd",
            "db_bwd",
        ],
    )


@pytest.mark.parametrize("cell", CELLS)
def test_float64_initial_state_keeps_a_float32_layer_float32(cell):
    """np.zeros((N, H)) is float64: as h0 (or c0) it must not turn a float32 model into float64."""
    rng = np.random.default_rng(25)
    x, h0, *params = make_inputs(rng, cell, dtype=np.float32)
    forward, backward = nn.CELLS[cell]
    kwargs = {"c0": np.zeros(h0.shape)} if cell == "lstm" else {}
    h, cache = forward(x, np.zeros(h0.shape), *params, **kwargs)
    grads = backward(np.ones(h.shape), cache)
    assert h.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)


@pytest.mark.parametrize("cell", CELLS)
def test_bidirectional_with_lengths_does_not_depend_on_padding(cell):
    """With lengths, each row is reversed within its length: the states at real steps are those
    of the unpadded sequence, however much padding follows (without lengths they are not)."""
    rng = np.random.default_rng(21)
    x, h0_f, *p_f = make_inputs(rng, cell, N=1, T=3)
    _, h0_b, *p_b = make_inputs(rng, cell, N=1, T=3)
    alone, _ = nn.bidirectional_forward(cell, x, h0_f, h0_b, p_f, p_b)
    for pad in (2, 6):
        padded = np.concatenate([x, rng.normal(size=(1, pad, x.shape[2]))], axis=1)
        h, _ = nn.bidirectional_forward(cell, padded, h0_f, h0_b, p_f, p_b, lengths=np.array([3]))
        np.testing.assert_allclose(h[:, :3], alone, atol=1e-12)
        h, _ = nn.bidirectional_forward(cell, padded, h0_f, h0_b, p_f, p_b)
        assert not np.allclose(h[:, :3, 5:], alone[..., 5:])


@pytest.mark.parametrize("cell", CELLS)
def test_bidirectional_backward_with_lengths_matches_numerical_gradient(cell):
    rng = np.random.default_rng(22)
    x, h0_f, *p_f = make_inputs(rng, cell, N=3, T=4)
    _, h0_b, *p_b = make_inputs(rng, cell, N=3, T=4)
    lengths = np.array([4, 2, 1])
    h, cache = nn.bidirectional_forward(cell, x, h0_f, h0_b, p_f, p_b, lengths=lengths)
    dout = rng.normal(size=h.shape)
    dx, dh0_f, dh0_b, dp_f, dp_b = nn.bidirectional_backward(dout, cache)

    def loss():
        return float(np.sum(nn.bidirectional_forward(cell, x, h0_f, h0_b, p_f, p_b, lengths=lengths)[0] * dout))

    names = ["dx", "dh0_fwd", "dh0_bwd", "dW_x_fwd", "dW_h_fwd", "db_fwd", "dW_x_bwd", "dW_h_bwd", "db_bwd"]
    assert_gradients(loss, [x, h0_f, h0_b, *p_f, *p_b], [dx, dh0_f, dh0_b, *dp_f, *dp_b], names)


def test_stacked_final_states_follow_lengths_and_directions():
    """h_T holds each row's state after its last real step; a bidirectional layer's reverse half
    is its state at t = 0 (after reading the whole row), not at the last step."""
    rng = np.random.default_rng(23)
    x, h0_f, *p_f = make_inputs(rng, "gru", N=2, T=5)
    _, h0_b, *p_b = make_inputs(rng, "gru", N=2, T=5)
    lengths = np.array([5, 3])
    h, cache = nn.stacked_forward("gru", x, [h0_f], [tuple(p_f)], lengths=lengths)
    np.testing.assert_array_equal(cache["h_T"][0], h[[0, 1], [4, 2]])
    h, cache = nn.stacked_forward("gru", x, [(h0_f, h0_b)], [(p_f, p_b)], bidirectional=True, lengths=lengths)
    (fwd, bwd), = cache["h_T"]
    np.testing.assert_array_equal(fwd, h[[0, 1], [4, 2], :5])
    np.testing.assert_array_equal(bwd, h[:, 0, 5:])


def test_bidirectional_refuses_bad_lengths_and_dh():
    rng = np.random.default_rng(24)
    x, h0_f, *p_f = make_inputs(rng, "rnn", N=2, T=3)
    with pytest.raises(ValueError, match="lengths must be between 1 and T = 3"):
        nn.bidirectional_forward("rnn", x, h0_f, h0_f, p_f, p_f, lengths=np.array([3, 4]))
    with pytest.raises(ValueError, match="lengths must be 2 integers"):
        nn.bidirectional_forward("rnn", x, h0_f, h0_f, p_f, p_f, lengths=np.array([3.0, 2.0]))
    h, cache = nn.bidirectional_forward("rnn", x, h0_f, h0_f, p_f, p_f)
    with pytest.raises(ValueError, match=r"dh must have shape \(2, 3, 10\), got \(2, 3, 5\)"):
        nn.bidirectional_backward(h[..., :5], cache)


def test_stacked_forward_feeds_each_layer_into_the_next():
    """A 3-layer stack equals calling the cell three times on the previous layer's outputs."""
    rng = np.random.default_rng(11)
    x = rng.normal(size=(2, 5, 3))
    sizes = [3, 4, 6, 2]
    params = [
        (rng.normal(size=(d, 4 * h)), rng.normal(size=(h, 4 * h)), rng.normal(size=4 * h))
        for d, h in zip(sizes[:-1], sizes[1:])
    ]
    h0s = [rng.normal(size=(2, h)) for h in sizes[1:]]
    h, cache = nn.stacked_forward("lstm", x, h0s, params)
    expected = x
    for h0, p in zip(h0s, params):
        expected = oracle_lstm(expected, h0, *p)[0]
    np.testing.assert_allclose(h, expected, atol=ORACLE_TOL)
    assert [s.shape for s in cache["h_T"]] == [(2, 4), (2, 6), (2, 2)]
    np.testing.assert_array_equal(cache["h_T"][-1], h[:, -1])


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_stacked_backward_matches_numerical_gradient(cell, bidirectional):
    """A 2-layer (optionally bidirectional) stack: dx, every dh0 and every weight gradient are right."""
    rng = np.random.default_rng(12)
    N, T, D, H = 2, 3, 3, 4
    G = N_BLOCKS[cell]
    k = 2 if bidirectional else 1

    def layer(d):
        return (
            rng.normal(size=(d, G * H)) * 0.5,
            rng.normal(size=(H, G * H)) * 0.5,
            rng.normal(size=G * H) * 0.5,
        )

    x = rng.normal(size=(N, T, D))
    if bidirectional:
        params = [(layer(D), layer(D)), (layer(k * H), layer(k * H))]
        h0s = [tuple(rng.normal(size=(N, H)) for _ in range(2)) for _ in range(2)]
    else:
        params = [layer(D), layer(H)]
        h0s = [rng.normal(size=(N, H)) for _ in range(2)]
    h, cache = nn.stacked_forward(cell, x, h0s, params, bidirectional=bidirectional)
    assert h.shape == (N, T, k * H)
    dout = rng.normal(size=h.shape)
    dx, dh0s, dparams = nn.stacked_backward(dout, cache)

    def flat(nested):
        if isinstance(nested, np.ndarray):
            return [nested]
        return [a for item in nested for a in flat(item)]

    def loss():
        return float(np.sum(nn.stacked_forward(cell, x, h0s, params, bidirectional)[0] * dout))

    arrays = [x, *flat(h0s), *flat(params)]
    grads = [dx, *flat(dh0s), *flat(dparams)]
    assert_gradients(loss, arrays, grads, [f"grad {i}" for i in range(len(arrays))])


# ---------------------------------------------------------------- layers and loss


def test_embedding_forward_looks_up_rows():
    """embedding_forward returns W[idx] with shape idx.shape + (D,)."""
    rng = np.random.default_rng(13)
    W = rng.normal(size=(7, 3))
    idx = np.array([[0, 6, 2], [2, 2, 5]])
    out, _ = nn.embedding_forward(idx, W)
    assert out.shape == (2, 3, 3)
    np.testing.assert_array_equal(out[1, 2], W[5])


def test_embedding_backward_matches_numerical_gradient():
    """Repeated indices accumulate; unused rows get zero gradient; matches central differences."""
    rng = np.random.default_rng(14)
    W = rng.normal(size=(7, 3))
    idx = np.array([[0, 6, 2, 2], [2, 2, 5, 0]])
    out, cache = nn.embedding_forward(idx, W)
    dout = rng.normal(size=out.shape)
    dW = nn.embedding_backward(dout, cache)
    np.testing.assert_array_equal(dW[[1, 3, 4]], 0)

    def loss():
        return float(np.sum(nn.embedding_forward(idx, W)[0] * dout))

    assert_gradients(loss, [W], [dW], ["dW"])


@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 4)])
def test_linear_backward_matches_numerical_gradient(shape):
    """linear_forward on (..., D) is x @ W + b; dx, dW, db agree with central differences."""
    rng = np.random.default_rng(15)
    x, W, b = rng.normal(size=shape), rng.normal(size=(4, 6)), rng.normal(size=6)
    out, cache = nn.linear_forward(x, W, b)
    np.testing.assert_allclose(out, x @ W + b, atol=1e-12)
    dout = rng.normal(size=out.shape)
    grads = nn.linear_backward(dout, cache)

    def loss():
        return float(np.sum(nn.linear_forward(x, W, b)[0] * dout))

    assert_gradients(loss, [x, W, b], grads, ["dx", "dW", "db"])


def test_linear_float32_stays_float32():
    """float32 inputs give float32 outputs and gradients."""
    rng = np.random.default_rng(16)
    x, W, b = (rng.normal(size=s).astype(np.float32) for s in [(2, 3, 4), (4, 5), (5,)])
    out, cache = nn.linear_forward(x, W, b)
    assert out.dtype == np.float32
    assert all(g.dtype == np.float32 for g in nn.linear_backward(np.ones_like(out), cache))


def ce_reference(scores, y, mask):
    """Direct masked mean of -log softmax(scores)[y]."""
    logp = scores - np.log(np.sum(np.exp(scores), axis=-1, keepdims=True))
    nll = -np.take_along_axis(logp, y[..., None], axis=-1)[..., 0]
    return np.sum(nll * mask) / np.sum(mask)


@pytest.mark.parametrize("shape", [(4, 5), (3, 4, 5)])
def test_softmax_cross_entropy_matches_reference_and_numerical_gradient(shape):
    """Masked loss equals the direct formula; dscores matches central differences."""
    rng = np.random.default_rng(17)
    scores = rng.normal(size=shape) * 3
    y = rng.integers(0, shape[-1], size=shape[:-1])
    mask = rng.random(shape[:-1]) < 0.6
    mask.flat[0] = True
    loss, dscores = nn.softmax_cross_entropy(scores, y, mask)
    assert abs(loss - ce_reference(scores, y, mask)) < 1e-12
    np.testing.assert_array_equal(dscores[~mask], 0)

    def f():
        return nn.softmax_cross_entropy(scores, y, mask)[0]

    assert_gradients(f, [scores], [dscores], ["dscores"])
    loss_all, _ = nn.softmax_cross_entropy(scores, y)
    assert abs(loss_all - ce_reference(scores, y, np.ones(shape[:-1]))) < 1e-12


def test_softmax_cross_entropy_is_stable_and_ignores_padding_targets():
    """Scores of 1e4 give finite results without warnings; masked targets may be out of range."""
    scores = np.array([[[1e4, 0.0, -1e4], [0.0, 1.0, 2.0]]], dtype=np.float32)
    y = np.array([[0, 99]])  # 99 is a padding target
    mask = np.array([[True, False]])
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        loss, dscores = nn.softmax_cross_entropy(scores, y, mask)
    assert dscores.dtype == np.float32
    assert loss == pytest.approx(0.0, abs=1e-6)
    assert np.all(np.isfinite(dscores))
    loss0, d0 = nn.softmax_cross_entropy(scores, y, np.zeros((1, 2)))
    assert loss0 == 0.0 and not np.any(d0)


# ---------------------------------------------------------------- optimizers


def test_sgd_step_updates_in_place():
    """SGD without momentum is p -= lr * g, in place; with momentum, v = mu v + g."""
    p = {"W": np.ones(3, dtype=np.float32)}
    W = p["W"]
    g = {"W": np.array([1.0, -2.0, 0.5], dtype=np.float32)}
    nn.SGD(learning_rate=0.1).step(p, g)
    assert p["W"] is W and W.dtype == np.float32
    np.testing.assert_allclose(W, [0.9, 1.2, 0.95], rtol=1e-6)
    opt = nn.SGD(learning_rate=0.1, momentum=0.9)
    q = {"W": np.zeros(3)}
    g64 = {"W": g["W"].astype(np.float64)}
    opt.step(q, g64)
    opt.step(q, g64)
    np.testing.assert_allclose(q["W"], -0.1 * (1 + 1.9) * g64["W"], rtol=1e-12)


def test_adam_step_matches_textbook_formula():
    """Three Adam steps equal the bias-corrected textbook update, applied in place."""
    rng = np.random.default_rng(18)
    p = {"W": rng.normal(size=(3, 2)), "b": rng.normal(size=2)}
    ref = {k: v.copy() for k, v in p.items()}
    W = p["W"]
    opt = nn.Adam(learning_rate=0.01)
    m = {k: 0.0 for k in p}
    v = {k: 0.0 for k in p}
    for t in range(1, 4):
        g = {k: rng.normal(size=a.shape) for k, a in p.items()}
        opt.step(p, g)
        for k in ref:
            m[k] = 0.9 * m[k] + 0.1 * g[k]
            v[k] = 0.999 * v[k] + 0.001 * g[k] ** 2
            m_hat, v_hat = m[k] / (1 - 0.9**t), v[k] / (1 - 0.999**t)
            ref[k] -= 0.01 * m_hat / (np.sqrt(v_hat) + 1e-8)
    assert p["W"] is W
    for k in ref:
        np.testing.assert_allclose(p[k], ref[k], rtol=1e-12, atol=1e-14)


def test_clip_grad_norm_scales_to_max_norm():
    """Returns the global norm before clipping; afterwards the norm is max_norm; small grads untouched."""
    g = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])}
    total = nn.clip_grad_norm(g, 1.0)
    assert total == pytest.approx(5.0)
    norm_after = np.sqrt(sum(np.sum(v**2) for v in g.values()))
    assert norm_after == pytest.approx(1.0, rel=1e-5)
    small = {"a": np.array([0.3, 0.4], dtype=np.float32)}
    assert nn.clip_grad_norm(small, 1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(small["a"], np.array([0.3, 0.4], dtype=np.float32))


# ---------------------------------------------------------------- packaging


def test_nn_import_does_not_import_torch():
    """Importing rnncourse.nn (and converting weights) never imports torch."""
    code = (
        "import sys, numpy as np; from rnncourse import nn;"
        "nn.lstm_params_from_torch(np.ones((8, 3)), np.ones((8, 2)), np.ones(8), np.ones(8));"
        "assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------
# Optimizers, clipping and the loss refuse what would silently go wrong
# --------------------------------------------------------------------------


@pytest.mark.parametrize("make", [lambda: nn.Adam(0.1), lambda: nn.SGD(0.1, momentum=0.9)])
def test_optimizer_refuses_one_name_for_two_arrays(make):
    """An encoder's and a decoder's "W" in one optimizer would share one state: refused, by name."""
    opt = make()
    enc, dec = {"W": np.zeros(2)}, {"W": np.zeros(2)}
    opt.step(enc, {"W": np.ones(2)})
    with pytest.raises(ValueError, match="'W' now names another array"):
        opt.step(dec, {"W": -np.ones(2)})
    np.testing.assert_array_equal(dec["W"], 0)  # refused before any update
    opt.step(enc, {"W": np.ones(2)})  # the first dict goes on as before


@pytest.mark.parametrize("make", [lambda: nn.Adam(0.1), lambda: nn.SGD(0.1)])
def test_optimizer_refuses_missing_extra_or_misshapen_gradients(make):
    params = {"W": np.zeros((2, 3)), "b": np.zeros(3)}
    with pytest.raises(KeyError, match=r"no gradient for \['b'\].*no parameter for \['bb'\]"):
        make().step(params, {"W": np.ones((2, 3)), "bb": np.ones(3)})
    with pytest.raises(ValueError, match=r"grads\['b'\] has shape \(1, 3\)"):
        make().step(params, {"W": np.ones((2, 3)), "b": np.ones((1, 3))})
    assert not params["W"].any() and not params["b"].any()


def test_clip_grad_norm_refuses_nan_and_inf_and_leaves_the_gradients():
    for bad in (np.nan, np.inf):
        grads = {"a": np.array([3.0, bad]), "b": np.array([1.0])}
        with pytest.raises(FloatingPointError, match="NaN or inf in a"):
            nn.clip_grad_norm(grads, 1.0)
        assert grads["b"][0] == 1.0 and grads["a"][0] == 3.0
    with pytest.raises(ValueError, match="max_norm must be > 0"):
        nn.clip_grad_norm({"a": np.ones(2)}, -1)


def test_clip_grad_norm_sums_float32_in_float64():
    """Float32 gradients near 1e20 overflow a float32 sum of squares; they are clipped, not zeroed."""
    grads = {"a": np.array([3e20, 4e20], dtype=np.float32)}
    total = nn.clip_grad_norm(grads, 1.0)
    assert total == pytest.approx(5e20, rel=1e-6)
    assert grads["a"].dtype == np.float32
    np.testing.assert_allclose(grads["a"], [0.6, 0.8], rtol=1e-5)


def test_softmax_cross_entropy_refuses_bad_targets_and_masks():
    scores, y = np.zeros((2, 3, 4)), np.zeros((2, 3), dtype=int)
    with pytest.raises(ValueError, match=r"mask must have y's shape \(2, 3\), got \(3, 2\)"):
        nn.softmax_cross_entropy(scores, y, np.ones((3, 2)))
    y[1, 2] = -1  # a padding id, not masked out
    with pytest.raises(ValueError, match=r"targets must be in \[0, 4\).*y = -1 at flat position 5"):
        nn.softmax_cross_entropy(scores, y)
    mask = np.ones((2, 3))
    mask[1, 2] = 0  # masked out: any id is fine there
    nn.softmax_cross_entropy(scores, y, mask)
    with pytest.raises(TypeError, match="integer class ids"):
        nn.softmax_cross_entropy(scores, y.astype(float), mask)


def test_softmax_cross_entropy_ignores_nan_scores_where_masked_out():
    rng = np.random.default_rng(3)
    scores, y = rng.normal(size=(2, 3, 4)), rng.integers(0, 4, size=(2, 3))
    mask = np.ones((2, 3))
    mask[0, 2] = 0
    loss, dscores = nn.softmax_cross_entropy(scores, y, mask)
    scores[0, 2] = np.nan
    loss_nan, dscores_nan = nn.softmax_cross_entropy(scores, y, mask)
    assert loss_nan == loss
    np.testing.assert_array_equal(dscores_nan, dscores)


def test_embedding_refuses_ids_out_of_range_and_keeps_its_own_ids():
    W = np.arange(12.0).reshape(4, 3)
    with pytest.raises(IndexError, match=r"ids must be in \[0, 4\), got -1 to 2"):
        nn.embedding_forward(np.array([[0, -1, 2]]), W)
    batch = np.array([[0, 1, 1]])
    out, cache = nn.embedding_forward(batch, W)
    batch[...] = 3  # the caller reuses its buffer for the next batch
    dW = nn.embedding_backward(np.ones(out.shape), cache)
    np.testing.assert_array_equal(dW, [[1, 1, 1], [2, 2, 2], [0, 0, 0], [0, 0, 0]])


def test_stacked_lstm_carries_both_states_across_chunks():
    """Truncated BPTT on a 2-layer LSTM: two chunks, each starting from the other's h_T and c_T,
    give the states of one run over the whole sequence."""
    rng = np.random.default_rng(26)
    x, h0, *p0 = make_inputs(rng, "lstm", N=2, T=6, D=3, H=4)
    _, h1, *p1 = make_inputs(rng, "lstm", N=2, T=6, D=4, H=4)
    params, h0s = [tuple(p0), tuple(p1)], [h0, h1]
    whole, _ = nn.stacked_forward("lstm", x, h0s, params, c0s=[None, None])
    first, cache = nn.stacked_forward("lstm", x[:, :4], h0s, params, c0s=[None, None])
    second, _ = nn.stacked_forward("lstm", x[:, 4:], cache["h_T"], params, c0s=cache["c_T"])
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), whole, atol=1e-12)
    with pytest.raises(ValueError, match="c0s is for a unidirectional LSTM stack"):
        nn.stacked_forward("gru", x, h0s, params, c0s=[None, None])


def test_lstm_backward_names_a_misplaced_cache_and_a_misshapen_dc_T():
    rng = np.random.default_rng(27)
    x, h0, *params = make_inputs(rng, "lstm")
    h, c_T, cache = nn.lstm_forward(x, h0, *params, return_state=True)
    with pytest.raises(TypeError, match=r"the forward returns \(h, c_T, cache\): the cache is last"):
        nn.lstm_backward(np.ones(h.shape), c_T)
    with pytest.raises(ValueError, match=r"dc_T must have shape \(2, 5\), got \(5,\)"):
        nn.lstm_backward(np.ones(h.shape), cache, dc_T=np.ones(5))


@pytest.mark.parametrize("bidirectional", [False, True])
def test_stacked_forward_takes_none_for_zero_initial_states(bidirectional):
    rng = np.random.default_rng(28)
    x, h0, *p = make_inputs(rng, "gru", D=3, H=3)
    zeros = np.zeros_like(h0)
    layer = (tuple(p), tuple(p)) if bidirectional else tuple(p)
    h0s = [(zeros, zeros)] if bidirectional else [zeros]
    (h_none, _), (h_zeros, _) = (
        nn.stacked_forward("gru", x, None, [layer], bidirectional=bidirectional),
        nn.stacked_forward("gru", x, h0s, [layer], bidirectional=bidirectional),
    )
    np.testing.assert_array_equal(h_none, h_zeros)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("with_lengths", [False, True])
def test_stacked_backward_takes_gradients_of_the_final_states(cell, bidirectional, with_lengths):
    """An encoder whose every layer's final state (and an LSTM's final cell state) feeds a decoder:
    gradients w.r.t. cache["h_T"] and cache["c_T"] flow into every layer, lower ones included."""
    rng = np.random.default_rng(29)
    N, T, D, H = 2, 4, 3, 3
    G, k = N_BLOCKS[cell], 2 if bidirectional else 1

    def layer(d):
        return tuple(rng.normal(size=s) * 0.5 for s in ((d, G * H), (H, G * H), (G * H,)))

    x = rng.normal(size=(N, T, D))
    params = [(layer(D), layer(D)), (layer(k * H), layer(k * H))] if bidirectional else [layer(D), layer(H)]
    lengths = np.array([4, 2]) if with_lengths else None
    h, cache = nn.stacked_forward(cell, x, None, params, bidirectional=bidirectional, lengths=lengths)
    dout = rng.normal(size=h.shape)
    dh_T = [tuple(rng.normal(size=(N, H)) for _ in range(2)) if bidirectional else rng.normal(size=(N, H))
            for _ in range(2)]
    dh_T[1] = None  # a layer whose final state is not used
    carries_c = cell == "lstm" and not bidirectional and not with_lengths
    assert ("c_T" in cache) is carries_c  # an LSTM stack keeps its cell states without being asked
    dc_T = [rng.normal(size=(N, H)), None] if carries_c else None
    dx, _, dparams = nn.stacked_backward(dout, cache, dh_T=dh_T, dc_T=dc_T)

    def loss():
        h, cache = nn.stacked_forward(cell, x, None, params, bidirectional=bidirectional, lengths=lengths)
        total = np.sum(h * dout) + np.sum(np.asarray(cache["h_T"][0]) * np.asarray(dh_T[0]))
        if carries_c:
            total += np.sum(cache["c_T"][0] * dc_T[0])
        return float(total)

    def flat(nested):
        return [nested] if isinstance(nested, np.ndarray) else [a for item in nested for a in flat(item)]

    assert_gradients(loss, [x, *flat(params)], [dx, *flat(dparams)], [f"grad {i}" for i in range(7)])


def test_stacked_lstm_final_cell_states_carry_a_chunk_without_c0s():
    """cache["c_T"] is there without c0s, so the second chunk can start from both states."""
    rng = np.random.default_rng(30)
    x, h0, *p0 = make_inputs(rng, "lstm", N=2, T=6, D=3, H=4)
    whole, _ = nn.stacked_forward("lstm", x, None, [tuple(p0)])
    first, cache = nn.stacked_forward("lstm", x[:, :4], None, [tuple(p0)])
    second, _ = nn.stacked_forward("lstm", x[:, 4:], cache["h_T"], [tuple(p0)], c0s=cache["c_T"])
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), whole, atol=1e-12)


def test_stacked_wrappers_name_misplaced_arguments():
    rng = np.random.default_rng(31)
    x, h0, *p = make_inputs(rng, "gru", D=3, H=3)
    with pytest.raises(ValueError, match=r"params must be a list with one weight tuple per layer, got a tuple of "
                                         r"arrays \(for one layer: \[\(W_x, W_h, b\)\]\)"):
        nn.stacked_forward("gru", x, [h0], tuple(p))
    with pytest.raises(ValueError, match=r"h0s must be a list with one initial state per layer \(1\), got ndarray"):
        nn.stacked_forward("gru", x, h0, [tuple(p)])
    h, cache = nn.stacked_forward("gru", x, [None], [(tuple(p), tuple(p))], bidirectional=True)  # None: zeros
    assert h.shape == (2, 4, 6)
    with pytest.raises(ValueError, match=r"dh_T\[0\] must have the shape of cache\['h_T'\]\[0\], \(2, 3\), got \(3,\)"):
        nn.stacked_backward(np.ones(h.shape), cache, dh_T=[(np.ones(3), None)])
    with pytest.raises(ValueError, match="dc_T is for a unidirectional LSTM stack run without lengths"):
        nn.stacked_backward(np.ones(h.shape), cache, dc_T=[np.ones((2, 3))])
    with pytest.raises(ValueError, match=r"dh_T must be a list with one entry per layer \(1\), got 2 entries"):
        nn.stacked_backward(np.ones(h.shape), cache, dh_T=[None, None])


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_backward_names_a_cache_that_is_not_its_own(cell):
    rng = np.random.default_rng(32)
    x, h0, *p = make_inputs(rng, cell)
    forward, backward = nn.wrappers.CELLS[cell]
    other = "gru" if cell != "gru" else "rnn"
    _, other_cache = nn.wrappers.CELLS[other][0](*make_inputs(rng, other))
    h, cache = forward(x, h0, *p)
    with pytest.raises(TypeError, match=rf"cache must be the dict {cell}_forward returned, got a tuple of 2 "
                                        rf"\(pass the cache alone: h, cache = {cell}_forward\(\.\.\.\)\)"):
        backward(np.ones(h.shape), (h, cache))
    with pytest.raises(TypeError, match=r"got another dict \(the cache of another layer's forward\?\)"):
        backward(np.ones(h.shape), other_cache)
    if cell == "gru":  # the two GRU conventions' caches are told apart too
        x, h0, W_x, W_h, b = make_inputs(rng, "gru")
        _, torch_cache = nn.gru_torch_forward(x, h0, W_x, W_h, b, b)
        with pytest.raises(TypeError, match="cache must be the dict gru_forward returned, got another dict"):
            nn.gru_backward(np.ones(h.shape), torch_cache)
        with pytest.raises(TypeError, match="cache must be the dict gru_torch_forward returned, got another dict"):
            nn.gru_torch_backward(np.ones(h.shape), cache)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_integer_inputs_do_not_promote_float32_weights(cell):
    """A one-hot x of ints (or token ids) with float32 weights computes in float32, like an int8 x."""
    rng = np.random.default_rng(33)
    x, h0, *p = make_inputs(rng, cell, dtype=np.float32)
    onehot = (x > 0).astype(np.int64)
    forward = nn.wrappers.CELLS[cell][0]
    h, _ = forward(onehot, h0, *p)
    assert h.dtype == np.float32
    np.testing.assert_allclose(h, forward(onehot.astype(np.float32), h0, *p)[0], rtol=1e-6)
    out, _ = nn.linear_forward(onehot[:, 0], p[0], p[-1][: p[0].shape[1]])
    assert out.dtype == np.float32
    assert forward(onehot, h0.astype(np.float64), *p)[0].dtype == np.float32  # h0 is cast, not promoting


@pytest.mark.parametrize("optimizer", [nn.SGD(learning_rate=0.1, momentum=0.9), nn.Adam()])
def test_an_optimizer_refuses_nan_gradients_and_updates_nothing(optimizer):
    params = {"W": np.ones((2, 2)), "b": np.zeros(2)}
    before = {k: v.copy() for k, v in params.items()}
    grads = {"W": np.ones((2, 2)), "b": np.array([0.0, np.nan])}
    with pytest.raises(FloatingPointError, match=r"grads\['b'\] has NaN or inf entries; no parameter was updated"):
        optimizer.step(params, grads)
    for k in params:
        np.testing.assert_array_equal(params[k], before[k])
    with pytest.raises(TypeError, match=r"params must be a dict name -> array .* got list"):
        optimizer.step([params["W"]], grads)


def test_clip_grad_norm_names_a_list_and_the_loss_refuses_negative_mask_weights():
    with pytest.raises(TypeError, match=r"clip_grad_norm: grads must be a dict name -> array .* got list"):
        nn.clip_grad_norm([np.ones(3)], 1.0)
    scores, y = np.zeros((2, 3, 4)), np.zeros((2, 3), dtype=int)
    with pytest.raises(ValueError, match=r"mask must hold 0/1 \(or non-negative, finite weights\), got values from -1"):
        nn.softmax_cross_entropy(scores, y, mask=np.array([[1, -1, 1], [1, 1, 0]]))
    loss, _ = nn.softmax_cross_entropy(scores, y, mask=np.array([[1, 0.5, 1], [1, 1, 0]]))
    assert np.isclose(loss, np.log(4))
