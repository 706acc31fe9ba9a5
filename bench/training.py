"""One training step of lesson 07's character language model, end to end, against PyTorch.

    python -m bench training [--quick] [--rounds R] [--json PATH]

The step is what the lesson's long run repeats: embedding -> LSTM (state carried in from the
previous chunk) -> linear -> softmax cross-entropy, the backward pass through all of it, global-norm
clipping and an Adam update, in float32 at the long run's sizes (V = 74, D = 64, H = 256, N = 32,
T = 100). PyTorch, when it is installed, runs the same model (nn.Embedding, nn.LSTM, nn.Linear,
F.cross_entropy, clip_grad_norm_, torch.optim.Adam) on the CPU with the same number of threads as
NumPy's BLAS.

How it measures (as bench/layers.py does, for the same reasons): NumPy and torch steps are timed
in separate blocks, alternating over R rounds, so that both are sampled at the same R times of a
shared machine whose speed drifts; every time is the best of all repeats, with the ratio of medians
beside it. The threads are NumPy's: set OPENBLAS_NUM_THREADS (the lesson sets 1) before running.
The table also splits one step of ours into its parts, to show where the time goes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

from rnncourse import nn

from .layers import Samples, blas_threads, load_average

LONG_RUN = {"V": 74, "D": 64, "H": 256, "N": 32, "T": 100}  # solutions/07_language_model, the long run
QUICK = {"V": 20, "D": 8, "H": 16, "N": 4, "T": 10}
LEARNING_RATE, MAX_NORM = 0.02, 5.0


def numpy_threads() -> tuple[int, str]:
    """(threads NumPy's BLAS uses, how we know): the environment variable when it is set."""
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        value = os.environ.get(var, "")
        if value.isdigit() and int(value) > 0:
            return int(value), f"{var}={value}"
    return blas_threads()


def make_batch(sizes: dict, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Ids x and targets y, (N, T) each, drawn at random (the speed does not depend on the text)."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, sizes["V"], size=(sizes["N"], sizes["T"] + 1))
    return ids[:, :-1].copy(), ids[:, 1:].copy()


class NumpyModel:
    """The lesson's model with rnncourse.nn, as its training cell runs it (float32)."""

    def __init__(self, sizes: dict, seed: int = 0):
        V, D, H, N = sizes["V"], sizes["D"], sizes["H"], sizes["N"]
        rng = np.random.default_rng(seed)
        self.params = {
            "W_emb": rng.normal(0.0, 1.0, (V, D)),
            "W_x": rng.normal(0.0, 1 / np.sqrt(D), (D, 4 * H)),
            "W_h": rng.normal(0.0, 1 / np.sqrt(H), (H, 4 * H)),
            "b": np.zeros(4 * H),
            "W_y": rng.normal(0.0, 1 / np.sqrt(H), (H, V)),
            "b_y": np.zeros(V),
        }
        self.params = {k: v.astype(np.float32) for k, v in self.params.items()}
        self.params["b"][H : 2 * H] = 1.0
        self.optimizer = nn.Adam(learning_rate=LEARNING_RATE)
        self.state = (np.zeros((N, H), np.float32), np.zeros((N, H), np.float32))
        self.parts: dict[str, float] = {}

    def _timed(self, part: str, fn, *args, **kwargs):
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        self.parts[part] = self.parts.get(part, 0.0) + time.perf_counter() - start
        return out

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        p, t = self.params, self._timed
        emb, emb_cache = t("embedding", nn.embedding_forward, x, p["W_emb"])
        h, c_last, lstm_cache = t(
            "LSTM forward", nn.lstm_forward, emb, self.state[0], p["W_x"], p["W_h"], p["b"], c0=self.state[1], return_state=True
        )
        self.state = (h[:, -1].copy(), c_last)
        scores, out_cache = t("linear + loss", nn.linear_forward, h, p["W_y"], p["b_y"])
        loss, dscores = t("linear + loss", nn.softmax_cross_entropy, scores, y)
        dh, dW_y, db_y = t("linear + loss", nn.linear_backward, dscores, out_cache)
        demb, _, dW_x, dW_h, db = t("LSTM backward", nn.lstm_backward, dh, lstm_cache)
        dW_emb = t("embedding", nn.embedding_backward, demb, emb_cache)
        grads = {"W_emb": dW_emb, "W_x": dW_x, "W_h": dW_h, "b": db, "W_y": dW_y, "b_y": db_y}
        t("clip + Adam", nn.clip_grad_norm, grads, MAX_NORM)
        t("clip + Adam", self.optimizer.step, p, grads)
        return loss


def torch_step(sizes: dict, threads: int):
    """A function running one training step of the same model in torch, or (None, why)."""
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return None, "torch not importable"
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    V, D, H, N = sizes["V"], sizes["D"], sizes["H"], sizes["N"]
    embedding = torch.nn.Embedding(V, D)
    lstm = torch.nn.LSTM(D, H, batch_first=True)
    linear = torch.nn.Linear(H, V)
    params = [*embedding.parameters(), *lstm.parameters(), *linear.parameters()]
    optimizer = torch.optim.Adam(params, lr=LEARNING_RATE)
    state = [torch.zeros(1, N, H), torch.zeros(1, N, H)]

    def step(x: torch.Tensor, y: torch.Tensor) -> float:
        optimizer.zero_grad(set_to_none=True)
        h, (h_last, c_last) = lstm(embedding(x), (state[0], state[1]))
        loss = F.cross_entropy(linear(h).reshape(-1, V), y.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, MAX_NORM)
        optimizer.step()
        state[0], state[1] = h_last.detach(), c_last.detach()  # carried, as in truncated BPTT
        return loss.item()

    return step, f"torch {torch.__version__}, {torch.get_num_threads()} threads"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench training", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, few repeats (smoke test)")
    parser.add_argument("--rounds", type=int, default=None, help="NumPy/torch block pairs (default 5, quick 1)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)

    sizes = QUICK if args.quick else LONG_RUN
    rounds = args.rounds or (1 if args.quick else 5)
    reps = 2 if args.quick else 6
    threads, threads_source = numpy_threads()
    print("# One training step of lesson 07's character LSTM: embedding, LSTM, linear, cross-entropy, backward, clip, Adam")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; numpy {np.__version__}")
    print(f"NumPy BLAS threads: {threads} ({threads_source}); float32; sizes " + ", ".join(f"{k} = {v}" for k, v in sizes.items()))
    print(f"load average at start: {load_average()} (other processes distort timings)")

    x, y = make_batch(sizes)
    ours = NumpyModel(sizes)
    step_torch, torch_note = torch_step(sizes, threads)
    if step_torch is not None:
        import torch

        tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    samples = {"ours": Samples(), "torch": Samples()}
    ours.step(x, y)  # warm-up: first-touch of every buffer
    if step_torch is not None:
        step_torch(tx, ty)
    ours.parts.clear()
    for r in range(rounds):
        print(f"round {r + 1}/{rounds}: NumPy block ...", flush=True)
        for _ in range(reps):
            start = time.perf_counter()
            ours.step(x, y)
            samples["ours"].add(time.perf_counter() - start)
        if step_torch is not None:
            print(f"round {r + 1}/{rounds}: torch block ...", flush=True)
            for _ in range(reps):
                start = time.perf_counter()
                step_torch(tx, ty)
                samples["torch"].add(time.perf_counter() - start)
    print(f"PyTorch: {torch_note}")
    print(f"load average at end: {load_average()}")
    print()
    ours_s, torch_s = samples["ours"], samples["torch"]
    has_torch = bool(torch_s.times)
    ratio = ours_s.best / torch_s.best if has_torch else None
    ratio_median = ours_s.median / torch_s.median if has_torch else None
    print("Best-of times over all rounds, the ratio of medians in brackets (below 1: ours is faster).")
    print("| step | N | T | V | D | H | ours ms | torch ms | ours/torch | steps timed |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    torch_cell = f"{torch_s.best * 1e3:.1f}" if has_torch else "-"
    ratio_cell = f"{ratio:.2f} ({ratio_median:.2f})" if has_torch else "-"
    print(
        f"| embedding → LSTM → linear → cross-entropy, backward, clip, Adam | {sizes['N']} | {sizes['T']} | "
        f"{sizes['V']} | {sizes['D']} | {sizes['H']} | {ours_s.best * 1e3:.1f} | {torch_cell} | {ratio_cell} | "
        f"{len(ours_s.times)} |"
    )
    total = sum(ours.parts.values())
    print()
    print("Where one step of ours goes (share of the time of all timed steps):")
    for part, seconds in sorted(ours.parts.items(), key=lambda kv: -kv[1]):
        print(f"- {part}: {100 * seconds / total:.0f}%")
    print()
    if args.quick:
        print("Target: not evaluated in a --quick run (it refers to the long run's sizes).")
    elif has_torch:
        verdict = "met" if ratio <= 1.25 else "NOT met"
        print(f"Target: a step within 1.25x of torch's: {ratio:.2f}x ({ratio_median:.2f}x), {verdict}")
    if args.json:
        summary = {
            "sizes": sizes,
            "threads": threads,
            "threads_source": threads_source,
            "torch": torch_note,
            "rounds": rounds,
            "ours_s": ours_s.best,
            "ours_median_s": ours_s.median,
            "torch_s": torch_s.best if has_torch else None,
            "torch_median_s": torch_s.median if has_torch else None,
            "ours_over_torch": ratio,
            "ours_over_torch_median": ratio_median,
            "parts": {k: v / total for k, v in ours.parts.items()},
            "quick": args.quick,
        }
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=1)
    return 0
