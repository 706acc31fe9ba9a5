"""Optimizers that update parameter dicts in place, and global-norm gradient clipping."""

import math

import numpy as np


def clip_grad_norm(grads, max_norm):
    """Scale all gradients in place so that their global L2 norm is at most max_norm.

    Inputs: grads, a dict name -> array; max_norm > 0.
    Returns the global norm before clipping (a Python float), as torch does.
    """
    total = math.sqrt(sum(float(np.vdot(g, g)) for g in grads.values()))
    if total > max_norm:
        scale = max_norm / (total + 1e-6)
        for g in grads.values():
            g *= scale
    return total


class SGD:
    """Stochastic gradient descent, optionally with (heavy-ball) momentum.

    v = momentum * v + grad;  param -= learning_rate * v
    """

    def __init__(self, learning_rate=1e-2, momentum=0.0):
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.velocity = {}

    def step(self, params, grads):
        """Update every array in ``params`` in place using ``grads`` (same keys)."""
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

    def step(self, params, grads):
        """Update every array in ``params`` in place using ``grads`` (same keys)."""
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
