"""Convert PyTorch's recurrent-layer weights to the course layout (no torch import).

torch stores ``weight_ih_l0`` as (G*H, D) and ``weight_hh_l0`` as (G*H, H) with
two biases ``bias_ih_l0``, ``bias_hh_l0`` (G*H,); the course uses row-vector
layers ``x @ W + b`` with W_x (D, G*H), W_h (H, G*H). The arguments may be NumPy
arrays, nested lists or torch tensors (converted with ``.detach().cpu().numpy()``).
"""

import numpy as np


def _array(t, dtype=None):
    if hasattr(t, "detach"):  # a torch tensor, duck-typed so torch is never imported
        t = t.detach().cpu().numpy()
    return np.array(t, dtype=dtype)


def _transposed(weight_ih, weight_hh, dtype):
    W_x = np.ascontiguousarray(_array(weight_ih, dtype).T)  # (D, G*H)
    W_h = np.ascontiguousarray(_array(weight_hh, dtype).T)  # (H, G*H)
    return W_x, W_h


def _bias(bias, size, dtype):
    return np.zeros(size, dtype=dtype) if bias is None else _array(bias, dtype)


def lstm_params_from_torch(weight_ih, weight_hh, bias_ih=None, bias_hh=None, dtype=None):
    """(W_x, W_h, b) for ``lstm_forward`` from ``torch.nn.LSTM`` weights.

    Both use the gate order i, f, g, o, so only a transpose is needed; the two
    biases add up (torch adds both to the same pre-activation).
    Example: ``lstm_params_from_torch(m.weight_ih_l0, m.weight_hh_l0, m.bias_ih_l0, m.bias_hh_l0)``.
    """
    W_x, W_h = _transposed(weight_ih, weight_hh, dtype)
    b = _bias(bias_ih, W_h.shape[1], W_h.dtype) + _bias(bias_hh, W_h.shape[1], W_h.dtype)
    return W_x, W_h, b


def rnn_params_from_torch(weight_ih, weight_hh, bias_ih=None, bias_hh=None, dtype=None):
    """(W_xh, W_hh, b_h) for ``rnn_forward`` from ``torch.nn.RNN`` (tanh) weights."""
    return lstm_params_from_torch(weight_ih, weight_hh, bias_ih, bias_hh, dtype=dtype)


def gru_params_from_torch(weight_ih, weight_hh, bias_ih=None, bias_hh=None, dtype=None):
    """(W_x, W_h, b_x, b_h) for ``gru_torch_forward`` from ``torch.nn.GRU`` weights.

    torch's blocks are r, z, n like the course's, but its GRU is a different
    function (reset after the matmul, z weights the old state), so the two biases
    stay separate. Feeding ``b_x + b_h`` to the course ``gru_forward`` runs the
    course GRU on the same weights; it does not reproduce torch's outputs.
    """
    W_x, W_h = _transposed(weight_ih, weight_hh, dtype)
    b_x = _bias(bias_ih, W_h.shape[1], W_h.dtype)
    b_h = _bias(bias_hh, W_h.shape[1], W_h.dtype)
    return W_x, W_h, b_x, b_h
