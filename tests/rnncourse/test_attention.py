"""Tests for rnncourse.nn's attention layers: the graded reference's numbers, gradients, masks, dtypes.

Gradient checks use central differences in float64 (eps = 1e-6) on a random linear
loss sum(out * dout) (plus sum(alpha * dalpha) where the weights get a gradient of
their own) and require a relative error below GRAD_TOL.
"""

import numpy as np
import pytest

from autograder.reference import lesson09 as ref
from rnncourse import nn

GRAD_TOL = 1e-7


def rel_error(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300)


def numerical_gradient(loss, arr, eps=1e-6):
    grad = np.zeros_like(arr)
    for ix in np.ndindex(arr.shape):
        old = arr[ix]
        arr[ix] = old + eps
        up = loss()
        arr[ix] = old - eps
        down = loss()
        arr[ix] = old
        grad[ix] = (up - down) / (2 * eps)
    return grad


def _additive_inputs(rng, N=3, T=4, S=5, Hq=2, Hk=3, A=6):
    lengths = np.array([S, 2, 1][:N])
    return (
        rng.normal(size=(N, T, Hq)),
        rng.normal(size=(N, S, Hk)),
        np.arange(S) < lengths[:, None],
        rng.normal(size=(Hq, A)),
        rng.normal(size=(Hk, A)),
        rng.normal(size=A),
    )


def test_additive_forward_equals_the_graded_reference():
    """nn.additive_attention_forward gives the reference's context and weights (the learner's exercise)."""
    args = _additive_inputs(np.random.default_rng(0))
    context, alpha, _ = nn.additive_attention_forward(*args)
    context_ref, alpha_ref, _ = ref.additive_attention_forward(*args)
    np.testing.assert_allclose(context, context_ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(alpha, alpha_ref, rtol=1e-12, atol=1e-14)


def test_additive_weights_are_a_distribution_that_ignores_padding():
    """Every row of alpha sums to 1, padding gets exactly 0, and changing a padded key changes nothing."""
    rng = np.random.default_rng(1)
    q, k, mask, W_q, W_k, v = _additive_inputs(rng)
    context, alpha, _ = nn.additive_attention_forward(q, k, mask, W_q, W_k, v)
    np.testing.assert_allclose(alpha.sum(axis=-1), 1.0, rtol=1e-12)
    assert np.all(alpha[~np.broadcast_to(mask[:, None, :], alpha.shape)] == 0.0)
    k2 = k.copy()
    k2[~mask] = 100.0
    np.testing.assert_array_equal(
        nn.additive_attention_forward(q, k2, mask, W_q, W_k, v)[0], context
    )


def test_additive_backward_matches_numerical_gradients():
    """Every gradient of additive attention (dcontext and a gradient on the weights) agrees numerically."""
    rng = np.random.default_rng(2)
    q, k, mask, W_q, W_k, v = _additive_inputs(rng)
    dcontext = rng.normal(size=(3, 4, 3))
    dalpha = rng.normal(size=(3, 4, 5))

    def loss():
        context, alpha, _ = nn.additive_attention_forward(q, k, mask, W_q, W_k, v)
        return float(np.sum(context * dcontext) + np.sum(alpha * dalpha))

    _, _, cache = nn.additive_attention_forward(q, k, mask, W_q, W_k, v)
    grads = nn.additive_attention_backward(dcontext, cache, dalpha=dalpha)
    for arr, grad in zip((q, k, W_q, W_k, v), grads):
        assert rel_error(grad, numerical_gradient(loss, arr)) < GRAD_TOL


def test_additive_backward_equals_the_graded_reference():
    """Without dalpha, the layer's gradients are the reference's (the learner's exercise 9.5)."""
    rng = np.random.default_rng(3)
    args = _additive_inputs(rng)
    dcontext = rng.normal(size=(3, 4, 3))
    ours = nn.additive_attention_backward(dcontext, nn.additive_attention_forward(*args)[2])
    theirs = ref.additive_attention_backward(dcontext, ref.additive_attention_forward(*args)[2])
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("mask_shape", ["padding (N, S)", "causal (N, T, S)"])
def test_dot_attention_matches_reference_and_numerical_gradients(mask_shape):
    """Scaled dot-product attention equals the reference (with the mask broadcast to (N, T, S)) and its
    gradients agree with central differences."""
    rng = np.random.default_rng(4)
    N, T, d, dv = 2, 4, 3, 5
    Q, K, V = rng.normal(size=(N, T, d)), rng.normal(size=(N, T, d)), rng.normal(size=(N, T, dv))
    if mask_shape.startswith("padding"):
        mask = np.arange(T) < np.array([[4], [2]])
        full = np.broadcast_to(mask[:, None, :], (N, T, T))
    else:
        mask = full = np.broadcast_to(np.tril(np.ones((T, T), dtype=bool)), (N, T, T))
    out, alpha, cache = nn.dot_attention_forward(Q, K, V, mask)
    out_ref, alpha_ref, _ = ref.scaled_dot_attention_forward(Q, K, V, full)
    np.testing.assert_allclose(out, out_ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(alpha, alpha_ref, rtol=1e-12, atol=1e-14)
    dout = rng.normal(size=out.shape)
    grads = nn.dot_attention_backward(dout, cache)

    def loss():
        return float(np.sum(nn.dot_attention_forward(Q, K, V, mask)[0] * dout))

    for arr, grad in zip((Q, K, V), grads):
        assert rel_error(grad, numerical_gradient(loss, arr)) < GRAD_TOL


def test_attention_keeps_float32():
    """float32 inputs give float32 outputs and gradients (the lesson trains in float32)."""
    rng = np.random.default_rng(5)
    args = [a.astype(np.float32) if a.dtype.kind == "f" else a for a in _additive_inputs(rng)]
    context, alpha, cache = nn.additive_attention_forward(*args)
    assert context.dtype == alpha.dtype == np.float32
    assert all(g.dtype == np.float32 for g in nn.additive_attention_backward(context, cache))


def test_attention_rejects_a_mask_that_allows_nothing():
    """A mask row with no True entry (an empty source) is an error, not a row of NaN."""
    q, k, mask, W_q, W_k, v = _additive_inputs(np.random.default_rng(6))
    mask = mask.copy()
    mask[2] = False
    with pytest.raises(ValueError, match="at least one key"):
        nn.additive_attention_forward(q, k, mask, W_q, W_k, v)
    with pytest.raises(ValueError, match="mask must have shape"):
        nn.dot_attention_forward(q, q, q, mask[:, :2])
