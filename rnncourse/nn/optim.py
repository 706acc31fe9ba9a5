"""Optimizers that update parameter dicts in place, and global-norm gradient clipping."""

import math

import numpy as np


def clip_grad_norm(grads, max_norm):
    """Scale all gradients in place so that their global L2 norm is at most max_norm.

    Inputs: grads, a dict name -> array; max_norm > 0.
    Returns the global norm before clipping (a Python float), as torch does.

    The norm is summed in float64, so float32 gradients near 1e20 are clipped, not
    zeroed by an overflow. A NaN or infinite norm raises FloatingPointError and
    leaves the gradients as they are: an optimizer step would write NaN into every
    parameter (lower the learning rate, or look for a log(0) or an overflow).
    """
    _check_dict("clip_grad_norm", "grads", grads)
    if not max_norm > 0:
        raise ValueError(f"clip_grad_norm: max_norm must be > 0, got {max_norm}")
    total = math.sqrt(sum(float(np.vdot(g, g)) for g in map(_float64, grads.values())))
    if not math.isfinite(total):
        bad = [name for name, g in grads.items() if not np.all(np.isfinite(g))]
        raise FloatingPointError(
            f"clip_grad_norm: the gradients' norm is {total}; NaN or inf in {', '.join(map(str, bad)) or '?'}"
        )
    if total > max_norm:
        scale = max_norm / (total + 1e-6)
        for g in grads.values():
            g *= scale
    return total


def _float64(g):
    g = np.asarray(g)
    return g.astype(np.float64) if g.dtype != np.float64 else g


def _check_dict(who, what, value):
    if not isinstance(value, dict):
        raise TypeError(
            f"{who}: {what} must be a dict name -> array (e.g. {{'W_x': W_x, 'W_h': W_h, 'b': b}}), "
            f"got {type(value).__name__}; put the arrays of nested lists or tuples (a stack's params) "
            "into one dict under names of their own"
        )


def _check_pairs(who, params, grads, state):
    """Every parameter has a gradient of its shape and finite values, no gradient is left over,
    and a name the optimizer has state for still names the same array (two dicts sharing a name,
    such as an encoder's and a decoder's "W", would otherwise share one Adam state). Nothing is
    updated when a check fails."""
    _check_dict(f"{who}.step", "params", params)
    _check_dict(f"{who}.step", "grads", grads)
    missing = [k for k in params if k not in grads]
    extra = [k for k in grads if k not in params]
    if missing or extra:
        raise KeyError(
            f"{who}.step: params and grads have different keys (no gradient for {missing}, "
            f"no parameter for {extra})"
        )
    for name, param in params.items():
        if np.shape(grads[name]) != np.shape(param):
            raise ValueError(
                f"{who}.step: grads[{name!r}] has shape {np.shape(grads[name])}, "
                f"params[{name!r}] {np.shape(param)}"
            )
        if not np.all(np.isfinite(grads[name])):
            raise FloatingPointError(
                f"{who}.step: grads[{name!r}] has NaN or inf entries; no parameter was updated (an "
                "update would write them into the weights: lower the learning rate, clip the gradients, "
                "or look for a log(0) or an overflow)"
            )
        owner = state.get(name)
        if owner is not None and owner is not param:
            raise ValueError(
                f"{who}.step: {name!r} now names another array than in the earlier steps; one optimizer "
                "keeps one state per name, so give every parameter of the model its own name (e.g. "
                "'enc_W' and 'dec_W'), or use one optimizer per dict"
            )
        state[name] = param


class SGD:
    """Stochastic gradient descent, optionally with (heavy-ball) momentum.

    v = momentum * v + grad;  param -= learning_rate * v
    """

    def __init__(self, learning_rate=1e-2, momentum=0.0):
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.velocity = {}
        self.params = {}  # name -> the array it names (see _check_pairs)

    def step(self, params, grads):
        """Update every array in ``params`` in place using ``grads`` (same keys, same shapes)."""
        _check_pairs("SGD", params, grads, self.params)
        for name, param in params.items():
            grad = grads[name]
            if self.momentum:
                v = self.velocity.get(name)
                if v is None:
                    v = self.velocity[name] = np.zeros_like(param)
                v *= self.momentum
                v += grad
                grad = v
            param -= self.learning_rate * grad


class Adam:
    """Adam (Kingma & Ba, 2015) with bias correction.

    m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
    param -= learning_rate * m_hat / (sqrt(v_hat) + eps)
    """

    def __init__(self, learning_rate=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        self.learning_rate = learning_rate
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.t = 0
        self.m = {}
        self.v = {}
        self.params = {}  # name -> the array it names (see _check_pairs)

    def step(self, params, grads):
        """Update every array in ``params`` in place using ``grads`` (same keys, same shapes).

        One call is one step: update all parameters of a model in one call (merge an
        encoder's and a decoder's dicts), since every call advances the step count t.
        """
        _check_pairs("Adam", params, grads, self.params)
        self.t += 1
        step_size = (
            self.learning_rate * math.sqrt(1 - self.beta2**self.t) / (1 - self.beta1**self.t)
        )
        eps_hat = self.eps * math.sqrt(1 - self.beta2**self.t)
        for name, param in params.items():
            grad = grads[name]
            if name not in self.m:
                self.m[name] = np.zeros_like(param)
                self.v[name] = np.zeros_like(param)
            m, v = self.m[name], self.v[name]
            m *= self.beta1
            m += (1 - self.beta1) * grad
            v *= self.beta2
            v += (1 - self.beta2) * np.square(grad)
            # m_hat / (sqrt(v_hat) + eps) == m * c / (sqrt(v) + eps * sqrt(1 - beta2^t))
            param -= step_size * m / (np.sqrt(v) + eps_hat)
