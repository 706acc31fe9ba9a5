"""rnncourse.nn: vectorized recurrent layers, losses and optimizers in NumPy.

Functional style: ``*_forward(...) -> (out, cache)`` and
``*_backward(dout, cache) -> gradients in the order of the forward's inputs``.
Shapes are batch-first, layers are row-vector ``x @ W + b`` (see NOTATION.md).
Every function keeps the floating dtype of its inputs (float32 stays float32); a
recurrent layer takes it from x and its weights and casts h0 (and c0) to it.
Integer inputs (token ids, a one-hot x of ints) do not count; one float64 array
among float32 ones (a bias made with np.zeros) makes the layer float64.

Recurrent layers (x (N, T, D), h0 (N, H), output h (N, T, H)):
    rnn_forward(x, h0, W_xh, W_hh, b_h)               rnn_backward(dh, cache)
    lstm_forward(x, h0, W_x, W_h, b, c0=None, return_state=False)
    lstm_backward(dh, cache, dc_T=None, return_dc0=False)
    gru_forward(x, h0, W_x, W_h, b)                   gru_backward(dh, cache)
    gru_torch_forward(x, h0, W_x, W_h, b_x, b_h)      gru_torch_backward(dh, cache)
    bidirectional_forward(cell, x, h0_fwd, h0_bwd, params_fwd, params_bwd, lengths=None)
    bidirectional_backward(dh, cache)
    stacked_forward(cell, x, h0s, params, bidirectional=False, lengths=None, c0s=None)
        cache["h_T"]: every layer's final state (each row's last real step);
        cache["c_T"]: an LSTM stack's final cell states (no lengths, not bidirectional)
    stacked_backward(dh, cache, dh_T=None, dc_T=None)   gradients w.r.t. h_T, c_T too
Attention (queries (N, T, .), keys (N, S, .), mask (N, S) or (N, T, S) bool):
    additive_attention_forward(q, k, mask, W_q, W_k, v)   additive_attention_backward(dcontext, cache)
    dot_attention_forward(Q, K, V, mask)                 dot_attention_backward(dout, cache)
Other layers: embedding_*, linear_*, softmax_cross_entropy, sigmoid.
Training: SGD, Adam, clip_grad_norm. PyTorch weights: *_params_from_torch.

How the recurrent layers are fast: the input projection of all steps is one
GEMM (with the bias folded in as a column of ones), gates are fused, every
per-step buffer is contiguous time-major storage carved from one allocation,
the time loop only calls np.matmul and ufuncs with out=, and backward collects
d(pre-activation) of all steps so the weight gradients and dx are a few large
GEMMs after the loop.
"""

from ._common import sigmoid
from .attention import (
    additive_attention_backward,
    additive_attention_forward,
    dot_attention_backward,
    dot_attention_forward,
)
from .convert import gru_params_from_torch, lstm_params_from_torch, rnn_params_from_torch
from .gru import gru_backward, gru_forward, gru_torch_backward, gru_torch_forward
from .layers import (
    embedding_backward,
    embedding_forward,
    linear_backward,
    linear_forward,
    softmax_cross_entropy,
)
from .lstm import lstm_backward, lstm_forward
from .optim import SGD, Adam, clip_grad_norm
from .rnn import rnn_backward, rnn_forward
from .wrappers import (
    CELLS,
    bidirectional_backward,
    bidirectional_forward,
    get_cell,
    stacked_backward,
    stacked_forward,
)

__all__ = [
    "CELLS",
    "SGD",
    "Adam",
    "additive_attention_backward",
    "additive_attention_forward",
    "bidirectional_backward",
    "bidirectional_forward",
    "clip_grad_norm",
    "dot_attention_backward",
    "dot_attention_forward",
    "embedding_backward",
    "embedding_forward",
    "get_cell",
    "gru_backward",
    "gru_forward",
    "gru_params_from_torch",
    "gru_torch_backward",
    "gru_torch_forward",
    "linear_backward",
    "linear_forward",
    "lstm_backward",
    "lstm_forward",
    "lstm_params_from_torch",
    "rnn_backward",
    "rnn_forward",
    "rnn_params_from_torch",
    "sigmoid",
    "softmax_cross_entropy",
    "stacked_backward",
    "stacked_forward",
]
