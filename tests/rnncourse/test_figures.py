"""The diagrams of rnncourse.figures draw, and their labels are readable: none overlaps another or
leaves the figure."""

from __future__ import annotations

import itertools

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from rnncourse import figures  # noqa: E402


def _label_boxes(fig):
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = [t for ax in fig.axes for t in (*ax.texts, ax.title) if t.get_text().strip()]
    return [(t.get_text(), t.get_window_extent(renderer)) for t in texts]


@pytest.mark.parametrize("name", sorted(figures.FIGURES))
def test_figure_labels_do_not_overlap(name):
    """Every pair of labels is apart, and every label lies inside the figure."""
    fig = figures.FIGURES[name]()
    try:
        boxes = _label_boxes(fig)
        assert fig.axes[0].get_title(), "every figure has a title"
        width, height = fig.canvas.get_width_height()
        for text, box in boxes:
            assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= width and box.y1 <= height, f"{text!r} leaves the figure"
        for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2):
            assert not box_a.overlaps(box_b), f"{a!r} overlaps {b!r}"
    finally:
        plt.close(fig)


def test_figures_fit_a_notebook_page():
    """No figure is wider than a notebook's text column holds at 100 dpi (about 10.5 inches)."""
    for name, draw in figures.FIGURES.items():
        fig = draw()
        assert fig.get_figwidth() <= 10.5, name
        plt.close(fig)


def test_save_all_writes_one_png_per_figure(tmp_path):
    """save_all draws every figure into a folder, to look at them or restyle them."""
    paths = figures.save_all(str(tmp_path))
    assert sorted(p.rsplit("/", 1)[-1] for p in paths) == sorted(f"{n}.png" for n in figures.FIGURES)
