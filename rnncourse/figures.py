"""Diagrams of the course's recurrent cells and networks, drawn with matplotlib.

One function per picture; each returns the matplotlib Figure (show it with
``plt.show()`` in a notebook, or save it). Labels use the course notation
(NOTATION.md): row vectors, ``x_t W_xh``, fused gate blocks in the order
i, f, g, o (LSTM) and r, z, n (GRU), batch-first code indices ``x[:, t]``.

    rnn_cell()            the vanilla cell and its feedback loop
    rnn_unrolled()        the same cell unrolled over time, indexed like the code
    lstm_cell()           gates, the cell-state path, where each equation lives
    gru_cell(paths=False) reset and update gates; paths=True colours the three
                          ways h_{t-1} reaches h_t (lesson 04's backward pass)
    stacked_rnn()         L layers over T steps
    bidirectional_rnn()   a forward and a reverse direction, concatenated
    residual_stack()      one step of a stack with skip connections

The drawing helpers work in data units on an equal-aspect canvas without axes.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

# Colours: one per role, the same in every figure.
INPUT = "#dbe9f6"  # inputs and the layer's box
GATE = "#fde2c4"  # sigmoid gates
CAND = "#d9f0d3"  # tanh candidates / activations
STATE = "#c0392b"  # the path a state takes from step to step (cell state, GRU's direct path)
EDGE = "#34495e"
TEXT = "#1b2631"
FONT = 11


def _canvas(width: float, height: float, figsize: tuple[float, float]):
    fig, ax = plt.subplots(figsize=figsize)
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig, ax


def _box(ax, cx, cy, w, h, text="", fc=INPUT, fontsize=FONT, ec=EDGE, lw=1.3, zorder=2, **kw):
    ax.add_patch(
        FancyBboxPatch(
            (cx - w / 2, cy - h / 2),
            w,
            h,
            boxstyle="round,pad=0.02,rounding_size=0.12",
            fc=fc,
            ec=ec,
            lw=lw,
            zorder=zorder,
        )
    )
    if text:
        ax.text(
            cx, cy, text, ha="center", va="center", fontsize=fontsize, color=TEXT, zorder=4, **kw
        )


def _op(ax, cx, cy, text, r=0.27, fc="white", ec=EDGE, fontsize=FONT + 1):
    """A small round node: an elementwise operation (⊙, +, tanh)."""
    ax.add_patch(Circle((cx, cy), r, fc=fc, ec=ec, lw=1.3, zorder=3))
    ax.text(cx, cy, text, ha="center", va="center", fontsize=fontsize, color=TEXT, zorder=4)


def _arrow(ax, start, end, color=EDGE, lw=1.4, head=True, rad=0.0, style="-", zorder=1, shrink=0.0):
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle="-|>" if head else "-",
            mutation_scale=12,
            color=color,
            lw=lw,
            linestyle=style,
            connectionstyle=f"arc3,rad={rad}",
            shrinkA=shrink,
            shrinkB=shrink,
            zorder=zorder,
        )
    )


def _path(ax, points, color=EDGE, lw=1.4, head=True, style="-", zorder=1, halo=None):
    """A polyline through ``points``, with an arrow head on its last segment. ``halo`` (a colour,
    the background's) draws a wide band of it underneath, so that the path reads as passing over
    the lines it crosses; its ends are trimmed so that it leaves the boxes it joins alone."""
    if halo is not None:
        pts = [list(p) for p in points]
        for end, nxt in ((0, 1), (-1, -2)):
            dx, dy = pts[nxt][0] - pts[end][0], pts[nxt][1] - pts[end][1]
            length = (dx * dx + dy * dy) ** 0.5 or 1.0
            trim = min(0.25, length / 3)
            pts[end] = [pts[end][0] + dx / length * trim, pts[end][1] + dy / length * trim]
        hx, hy = zip(*pts)
        ax.plot(hx, hy, color=halo, lw=lw + 5, zorder=zorder - 0.5, solid_capstyle="butt")
    xs, ys = zip(*points[:-1])
    ax.plot(
        xs,
        ys,
        color=color,
        lw=lw,
        linestyle=style,
        zorder=zorder,
        solid_capstyle="butt",
        solid_joinstyle="miter",
    )
    _arrow(ax, points[-2], points[-1], color=color, lw=lw, head=head, style=style, zorder=zorder)


def _text(ax, x, y, text, ha="center", va="center", fontsize=FONT, color=TEXT, **kw):
    ax.text(x, y, text, ha=ha, va=va, fontsize=fontsize, color=color, zorder=5, **kw)


# --------------------------------------------------------------------------
# Vanilla RNN
# --------------------------------------------------------------------------


def rnn_cell():
    """The vanilla (Elman) cell: x_t in, h_t out, and h_t fed back as the next step's h_{t-1}."""
    fig, ax = _canvas(10, 4.2, (8.5, 3.6))
    cx, cy, w, h = 4.9, 1.45, 3.6, 1.5
    _box(ax, cx, cy, w, h, "$\\tanh(\\,x_t W_{xh} + h_{t-1} W_{hh} + b_h\\,)$", fontsize=FONT)
    # input from the left, output to the top
    _arrow(ax, (0.6, cy - 0.35), (cx - w / 2, cy - 0.35))
    _text(ax, 0.6, cy - 0.7, "$x_t$  (N, D)", ha="left")
    _arrow(ax, (cx, cy + h / 2), (cx, 3.65))
    _text(ax, cx, 3.95, "$h_t$  (N, H): to the output layer, or the layer above")
    # the feedback loop: branches off the output, back into the left side
    loop_y = 2.85
    _path(
        ax,
        [(cx, loop_y), (2.3, loop_y), (2.3, cy + 0.35), (cx - w / 2, cy + 0.35)],
        color=STATE,
        lw=2,
    )
    ax.plot([cx], [loop_y], "o", color=STATE, markersize=5, zorder=3)
    _text(ax, 2.2, loop_y + 0.3, "$h_t$ is the next step's $h_{t-1}$", ha="right", color=STATE)
    _text(ax, 2.15, cy + 0.6, "$h_{t-1}$  (N, H)", ha="right", color=STATE)
    _text(ax, 8.6, cy, "the same $W_{xh}$, $W_{hh}$, $b_h$\nat every step", fontsize=FONT - 1)
    ax.set_title(
        "The RNN cell: one function, applied at every step, with a feedback loop", fontsize=FONT + 1
    )
    fig.tight_layout()
    return fig


def rnn_unrolled(steps: int = 4):
    """The cell unrolled over time, indexed like the code: x[:, t] in, h[:, t] out, h0 before step 0."""
    if steps < 3:
        raise ValueError("draw at least 3 steps (the first two, an ellipsis and the last)")
    labels = [str(t) for t in range(steps - 2)] + ["…", "T-1"]
    gap = 2.4
    fig, ax = _canvas(1.9 + gap * steps, 5.0, (10, 4.2))
    xs = [1.9 + gap * k + gap / 2 for k in range(steps)]
    _text(ax, 0.55, 2.5, "h0\n(N, H)", color=STATE)
    prev = 1.05
    for x, t in zip(xs, labels):
        if t == "…":
            _text(ax, x, 2.5, "…", fontsize=FONT + 6)
            _arrow(ax, (prev, 2.5), (x - 0.45, 2.5), color=STATE, lw=2)
            prev = x + 0.45
            continue
        _box(ax, x, 2.5, 1.5, 1.0, "cell\n(tanh)", fontsize=FONT - 1)
        _arrow(ax, (prev, 2.5), (x - 0.75, 2.5), color=STATE, lw=2)
        prev = x + 0.75
        _arrow(ax, (x, 0.75), (x, 2.0))
        _text(ax, x, 0.45, f"x[:, {t}]")
        _arrow(ax, (x, 3.0), (x, 4.15))
        _text(ax, x, 4.45, f"h[:, {t}]")
    ax.set_title(
        "Unrolled over T steps: one copy of the cell per step, all sharing W_xh, W_hh, b_h\n"
        "h[:, t] is the state after reading x[:, t] (in the equations: $h_t$; h0 is $h_{-1}$)",
        fontsize=FONT,
    )
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------
# LSTM
# --------------------------------------------------------------------------


def lstm_cell():
    """The LSTM step: the fused pre-activation, the four blocks i, f, g, o, the cell-state path
    (the constant error carousel) along the top and the output h_t, each equation where it lives."""
    fig, ax = _canvas(13.0, 8.0, (10.5, 6.5))
    _box(ax, 6.3, 3.9, 10.0, 6.2, fc="#f7f9fb", lw=1.0, zorder=0)  # the cell
    top, gates_y, a_y, bottom = 6.25, 3.95, 2.3, 1.1
    # cell-state path
    f_x, plus_x = 3.3, 6.6
    _text(ax, 0.55, top, "$c_{t-1}$", color=STATE, fontsize=FONT + 1)
    _arrow(ax, (0.9, top), (f_x - 0.27, top), color=STATE, lw=2.5)
    _op(ax, f_x, top, "$\\odot$", ec=STATE)
    _arrow(ax, (f_x + 0.27, top), (plus_x - 0.27, top), color=STATE, lw=2.5)
    _op(ax, plus_x, top, "+", ec=STATE)
    _arrow(ax, (plus_x + 0.27, top), (12.3, top), color=STATE, lw=2.5)
    _text(ax, 12.55, top, "$c_t$", color=STATE, fontsize=FONT + 1)
    _text(
        ax,
        4.9,
        7.45,
        "cell state: $c_t = f \\odot c_{t-1} + i \\odot g$\n"
        "(only $\\odot$ and +: the constant error carousel)",
        color=STATE,
    )
    # the fused pre-activation
    _box(
        ax,
        5.85,
        a_y,
        7.5,
        0.8,
        "$a = x_t W_x + h_{t-1} W_h + b$   (N, 4H), column blocks i | f | g | o",
        fontsize=FONT - 0.5,
    )
    _text(ax, 0.55, bottom, "$h_{t-1}$", fontsize=FONT + 1)
    _path(ax, [(0.95, bottom), (2.6, bottom), (2.6, a_y - 0.4)])
    _arrow(ax, (4.3, 0.25), (4.3, a_y - 0.4))
    _text(ax, 4.75, 0.35, "$x_t$", fontsize=FONT + 1)
    # the four blocks, placed where they act
    blocks = [  # (x, name, activation, columns, colour)
        (f_x, "f", "$\\sigma$", "H:2H", GATE),
        (5.55, "i", "$\\sigma$", "0:H", GATE),
        (7.65, "g", "tanh", "2H:3H", CAND),
        (9.05, "o", "$\\sigma$", "3H:4H", GATE),
    ]
    for x, name, act, cols, fc in blocks:
        _box(ax, x, gates_y, 1.2, 0.95, "", fc=fc)
        _text(ax, x, gates_y + 0.16, f"{name} = {act}", fontsize=FONT)
        _text(ax, x, gates_y - 0.24, f"a[:, {cols}]", fontsize=FONT - 2.5)
        _arrow(ax, (x, a_y + 0.4), (x, gates_y - 0.475))
    _arrow(ax, (f_x, gates_y + 0.475), (f_x, top - 0.27))
    # i * g joins the cell
    ig_x, ig_y = plus_x, 5.1
    _op(ax, ig_x, ig_y, "$\\odot$")
    _path(ax, [(5.55, gates_y + 0.475), (5.55, ig_y), (ig_x - 0.27, ig_y)])
    _path(ax, [(7.65, gates_y + 0.475), (7.65, ig_y), (ig_x + 0.27, ig_y)])
    _arrow(ax, (ig_x, ig_y + 0.27), (ig_x, top - 0.27))
    # output: tanh(c_t), gated by o
    tc_x, tc_y, h_y = 10.6, 5.1, 3.95
    _path(ax, [(tc_x, top), (tc_x, tc_y + 0.36)], color=STATE, lw=1.6)
    _op(ax, tc_x, tc_y, "tanh", r=0.36, fc=CAND, fontsize=FONT - 2)
    _op(ax, tc_x, h_y, "$\\odot$")
    _arrow(ax, (tc_x, tc_y - 0.36), (tc_x, h_y + 0.27))
    _arrow(ax, (9.05 + 0.6, h_y), (tc_x - 0.27, h_y))
    _path(ax, [(tc_x + 0.27, h_y), (12.3, h_y)], lw=2)
    _text(ax, 12.55, h_y, "$h_t$", fontsize=FONT + 1)
    _text(ax, 11.3, 2.75, "$h_t = o \\odot \\tanh(c_t)$", fontsize=FONT)
    ax.set_title("The LSTM step: one matmul, four blocks, two states", fontsize=FONT + 1)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------
# GRU
# --------------------------------------------------------------------------


def gru_cell(paths: bool = False):
    """The GRU step (course convention: reset before the recurrent matmul, z weights the candidate),
    every intermediate value named. ``paths=True`` colours the three ways h_{t-1} reaches h_t,
    whose gradients dh_prev sums."""
    direct, through_n, through_gates = (
        (STATE, "#1f77b4", "#8e44ad") if paths else (STATE, EDGE, EDGE)
    )
    fig, ax = _canvas(13.0, 9.3 if paths else 8.0, (10.5, 7.5 if paths else 6.5))
    ax.set_ylim(-1.3 if paths else 0, 8.0)
    _box(ax, 6.6, 4.0, 10.4, 6.4, fc="#f7f9fb", lw=1.0, zorder=0)
    top, low = 6.5, 1.35
    keep_x, plus_x = 7.2, 10.4
    # the direct path along the top: (1 - z) * h_{t-1}
    _text(ax, 0.6, top, "$h_{t-1}$", fontsize=FONT + 1)
    _arrow(ax, (1.0, top), (keep_x - 0.27, top), color=direct, lw=2.5)
    _op(ax, keep_x, top, "$\\odot$", ec=direct)
    _arrow(ax, (keep_x + 0.27, top), (plus_x - 0.27, top), color=direct, lw=2.5)
    _op(ax, plus_x, top, "+", ec=direct)
    _arrow(ax, (plus_x + 0.27, top), (12.35, top), color=direct, lw=2.5)
    _text(ax, 12.6, top, "$h_t$", fontsize=FONT + 1)
    _text(ax, 8.8, 7.55, "$h_t = (1 - z) \\odot h_{t-1} + z \\odot n$")
    # h_{t-1} down to the gates' matmul, x_t from below
    branch, a_x, a_w = 1.7, 4.35, 4.7
    _path(ax, [(branch, top), (branch, low), (a_x - a_w / 2, low)], color=through_gates, lw=1.6)
    _arrow(ax, (a_x, 0.1), (a_x, low - 0.375))
    _text(ax, a_x + 0.4, 0.3, "$x_t$", fontsize=FONT + 1)
    _box(
        ax,
        a_x,
        low,
        a_w,
        0.75,
        "$a_{rz} = x_t W_x[:, :2H] + h_{t-1} W_h[:, :2H] + b[:2H]$",
        fontsize=FONT - 1.5,
    )
    r_x, z_x, gates_y = 3.1, 5.7, 2.85
    _box(ax, r_x, gates_y, 1.9, 0.7, "r = $\\sigma(a_{rz}[:, :H])$", fc=GATE, fontsize=FONT - 1.5)
    _box(ax, z_x, gates_y, 1.9, 0.7, "z = $\\sigma(a_{rz}[:, H:])$", fc=GATE, fontsize=FONT - 1.5)
    _arrow(ax, (r_x, low + 0.375), (r_x, gates_y - 0.35), color=through_gates)
    _arrow(ax, (z_x, low + 0.375), (z_x, gates_y - 0.35), color=through_gates)
    # reset: r * h_{t-1}, then the candidate
    rh_x, rh_y = r_x, 4.4
    _op(ax, rh_x, rh_y, "$\\odot$", ec=through_n)
    _arrow(ax, (r_x, gates_y + 0.35), (rh_x, rh_y - 0.27), color=through_gates)
    _path(
        ax,
        [(branch, 5.3), (rh_x - 0.7, 5.3), (rh_x - 0.7, rh_y), (rh_x - 0.27, rh_y)],
        color=through_n,
        lw=1.6,
    )
    _text(ax, rh_x + 0.2, rh_y + 0.55, "$r \\odot h_{t-1}$", fontsize=FONT - 1, ha="left")
    n_x, n_w = 6.2, 3.9
    _box(
        ax,
        n_x,
        rh_y,
        n_w,
        0.9,
        "n = tanh($x_t W_{xn} + (r \\odot h_{t-1}) W_{hn} + b_n$)",
        fc=CAND,
        fontsize=FONT - 1.5,
    )
    _arrow(ax, (rh_x + 0.27, rh_y), (n_x - n_w / 2, rh_y), color=through_n)
    # z * n joins the state; 1 - z keeps the old one
    _op(ax, plus_x, rh_y, "$\\odot$", ec=through_n)
    _arrow(ax, (n_x + n_w / 2, rh_y), (plus_x - 0.27, rh_y), color=through_n)
    _text(ax, 9.4, rh_y + 0.3, "n", fontsize=FONT)
    _arrow(ax, (plus_x, rh_y + 0.27), (plus_x, top - 0.27), color=through_n)
    one_y, z_up = 5.45, 8.9
    _op(ax, keep_x, one_y, "1−", r=0.3, fontsize=FONT - 1)
    _path(
        ax,
        [(z_x + 0.95, gates_y), (z_up, gates_y), (z_up, one_y), (keep_x + 0.3, one_y)],
        color=through_gates,
        zorder=3,
        halo="#f7f9fb",
    )
    _path(
        ax,
        [(z_x + 0.95, gates_y), (plus_x, gates_y), (plus_x, rh_y - 0.27)],
        color=through_gates,
        zorder=3,
    )
    _text(ax, z_up + 0.2, 3.6, "z", fontsize=FONT, ha="left")
    _arrow(ax, (keep_x, one_y + 0.3), (keep_x, top - 0.27), color=through_gates)
    _text(ax, keep_x - 0.45, 5.95, "1 − z", fontsize=FONT - 1, ha="right")
    if paths:
        _text(
            ax,
            5.6,
            -0.3,
            "$h_{t-1}$ reaches $h_t$ along three paths, and dh_prev is their sum:",
            fontsize=FONT,
            ha="left",
        )
        _text(ax, 5.9, -0.75, "directly, through (1 − z)", color=direct, fontsize=FONT, ha="left")
        _text(
            ax,
            5.9,
            -1.15,
            "through the candidate n, via $r \\odot h_{t-1}$",
            color=through_n,
            fontsize=FONT,
            ha="left",
        )
        _text(
            ax,
            9.9,
            -0.75,
            "through the gates r and z",
            color=through_gates,
            fontsize=FONT,
            ha="left",
        )
        title = "The GRU step as a graph: the three paths from $h_{t-1}$ to $h_t$"
    else:
        _text(
            ax, 9.4, 1.55, "blocks of W_x, W_h, b:\nr = 0:H, z = H:2H, n = 2H:3H", fontsize=FONT - 1
        )
        title = "The GRU step: one state, two gates, a candidate"
    ax.set_title(title, fontsize=FONT + 1)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------
# Deep and bidirectional
# --------------------------------------------------------------------------


def stacked_rnn(layers: int = 3, steps: int = 4):
    """A stack of ``layers`` RNN layers over ``steps`` steps: arrows right carry each layer's state
    through time, arrows up feed each layer's states to the layer above."""
    gx, gy = 2.2, 1.55
    width, height = 2.3 + gx * steps, 1.5 + gy * layers + 0.9
    fig, ax = _canvas(width, height, (10, 1.3 + 1.25 * layers))
    xs = [2.3 + gx * k + gx / 2 - 0.3 for k in range(steps)]
    ys = [1.5 + gy * l for l in range(layers)]
    t_names = [str(t) for t in range(steps)]
    for l, y in enumerate(ys):
        name = f"layer {l}" if l < layers - 1 else f"layer {l} (top)"
        _text(ax, 0.2, y, f"{name}\nh0s[{l}]", ha="left", fontsize=FONT - 1, color=STATE)
        prev = 1.75
        for k, x in enumerate(xs):
            _box(ax, x, y, 1.3, 0.75, f"$W^{{({l})}}$", fontsize=FONT - 1)
            _arrow(ax, (prev, y), (x - 0.65, y), color=STATE, lw=1.8)
            prev = x + 0.65
            if l == 0:
                _arrow(ax, (x, 0.55), (x, y - 0.375))
            if l < layers - 1:
                _arrow(ax, (x, y + 0.375), (x, ys[l + 1] - 0.375))
            else:
                _arrow(ax, (x, y + 0.375), (x, y + 0.95))
                _text(ax, x, y + 1.2, f"h[:, {t_names[k]}]", fontsize=FONT - 1)
    for k, x in enumerate(xs):
        _text(ax, x, 0.3, f"x[:, {t_names[k]}]", fontsize=FONT - 1)
    ax.set_title(
        f"A stack of L = {layers} layers over T = {steps} steps: layer l reads the states of layer l − 1,\n"
        "layer 0 reads x; each layer has its own weights params[l] and initial state h0s[l]",
        fontsize=FONT,
    )
    fig.tight_layout()
    return fig


def bidirectional_rnn(steps: int = 4):
    """A bidirectional layer: the forward direction reads x[:, 0] … x[:, T-1], the reverse direction
    x[:, T-1] … x[:, 0]; at each step t their states are concatenated, h[:, t] = [→ ; ←]."""
    gx = 2.6
    width = 2.4 + gx * steps + 1.3
    fig, ax = _canvas(width, 6.2, (10, 4.8))
    xs = [2.4 + gx * k + gx / 2 for k in range(steps)]
    t_names = [str(t) for t in range(steps)]
    fwd_y, rev_y, out_y = 2.05, 3.75, 5.3
    off = 0.42
    _text(ax, 0.15, fwd_y, "forward\ndirection\nh0_f", ha="left", fontsize=FONT - 1, color=STATE)
    _text(
        ax,
        width - 0.1,
        rev_y,
        "reverse\ndirection\nh0_b",
        ha="right",
        fontsize=FONT - 1,
        color="#1f77b4",
    )
    prev = 1.6
    for x in xs:  # forward direction: left to right
        _box(ax, x - off, fwd_y, 1.1, 0.7, "→", fontsize=FONT + 2)
        _arrow(ax, (prev, fwd_y), (x - off - 0.55, fwd_y), color=STATE, lw=1.8)
        prev = x - off + 0.55
    prev = width - 1.35
    for x in reversed(xs):  # reverse direction: right to left
        _box(ax, x + off, rev_y, 1.1, 0.7, "←", fontsize=FONT + 2)
        _arrow(ax, (prev, rev_y), (x + off + 0.55, rev_y), color="#1f77b4", lw=1.8)
        prev = x + off - 0.55
    for x, t in zip(xs, t_names):
        _text(ax, x, 0.3, f"x[:, {t}]", fontsize=FONT - 1)
        _arrow(ax, (x - 0.1, 0.55), (x - off, fwd_y - 0.35))
        _path(
            ax, [(x + 0.1, 0.55), (x + off, 1.2), (x + off, rev_y - 0.35)], zorder=3, halo="white"
        )
        _box(ax, x, out_y, 1.2, 0.6, "concat", fc="white", fontsize=FONT - 2)
        _path(
            ax,
            [(x - off, fwd_y + 0.35), (x - off, 4.6), (x - 0.3, out_y - 0.3)],
            zorder=3,
            halo="white",
        )
        _arrow(ax, (x + off, rev_y + 0.35), (x + 0.3, out_y - 0.3))
        _text(ax, x, out_y + 0.6, f"h[:, {t}]", fontsize=FONT - 1)
    ax.set_title(
        f"A bidirectional layer over T = {steps} steps: the forward direction reads x from t = 0 on, the\n"
        "reverse direction from t = T-1 back; h[:, t, :H] has read x[:, :t+1], h[:, t, H:] has read x[:, t:]",
        fontsize=FONT,
    )
    fig.tight_layout()
    return fig


def residual_stack(layers: int = 3):
    """One time step of a stack with residual (skip) connections: layer l reads u^(l) (u^(0) = x)
    and passes up its states plus its input, u^(l+1) = h^(l) + u^(l), so that the identity carries
    values up and gradients down past every layer."""
    gy = 2.6
    height = 1.0 + gy * layers + 0.4
    fig, ax = _canvas(10.5, height, (8.0, 0.8 + 1.75 * layers))
    x = 4.6
    ys = [1.6 + gy * l for l in range(layers)]
    _text(ax, x, 0.3, "$u^{(0)}_t = x_t$")
    below = 0.55
    for l, y in enumerate(ys):
        _box(ax, x, y, 2.0, 0.75, f"RNN layer {l}", fontsize=FONT - 1)
        _arrow(ax, (x, below), (x, y - 0.375))
        plus_y = y + 0.95
        _op(ax, x, plus_y, "+")
        _arrow(ax, (x, y + 0.375), (x, plus_y - 0.27))
        _text(ax, x - 0.3, y + 0.63, f"$h^{{({l})}}_t$", ha="right", fontsize=FONT - 1)
        # the skip: from just below the layer, round its right side, into the +
        split = below + 0.4
        _path(
            ax,
            [(x, split), (x + 1.6, split), (x + 1.6, plus_y), (x + 0.27, plus_y)],
            color=STATE,
            lw=1.8,
        )
        ax.plot([x], [split], "o", color=STATE, markersize=4, zorder=3)
        _text(
            ax,
            x + 1.75,
            (split + plus_y) / 2,
            "identity",
            ha="left",
            color=STATE,
            fontsize=FONT - 1,
        )
        # the layer's own state goes on through time, as in any stack
        _arrow(ax, (1.4, y), (x - 1.0, y), style="--")
        _text(ax, 1.3, y, f"$h^{{({l})}}_{{t-1}}$", ha="right", fontsize=FONT - 1)
        _text(
            ax,
            x + 0.3,
            plus_y + 0.12,
            f"$u^{{({l + 1})}}_t$",
            ha="left",
            va="bottom",
            fontsize=FONT - 1,
        )
        below = plus_y + 0.27
    _arrow(ax, (x, below), (x, below + 0.3))
    _text(
        ax,
        7.9,
        ys[0] - 0.5,
        "$u^{(l+1)} = h^{(l)} + u^{(l)}$:\nits own states plus its input",
        fontsize=FONT - 1,
        ha="left",
    )
    ax.set_title(
        "One step of a residual stack: each layer adds its input to its states", fontsize=FONT
    )
    fig.tight_layout()
    return fig


FIGURES = {
    "rnn_cell": rnn_cell,
    "rnn_unrolled": rnn_unrolled,
    "lstm_cell": lstm_cell,
    "gru_cell": gru_cell,
    "gru_paths": lambda: gru_cell(paths=True),
    "stacked_rnn": stacked_rnn,
    "bidirectional_rnn": bidirectional_rnn,
    "residual_stack": residual_stack,
}


def save_all(directory: str = "build/figures", dpi: int = 100) -> list[str]:
    """Draw every figure into ``directory`` as PNG (to look at them, or to restyle)."""
    import os

    os.makedirs(directory, exist_ok=True)
    paths = []
    for name, draw in FIGURES.items():
        fig = draw()
        path = os.path.join(directory, f"{name}.png")
        fig.savefig(path, dpi=dpi)
        plt.close(fig)
        paths.append(path)
    return paths
