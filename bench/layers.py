"""Benchmark rnncourse.nn's RNN, LSTM and GRU (forward + backward) against a per-gate
NumPy baseline (bench/naive.py) and, when importable, torch.nn on the CPU.

    python -m bench layers [--quick] [--json PATH]

NumPy timings all run first, then the torch ones (never interleaved, so the two
thread pools do not compete). Each time is the median of several repeats after
a warm-up. GFLOP/s counts only the GEMM flops of forward + backward:
6 * G * N * T * H * (D + H) with G = 1, 4, 3 gate blocks for rnn, lstm, gru.
"""

import argparse
import json
import os
import platform
import time

import numpy as np

from rnncourse import nn

from . import naive

SHAPES = [(1, 100, 1, 32), (32, 50, 16, 64), (64, 100, 32, 128), (64, 100, 128, 256)]
CELLS = ["lstm", "gru", "rnn"]
DTYPES = ["float32", "float64"]
BLOCKS = {"rnn": 1, "lstm": 4, "gru": 3}


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


def median_time(fn, repeats, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def repeats_for(fn, budget, lo, hi):
    """Warm up once and pick a repeat count that fits about ``budget`` seconds."""
    t0 = time.perf_counter()
    fn()
    once = time.perf_counter() - t0
    return int(np.clip(budget / max(once, 1e-6), lo, hi))


def gemm_peak(dtype, n, repeats):
    """Best GFLOP/s of an (n, n) @ (n, n) matmul in NumPy."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    out = np.empty_like(a)
    np.matmul(a, b, out=out)
    best = min(_timed(lambda: np.matmul(a, b, out=out)) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


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


def time_numpy(configs, budget, lo, hi):
    results = {}
    for cell, dtype, shape in configs:
        args, dh = make_problem(cell, shape, dtype)
        for impl, cells in (("ours", nn.CELLS), ("naive", naive.CELLS)):
            run = fwd_bwd(cells, cell, args, dh)
            reps = repeats_for(run, budget, lo, hi)
            results[(cell, dtype, shape, impl)] = median_time(run, reps, warmup=1)
    return results


def time_torch(configs, threads, budget, lo, hi):
    try:
        import torch
    except ImportError:
        return None, "torch not importable"
    torch.set_num_threads(threads)
    modules = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}
    results = {}
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

        reps = repeats_for(run, budget, lo, hi)
        results[(cell, dtype, shape, "torch")] = median_time(run, reps, warmup=1)
    return results, f"torch {torch.__version__}, {torch.get_num_threads()} threads"


def target_report(rows, largest):
    """Lines saying which of the speed targets the measured rows meet."""

    def verdict(ok):
        return "met" if ok else "NOT met"

    def find(cell, dtype, shape):
        for row in rows:
            if (row["cell"], row["dtype"], tuple(row["shape"].values())) == (cell, dtype, shape):
                return row
        return None

    lines = [f"Targets (largest shape here: {largest}):"]
    lstm = find("lstm", "float32", largest)
    if lstm and lstm["ours_over_torch"] is not None:
        ratio = lstm["ours_over_torch"]
        lines.append(
            f"- float32 LSTM within 1.25x of torch: {ratio:.2f}x, {verdict(ratio <= 1.25)}"
        )
    if lstm:
        frac = lstm["fraction_of_peak"]
        lines.append(
            f"- float32 LSTM at >= 50% of GEMM peak: {100 * frac:.0f}%, {verdict(frac >= 0.5)}"
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
            lines.append(
                f"- {r['cell']} {r['dtype']} >= 1.8x faster than per-gate NumPy: "
                f"{speedup:.2f}x, {verdict(speedup >= 1.8)}"
            )
    return lines


def fmt(value, spec):
    return "-" if value is None else format(value, spec)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m bench layers", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--quick", action="store_true", help="two smallest shapes, few repeats (smoke test)"
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)

    shapes = SHAPES[:2] if args.quick else SHAPES
    budget, lo, hi = (0.05, 2, 3) if args.quick else (1.0, 3, 30)
    threads, threads_source = blas_threads()
    configs = [(cell, dtype, shape) for cell in CELLS for dtype in DTYPES for shape in shapes]

    print("# rnncourse.nn layer benchmark: forward + backward, median time per call")
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; numpy {np.__version__}"
    )
    print(f"NumPy BLAS threads: {threads} ({threads_source})")
    print(f"load average at start: {load_average()} (other processes distort timings)")
    n_peak = 1024 if args.quick else 2048
    peaks = {dt: gemm_peak(dt, n_peak, 2 if args.quick else 5) for dt in DTYPES}
    print(
        f"NumPy GEMM peak ({n_peak}x{n_peak} matmul, best of repeats): "
        + ", ".join(f"{dt} {peaks[dt]:.1f} GFLOP/s" for dt in DTYPES)
    )
    print(
        "agreement with naive (max rel. diff): "
        + ", ".join(f"{dt} {check_agreement(dt):.1e}" for dt in DTYPES)
    )

    results = time_numpy(configs, budget, lo, hi)
    torch_results, torch_note = time_torch(configs, threads, budget, lo, hi)
    print(f"PyTorch: {torch_note}")
    if torch_results:
        results.update(torch_results)

    print(f"load average at end: {load_average()}")
    print()
    print(
        "ours/torch and ours/naive are time ratios (below 1: ours is faster); GFLOP/s counts GEMM flops."
    )
    print(
        "| cell | dtype | N | T | D | H | ours ms | naive ms | torch ms | ours/torch | ours/naive | GFLOP/s | % GEMM peak |"
    )
    print("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    rows = []
    for cell, dtype, shape in configs:
        ours = results[(cell, dtype, shape, "ours")]
        naive_t = results[(cell, dtype, shape, "naive")]
        torch_t = results.get((cell, dtype, shape, "torch"))
        gflops = gemm_flops(cell, *shape) / ours / 1e9
        row = {
            "cell": cell,
            "dtype": dtype,
            "shape": dict(zip("NTDH", shape)),
            "ours_s": ours,
            "naive_s": naive_t,
            "torch_s": torch_t,
            "ours_over_torch": None if torch_t is None else ours / torch_t,
            "ours_over_naive": ours / naive_t,
            "gflops": gflops,
            "fraction_of_peak": gflops / peaks[dtype],
        }
        rows.append(row)
        print(
            f"| {cell} | {dtype} | {' | '.join(str(s) for s in shape)} "
            f"| {ours * 1e3:.2f} | {naive_t * 1e3:.2f} | {fmt(None if torch_t is None else torch_t * 1e3, '.2f')} "
            f"| {fmt(row['ours_over_torch'], '.2f')} | {row['ours_over_naive']:.2f} "
            f"| {gflops:.1f} | {100 * row['fraction_of_peak']:.0f}% |"
        )
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
            "gemm_peak_gflops": peaks,
            "quick": args.quick,
            "rows": rows,
        }
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=1)
    return 0
