"""Benchmark rnncourse.nn's RNN, LSTM and GRU (forward + backward) against a per-gate
NumPy baseline (bench/naive.py) and, when importable, torch.nn on the CPU.

    python -m bench layers [--quick] [--rounds R] [--json PATH] [--plot PATH]

How it measures, and why:
- NumPy and torch are timed in separate blocks, never call by call, so the two
  thread pools do not compete. A run has R rounds, each a NumPy block then a
  torch block, so that both are sampled at R different times: on a shared
  machine the speed drifts by 20% or more within minutes, and a ratio of two
  numbers taken minutes apart would measure the drift.
- Within the NumPy block, ours and the per-gate baseline alternate call by call.
- Every time is reported as the best of all repeats (the machine's least
  disturbed run, as timeit recommends and as the GEMM peak is measured), with
  the ratio of medians beside it.
- "GEMM ms" replays exactly the matrix products one forward + backward of
  ours makes (same shapes, same memory layouts) and times them alone: the rest
  of ours is elementwise work and memory traffic. It is the floor for any
  arrangement of these products with NumPy's BLAS.
- GFLOP/s counts only the GEMM flops of forward + backward:
  6 * G * N * T * H * (D + H) with G = 1, 4, 3 gate blocks for rnn, lstm, gru.
"""

import argparse
import json
import os
import platform
import time

import numpy as np

from rnncourse import nn
from rnncourse.nn import _threads
from rnncourse.nn import gru as _gru
from rnncourse.nn import lstm as _lstm
from rnncourse.nn import rnn as _rnn

from . import naive

SHAPES = [(1, 100, 1, 32), (32, 50, 16, 64), (64, 100, 32, 128), (64, 100, 128, 256)]
CELLS = ["lstm", "gru", "rnn"]
DTYPES = ["float32", "float64"]
BLOCKS = {"rnn": 1, "lstm": 4, "gru": 3}
LAYER_MODULES = {"lstm": _lstm, "gru": _gru, "rnn": _rnn}


def blas_threads():
    """(threads NumPy's BLAS uses, how we know)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return 2, "assumed 2 (threadpoolctl not installed)"
    for pool in threadpool_info():
        if pool.get("user_api") == "blas":
            return int(pool["num_threads"]), f"threadpoolctl: {pool.get('internal_api')}"
    return 2, "assumed 2 (threadpoolctl found no BLAS)"


def load_average():
    try:
        return ", ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def gemm_flops(cell, N, T, D, H):
    return 6 * BLOCKS[cell] * N * T * H * (D + H)


def _timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def gemm_peak(dtype, n, repeats):
    """Best GFLOP/s of an (n, n) @ (n, n) matmul in NumPy."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    out = np.empty_like(a)
    np.matmul(a, b, out=out)
    best = min(_timed(lambda: np.matmul(a, b, out=out)) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def make_problem(cell, shape, dtype, seed=0):
    N, T, D, H = shape
    G = BLOCKS[cell]
    rng = np.random.default_rng(seed)
    scale_x, scale_h = 1 / np.sqrt(D), 1 / np.sqrt(H)
    x = rng.standard_normal((N, T, D)).astype(dtype)
    h0 = np.zeros((N, H), dtype=dtype)
    W_x = (rng.standard_normal((D, G * H)) * scale_x).astype(dtype)
    W_h = (rng.standard_normal((H, G * H)) * scale_h).astype(dtype)
    b = np.zeros(G * H, dtype=dtype)
    dh = rng.standard_normal((N, T, H)).astype(dtype)
    return (x, h0, W_x, W_h, b), dh


def fwd_bwd(cells, cell, args, dh):
    forward, backward = cells[cell]

    def run():
        _, cache = forward(*args)
        return backward(dh, cache)

    return run


def check_agreement(dtype):
    """Max relative difference between rnncourse.nn and the naive baseline (small shape)."""
    worst = 0.0
    for cell in CELLS:
        args, dh = make_problem(cell, (4, 7, 5, 6), dtype, seed=1)
        ours = fwd_bwd(nn.CELLS, cell, args, dh)()
        ref = fwd_bwd(naive.CELLS, cell, args, dh)()
        for a, b in zip(ours, ref):
            worst = max(worst, float(np.max(np.abs(a - b)) / (np.max(np.abs(b)) + 1e-30)))
    return worst


class _MatmulRecorder:
    """Stands in for ``numpy`` inside a layer module and records every np.matmul call."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        return getattr(np, name)

    def matmul(self, a, b, out=None):
        self.calls.append((a, b, out))
        return np.matmul(a, b, out=out)


def record_gemms(cell, args, dh):
    """The (a, b, out) of every np.matmul one forward + backward of ours makes."""
    module = LAYER_MODULES[cell]
    recorder = _MatmulRecorder()
    module.np = recorder
    try:
        fwd_bwd(nn.CELLS, cell, args, dh)()
    finally:
        module.np = np
    return recorder.calls


def replay(calls):
    """A function that repeats the recorded products (same operands, same layouts)."""

    def run():
        for a, b, out in calls:
            np.matmul(a, b, out=out)

    return run


class Samples:
    """All timings of one (cell, dtype, shape, implementation)."""

    def __init__(self):
        self.times = []

    def add(self, seconds):
        self.times.append(seconds)

    @property
    def best(self):
        return min(self.times) if self.times else None

    @property
    def median(self):
        return float(np.median(self.times)) if self.times else None


def numpy_block(configs, problems, samples, reps):
    """One NumPy block: per config, a warm-up, then ours and naive alternating."""
    for key in configs:
        cell, dtype, shape = key
        args, dh = problems[key]
        runs = {
            impl: fwd_bwd(cells, cell, args, dh)
            for impl, cells in (("ours", nn.CELLS), ("naive", naive.CELLS))
        }
        # Recorded afresh each round rather than kept: the operands of every
        # config at once would hold hundreds of MB of caches. Replayed on the
        # BLAS threads ours uses (one, for small layers), so that it stays ours' floor.
        gemms = replay(record_gemms(cell, args, dh))
        runs["gemm"] = _threads.one_thread_when_small(BLOCKS[cell], lambda shape=shape: shape)(gemms)
        for run in runs.values():
            run()
        for _ in range(reps[key]):
            for impl, run in runs.items():
                samples.setdefault(key + (impl,), Samples()).add(_timed(run))


def torch_runs(configs, threads):
    """Per config, a function running torch.nn forward + backward; or (None, why)."""
    try:
        import torch
    except ImportError:
        return None, "torch not importable"
    torch.set_num_threads(threads)
    modules = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}
    runs = {}
    for cell, dtype, shape in configs:
        N, T, D, H = shape
        tdtype = getattr(torch, dtype)
        torch.manual_seed(0)
        module = modules[cell](D, H, batch_first=True).to(tdtype)
        x = torch.randn(N, T, D, dtype=tdtype, requires_grad=True)
        h0 = torch.zeros(1, N, H, dtype=tdtype, requires_grad=True)
        if cell == "lstm":
            h0 = (h0, torch.zeros(1, N, H, dtype=tdtype, requires_grad=True))
        dh = torch.randn(N, T, H, dtype=tdtype)

        def run(module=module, x=x, h0=h0, dh=dh):
            out, _ = module(x, h0)
            out.backward(dh)
            module.zero_grad(set_to_none=True)
            x.grad = None

        runs[(cell, dtype, shape)] = run
    return runs, f"torch {torch.__version__}, {torch.get_num_threads()} threads"


def torch_block(runs, samples, reps):
    for key, run in runs.items():
        run()
        for _ in range(reps[key]):
            samples.setdefault(key + ("torch",), Samples()).add(_timed(run))


def step_gemm(shape, dtype, repeats=200):
    """Best time of one forward recurrent product (N, H) @ (H, 4H) in NumPy and in torch."""
    N, _, _, H = shape
    rng = np.random.default_rng(0)
    h = rng.standard_normal((N, H)).astype(dtype)
    W = rng.standard_normal((H, 4 * H)).astype(dtype)
    out = np.empty((N, 4 * H), dtype=dtype)
    result = {"numpy": min(_timed(lambda: np.matmul(h, W, out=out)) for _ in range(repeats))}
    try:
        import torch
    except ImportError:
        return result
    th, tW, tout = torch.from_numpy(h), torch.from_numpy(W), torch.from_numpy(out)
    for _ in range(10):
        torch.mm(th, tW, out=tout)
    result["torch"] = min(_timed(lambda: torch.mm(th, tW, out=tout)) for _ in range(repeats))
    return result


def target_report(rows, largest):
    """Lines saying which of the speed targets the measured rows meet (best-of, medians beside)."""

    def verdict(ok):
        return "met" if ok else "NOT met"

    def find(cell, dtype, shape):
        for row in rows:
            if (row["cell"], row["dtype"], tuple(row["shape"].values())) == (cell, dtype, shape):
                return row
        return None

    lines = [
        f"Targets (largest shape here: {largest}; best-of times, ratio of medians in brackets):"
    ]
    lstm = find("lstm", "float32", largest)
    if lstm and lstm["ours_over_torch"] is not None:
        ratio = lstm["ours_over_torch"]
        lines.append(
            f"- float32 LSTM within 1.25x of torch: {ratio:.2f}x "
            f"({lstm['ours_over_torch_median']:.2f}x), {verdict(ratio <= 1.25)}"
        )
    if lstm:
        frac = lstm["fraction_of_peak"]
        lines.append(
            f"- float32 LSTM at >= 50% of GEMM peak: {100 * frac:.0f}% "
            f"({100 * lstm['fraction_of_peak_median']:.0f}%), {verdict(frac >= 0.5)}"
        )
    slower = [
        f"{r['cell']} {r['dtype']} {tuple(r['shape'].values())} ({r['ours_over_torch']:.2f}x)"
        for r in rows
        if r["cell"] in ("gru", "rnn")
        and r["ours_over_torch"] is not None
        and r["ours_over_torch"] > 1
    ]
    if any(r["ours_over_torch"] is not None for r in rows):
        detail = "slower at " + ", ".join(slower) if slower else "never slower"
        lines.append(f"- GRU and RNN no slower than torch: {detail}, {verdict(not slower)}")
    for r in rows:
        if tuple(r["shape"].values()) == largest:
            speedup = 1 / r["ours_over_naive"]
            bound = r["naive_s"] / r["gemm_s"]
            lines.append(
                f"- {r['cell']} {r['dtype']} >= 1.8x faster than per-gate NumPy: "
                f"{speedup:.2f}x ({1 / r['ours_over_naive_median']:.2f}x), {verdict(speedup >= 1.8)}; "
                f"its GEMMs alone would be {bound:.2f}x"
            )
    return lines


def plot_speedups(rows, path):
    """One panel per cell and dtype: how many times faster ours is than the per-gate version and
    than torch at each shape (above 1: ours is faster), with the bound its GEMMs alone would give."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, axes = plt.subplots(
        len(DTYPES), len(CELLS), figsize=(4.2 * len(CELLS), 3.4 * len(DTYPES)), squeeze=False
    )
    for i, dtype in enumerate(DTYPES):
        for j, cell in enumerate(CELLS):
            ax = axes[i][j]
            mine = [r for r in rows if r["cell"] == cell and r["dtype"] == dtype]
            x = np.arange(len(mine))
            naive_x = [r["naive_s"] / r["ours_s"] for r in mine]
            ax.bar(x - 0.2, naive_x, 0.4, label="per-gate NumPy / ours", color="tab:blue")
            ax.plot(
                x[-1:] - 0.2,
                [mine[-1]["naive_s"] / mine[-1]["gemm_s"]],
                "k_",
                markersize=14,
                mew=2,
                label="per-gate / ours' GEMMs alone: the most any NumPy layer could gain",
            )
            if any(r["torch_s"] for r in mine):
                ax.bar(
                    x + 0.2,
                    [r["torch_s"] / r["ours_s"] if r["torch_s"] else 0 for r in mine],
                    0.4,
                    label="torch / ours",
                    color="tab:orange",
                )
            ax.set_yscale("log", base=2)
            ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}x"))
            ax.axhline(1.0, color="grey", lw=1)
            ax.hlines(
                1.8,
                x[-1] - 0.45,
                x[-1] + 0.45,
                color="tab:blue",
                ls="--",
                lw=1.5,
                label="1.8x target over per-gate (largest shape)",
            )
            ax.set_xticks(
                x, ["N={N} T={T}\nD={D} H={H}".format(**r["shape"]) for r in mine], fontsize=8
            )
            ax.set_title(f"{cell} {dtype}")
            if j == 0:
                ax.set_ylabel("ours is this many times faster")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8, frameon=False)
    fig.suptitle("rnncourse.nn forward + backward: best-of time ratios (above 1: ours is faster)")
    fig.tight_layout(rect=(0, 0.08, 1, 0.97))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m bench layers", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--quick", action="store_true", help="two smallest shapes, few repeats (smoke test)"
    )
    parser.add_argument(
        "--rounds", type=int, default=None, help="NumPy/torch block pairs (default 5, quick 1)"
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument(
        "--plot",
        metavar="PATH",
        default=None,
        help="also draw the speed ratios as a PNG (default for a full run: build/bench/layers.png)",
    )
    args = parser.parse_args(argv)

    shapes = SHAPES[:2] if args.quick else SHAPES
    rounds = args.rounds or (1 if args.quick else 5)
    budget, lo, hi = (0.05, 2, 3) if args.quick else (1.2, 3, 30)
    threads, threads_source = blas_threads()
    configs = [(cell, dtype, shape) for cell in CELLS for dtype in DTYPES for shape in shapes]

    print("# rnncourse.nn layer benchmark: forward + backward")
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; numpy {np.__version__}"
    )
    print(
        f"NumPy BLAS threads: {threads} ({threads_source}); rnncourse.nn runs a layer whose largest product "
        f"has fewer than {_threads.SMALL:.0e} multiply-adds on one"
    )
    print(f"load average at start: {load_average()} (other processes distort timings)")
    n_peak = 1024 if args.quick else 2048
    peak_repeats = 2 if args.quick else 5
    peaks = {dt: gemm_peak(dt, n_peak, peak_repeats) for dt in DTYPES}
    print(
        "agreement with naive (max rel. diff): "
        + ", ".join(f"{dt} {check_agreement(dt):.1e}" for dt in DTYPES)
    )

    problems = {key: make_problem(key[0], key[2], key[1]) for key in configs}
    # Repeats per round: about `budget` seconds per config and implementation in all.
    reps = {}
    for key in configs:
        once = _timed(fwd_bwd(nn.CELLS, key[0], *problems[key]))
        reps[key] = int(np.clip(budget / rounds / max(once, 1e-6), lo, hi))
    runs, torch_note = torch_runs(configs, threads)
    samples = {}
    step_times = {}
    for r in range(rounds):
        print(f"round {r + 1}/{rounds}: NumPy block ...", flush=True)
        # The peak is measured in every NumPy block too and the best kept: one
        # disturbed measurement would otherwise inflate every "% GEMM peak".
        for dt in DTYPES:
            peaks[dt] = max(peaks[dt], gemm_peak(dt, n_peak, peak_repeats))
        numpy_block(configs, problems, samples, reps)
        if runs:
            print(f"round {r + 1}/{rounds}: torch block ...", flush=True)
            torch_block(runs, samples, reps)
    for dt in DTYPES:
        step_times[dt] = step_gemm(shapes[-1], dt)
    print(f"PyTorch: {torch_note}")
    print(f"load average at end: {load_average()}")
    print(
        f"NumPy GEMM peak ({n_peak}x{n_peak} matmul, best over all rounds): "
        + ", ".join(f"{dt} {peaks[dt]:.1f} GFLOP/s" for dt in DTYPES)
    )
    print()
    print(
        "Best-of times. ours/torch and ours/naive are time ratios (below 1: ours is faster), "
        "the ratio of medians in brackets. GEMM ms: ours' matrix products alone. "
        "GFLOP/s counts GEMM flops."
    )
    print(
        "| cell | dtype | N | T | D | H | ours ms | GEMM ms | naive ms | torch ms "
        "| ours/torch | ours/naive | GFLOP/s | % GEMM peak |"
    )
    print("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    rows = []
    for key in configs:
        cell, dtype, shape = key
        ours, naive_t, gemm = (samples[key + (impl,)] for impl in ("ours", "naive", "gemm"))
        torch_t = samples.get(key + ("torch",))
        gflops = gemm_flops(cell, *shape) / ours.best / 1e9
        row = {
            "cell": cell,
            "dtype": dtype,
            "shape": dict(zip("NTDH", shape)),
            "ours_s": ours.best,
            "ours_median_s": ours.median,
            "gemm_s": gemm.best,
            "naive_s": naive_t.best,
            "naive_median_s": naive_t.median,
            "torch_s": torch_t.best if torch_t else None,
            "torch_median_s": torch_t.median if torch_t else None,
            "ours_over_torch": ours.best / torch_t.best if torch_t else None,
            "ours_over_torch_median": ours.median / torch_t.median if torch_t else None,
            "ours_over_naive": ours.best / naive_t.best,
            "ours_over_naive_median": ours.median / naive_t.median,
            "gflops": gflops,
            "fraction_of_peak": gflops / peaks[dtype],
            "fraction_of_peak_median": gemm_flops(cell, *shape) / ours.median / 1e9 / peaks[dtype],
            "samples": len(ours.times),
        }
        rows.append(row)
        torch_cell = "-" if torch_t is None else f"{torch_t.best * 1e3:.2f}"
        ratio_torch = (
            "-"
            if torch_t is None
            else f"{row['ours_over_torch']:.2f} ({row['ours_over_torch_median']:.2f})"
        )
        print(
            f"| {cell} | {dtype} | {' | '.join(str(s) for s in shape)} "
            f"| {ours.best * 1e3:.2f} | {gemm.best * 1e3:.2f} | {naive_t.best * 1e3:.2f} | {torch_cell} "
            f"| {ratio_torch} | {row['ours_over_naive']:.2f} ({row['ours_over_naive_median']:.2f}) "
            f"| {gflops:.1f} | {100 * row['fraction_of_peak']:.0f}% |"
        )
    print()
    N, _, _, H = shapes[-1]
    for dt in DTYPES:
        st = step_times[dt]
        line = f"One recurrent product ({N}, {H}) @ ({H}, {4 * H}), {dt}: NumPy {st['numpy'] * 1e6:.0f} us"
        if "torch" in st:
            line += f", torch {st['torch'] * 1e6:.0f} us ({st['numpy'] / st['torch']:.2f}x)"
        print(line)
    print()
    if args.quick:
        print("Targets: not evaluated in a --quick run (they refer to the largest shape).")
    else:
        for line in target_report(rows, shapes[-1]):
            print(line)
    if args.json:
        summary = {
            "threads": threads,
            "threads_source": threads_source,
            "torch": torch_note,
            "rounds": rounds,
            "gemm_peak_gflops": peaks,
            "step_gemm_s": step_times,
            "quick": args.quick,
            "rows": rows,
        }
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=1)
    plot = args.plot or (None if args.quick else os.path.join("build", "bench", "layers.png"))
    if plot:
        plot_speedups(rows, plot)
        print(f"Plot of the ratios: {plot}")
    return 0
