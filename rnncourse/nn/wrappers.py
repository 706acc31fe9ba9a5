"""Bidirectional and stacked (multi-layer) recurrent networks over any cell.

A *cell* is named ``"rnn"``, ``"lstm"`` or ``"gru"``, or given as a pair
``(forward, backward)`` of functions with the layer contract

    forward(x, h0, *params) -> (h, cache)          x (N, T, D), h0 (N, H), h (N, T, H)
    backward(dh, cache) -> (dx, dh0, *dparams)

``params`` is the tuple of weights the cell's forward takes after ``h0``, e.g.
``(W_x, W_h, b)``. LSTMs in these wrappers start from c0 = 0, but for a
unidirectional stack, which takes ``c0s`` and keeps every layer's final cell state.
"""

import numpy as np

from .gru import gru_backward, gru_forward
from .lstm import lstm_backward, lstm_forward
from .rnn import rnn_backward, rnn_forward

CELLS = {
    "rnn": (rnn_forward, rnn_backward),
    "lstm": (lstm_forward, lstm_backward),
    "gru": (gru_forward, gru_backward),
}


def get_cell(cell):
    """Return the ``(forward, backward)`` pair for a cell name or pair."""
    if isinstance(cell, str):
        try:
            return CELLS[cell]
        except KeyError:
            raise ValueError(f"unknown cell {cell!r}; choose one of {sorted(CELLS)}") from None
    forward, backward = cell
    return forward, backward


def reverse_index(N, T, lengths=None):
    """(N, T) time indices that reverse each row within its length, padding left in place.

    Row n reads steps lengths[n]-1, ..., 0, then lengths[n], ..., T-1: its own
    reversal. Applying it twice gives back the original order. ``lengths=None``
    means every row has T real steps.
    """
    t = np.arange(T)
    if lengths is None:
        return np.broadcast_to(t[::-1], (N, T))
    lengths = np.asarray(lengths)
    if lengths.shape != (N,) or not np.issubdtype(lengths.dtype, np.integer):
        raise ValueError(
            f"lengths must be {N} integers, one per row, got {lengths.dtype} of shape {lengths.shape}"
        )
    if np.any(lengths < 1) or np.any(lengths > T):
        raise ValueError(
            f"lengths must be between 1 and T = {T}, got {lengths.min()} to {lengths.max()}"
        )
    L = lengths[:, None]
    return np.where(t < L, L - 1 - t, t)


def _in_time(a, index):
    """a[n, index[n, t]] for every n, t (a is (N, T, ...))."""
    return np.take_along_axis(a, index.reshape(index.shape + (1,) * (a.ndim - 2)), axis=1)


def bidirectional_forward(cell, x, h0_fwd, h0_bwd, params_fwd, params_bwd, lengths=None):
    """Run one cell left-to-right and another right-to-left; concatenate their states.

    Inputs:
        cell: ``"rnn"``, ``"lstm"``, ``"gru"`` or a ``(forward, backward)`` pair.
        x: (N, T, D) inputs.
        h0_fwd, h0_bwd: (N, H) initial states of the two directions (h0_bwd is
            the state *before* the last real time step).
        params_fwd, params_bwd: tuples of the cell's weights, e.g. (W_x, W_h, b).
        lengths: optional (N,) number of real steps per row of a right-padded
            batch. The reverse direction then starts at each row's last real step,
            so its states at real steps do not depend on the padding; states at
            padded steps are meaningless (mask them out). Without ``lengths`` the
            reverse direction reads the padding first.

    Returns:
        h: (N, T, 2H); h[:, t, :H] has read x[:, :t+1], h[:, t, H:] has read x[:, t:]
            (x[:, t:length] with ``lengths``).
        cache: for ``bidirectional_backward``.
    """
    forward, _ = get_cell(cell)
    x = np.asarray(x)
    rev = reverse_index(x.shape[0], x.shape[1], lengths)
    h_fwd, cache_fwd = forward(x, h0_fwd, *params_fwd)  # (N, T, H)
    h_bwd_rev, cache_bwd = forward(
        _in_time(x, rev), h0_bwd, *params_bwd
    )  # (N, T, H), each row reversed
    h = np.concatenate([h_fwd, _in_time(h_bwd_rev, rev)], axis=-1)  # (N, T, 2H)
    return h, (cell, h_fwd.shape[-1], cache_fwd, cache_bwd, rev)


def bidirectional_backward(dh, cache):
    """Gradients of ``bidirectional_forward``.

    Inputs: dh (N, T, 2H), cache.
    Returns: dx (N, T, D), dh0_fwd (N, H), dh0_bwd (N, H), dparams_fwd (tuple),
    dparams_bwd (tuple), the parameter gradients in the order of the params tuples.
    """
    cell, H, cache_fwd, cache_bwd, rev = cache
    _, backward = get_cell(cell)
    dh = np.asarray(dh)
    if dh.ndim != 3 or dh.shape[:2] != rev.shape or dh.shape[2] != 2 * H:
        raise ValueError(
            f"bidirectional_backward: dh must have shape {(*rev.shape, 2 * H)}, got {dh.shape}"
        )
    dx_fwd, dh0_fwd, *dparams_fwd = backward(dh[..., :H], cache_fwd)
    dx_bwd_rev, dh0_bwd, *dparams_bwd = backward(_in_time(dh[..., H:], rev), cache_bwd)
    dx = dx_fwd + _in_time(dx_bwd_rev, rev)
    return dx, dh0_fwd, dh0_bwd, tuple(dparams_fwd), tuple(dparams_bwd)


def stacked_forward(cell, x, h0s, params, bidirectional=False, lengths=None, c0s=None):
    """A multi-layer recurrent network: the outputs of layer l are the inputs of layer l+1.

    Inputs:
        cell: ``"rnn"``, ``"lstm"``, ``"gru"`` or a ``(forward, backward)`` pair.
        x: (N, T, D) inputs of the first layer.
        h0s: list with one initial state (N, H_l) per layer, or one pair
            ``(h0_fwd, h0_bwd)`` per layer if ``bidirectional``; ``None`` means
            zeros everywhere (for a cell of your own, its forward must accept None).
        params: list with one weight tuple per layer, e.g. ``(W_x, W_h, b)``, or one
            pair ``(params_fwd, params_bwd)`` per layer if ``bidirectional``.
            Layer 0 has input size D, layer l > 0 input size H_{l-1}
            (2 H_{l-1} if bidirectional).
        bidirectional: each layer is a ``bidirectional_forward``.
        lengths: optional (N,) real steps per row of a right-padded batch (see
            ``bidirectional_forward``); it also picks each row's final state.
        c0s: LSTM only, not bidirectional: one initial cell state (N, H_l) per layer
            (``None`` entries or ``c0s=None`` mean zeros). Truncated BPTT carries
            both states of a stacked LSTM from one chunk to the next:
            ``h0s=cache["h_T"], c0s=cache["c_T"]``; passing ``h0s`` alone restarts
            every cell state from zero.

    Returns:
        h: (N, T, H_top) (or (N, T, 2 H_top)) outputs of the last layer.
        cache: dict for ``stacked_backward``; ``cache["h_T"]`` lists every
            layer's final state: (N, H_l), the state after each row's last real
            step (for truncated BPTT, or an encoder's states for a decoder); if
            ``bidirectional`` a pair (that state of the forward direction, the
            reverse direction's state after reading the whole row, at t = 0).
            A unidirectional LSTM stack without ``lengths`` also has
            ``cache["c_T"]``, every layer's final cell state (N, H_l).
    """
    _check_layers("params", params, bidirectional)
    if h0s is None:  # zeros for every layer (the forwards take None for h0)
        h0s = [None for _ in params]
    if not isinstance(h0s, (list, tuple)) or len(h0s) != len(params):
        got = f"{len(h0s)} initial states" if isinstance(h0s, (list, tuple)) else type(h0s).__name__
        raise ValueError(
            f"stacked_forward: h0s must be a list with one initial state per layer ({len(params)}), "
            f"got {got}"
        )
    forward, _ = get_cell(cell)
    lstm_stack = forward is lstm_forward and not bidirectional
    if c0s is not None:
        if not lstm_stack:
            raise ValueError("stacked_forward: c0s is for a unidirectional LSTM stack")
        if len(c0s) != len(params):
            raise ValueError(
                f"stacked_forward: {len(c0s)} initial cell states for {len(params)} layers"
            )
        if lengths is not None:  # c_T is the state after step T - 1, padding included
            raise ValueError("stacked_forward: c0s and lengths together are not supported")
    x = np.asarray(x)
    rows = np.arange(x.shape[0])
    last = (
        x.shape[1] - 1 if lengths is None else reverse_index(x.shape[0], x.shape[1], lengths)[:, 0]
    )
    caches, h_T = [], []
    h = x
    for layer, (h0, p) in enumerate(zip(h0s, params)):
        if bidirectional:
            h0_f, h0_b = (None, None) if h0 is None else h0
            h, layer_cache = bidirectional_forward(cell, h, h0_f, h0_b, p[0], p[1], lengths)
            H = layer_cache[1]
            h_T.append((h[rows, last, :H], h[:, 0, H:]))
        elif lstm_stack:
            h, layer_cache = lstm_forward(h, h0, *p, c0=None if c0s is None else c0s[layer])
            h_T.append(h[rows, last])
        else:
            h, layer_cache = forward(h, h0, *p)
            h_T.append(h[rows, last])
        caches.append(layer_cache)
    cache = {
        "cell": cell,
        "bidirectional": bidirectional,
        "layers": caches,
        "h_T": h_T,
        "last": last,
    }
    if lstm_stack and lengths is None:  # with lengths, c after step T - 1 has read the padding
        cache["c_T"] = [layer_cache["c_T"] for layer_cache in caches]
    return h, cache


def _check_layers(what, params, bidirectional):
    """``params`` is a list with one entry per layer, not one layer's weights."""
    per_layer = "pair (params_fwd, params_bwd)" if bidirectional else "weight tuple"
    if not isinstance(params, (list, tuple)) or len(params) == 0:
        raise ValueError(f"stacked_forward: {what} must be a list with one {per_layer} per layer")
    if any(isinstance(p, np.ndarray) for p in params):
        raise ValueError(
            f"stacked_forward: {what} must be a list with one {per_layer} per layer, got a "
            f"{type(params).__name__} of arrays (for one layer: "
            f"{'[((W_x, W_h, b), (W_x_b, W_h_b, b_b))]' if bidirectional else '[(W_x, W_h, b)]'})"
        )


def stacked_backward(dh, cache, dh_T=None, dc_T=None):
    """Gradients of ``stacked_forward``.

    Inputs:
        dh: upstream gradient w.r.t. the top layer's outputs.
        cache: from ``stacked_forward``.
        dh_T: optional, one upstream gradient per layer w.r.t. ``cache["h_T"]``
            (an encoder whose final states start a decoder): (N, H_l), a pair if
            bidirectional; ``None`` entries for layers whose final state is not used.
        dc_T: optional, LSTM stacks with ``cache["c_T"]`` only: one upstream
            gradient per layer w.r.t. ``cache["c_T"]`` (``None`` entries allowed).

    Returns: ``(dx, dh0s, dparams)``: dx (N, T, D); dh0s a list per layer
    (pairs if bidirectional); dparams a list per layer of gradient tuples
    (pairs of tuples if bidirectional), matching ``h0s`` and ``params``.
    """
    _, backward = get_cell(cache["cell"])
    layers = cache["layers"]
    dh_T = _per_layer("dh_T", dh_T, len(layers))
    dc_T = _per_layer("dc_T", dc_T, len(layers))
    if any(d is not None for d in dc_T) and "c_T" not in cache:
        raise ValueError(
            "stacked_backward: dc_T is for a unidirectional LSTM stack run without lengths"
        )
    for layer, (grad, final) in enumerate(zip(dh_T, cache["h_T"])):
        pairs = zip(grad, final) if cache["bidirectional"] and grad is not None else [(grad, final)]
        for g, f in pairs:
            if g is not None and np.shape(g) != f.shape:
                raise ValueError(
                    f"stacked_backward: dh_T[{layer}] must have the shape of cache['h_T'][{layer}], "
                    f"{f.shape}, got {np.shape(g)}"
                )
    for layer, g in enumerate(dc_T):
        if g is not None and np.shape(g) != cache["c_T"][layer].shape:
            raise ValueError(
                f"stacked_backward: dc_T[{layer}] must have shape {cache['c_T'][layer].shape}, got {np.shape(g)}"
            )
    last = cache["last"]
    dh0s, dparams = [], []
    for layer in reversed(range(len(layers))):
        layer_cache = layers[layer]
        if (
            dh_T[layer] is not None
        ):  # the final state is one of the layer's outputs: add to it there
            dh = np.array(
                dh, dtype=np.result_type(dh, np.float32)
            )  # a copy: the caller's dh is kept
            rows = np.arange(dh.shape[0])
            if cache["bidirectional"]:
                H = layer_cache[1]
                dh_f, dh_b = dh_T[layer]
                if dh_f is not None:
                    dh[rows, last, :H] += dh_f
                if dh_b is not None:
                    dh[:, 0, H:] += dh_b
            else:
                dh[rows, last] += dh_T[layer]
        if cache["bidirectional"]:
            dh, dh0_f, dh0_b, dp_f, dp_b = bidirectional_backward(dh, layer_cache)
            dh0s.append((dh0_f, dh0_b))
            dparams.append((dp_f, dp_b))
        else:
            if dc_T[layer] is not None:
                dh, dh0, *dp = lstm_backward(dh, layer_cache, dc_T=dc_T[layer])
            else:
                dh, dh0, *dp = backward(dh, layer_cache)
            dh0s.append(dh0)
            dparams.append(tuple(dp))
    return dh, dh0s[::-1], dparams[::-1]


def _per_layer(what, grads, L):
    if grads is None:
        return [None] * L
    if not isinstance(grads, (list, tuple)) or len(grads) != L:
        got = f"{len(grads)} entries" if isinstance(grads, (list, tuple)) else type(grads).__name__
        raise ValueError(
            f"stacked_backward: {what} must be a list with one entry per layer ({L}), got {got}"
        )
    return list(grads)
