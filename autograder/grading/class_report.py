"""The class report: what a class got wrong, not only its scores.

After grading, an instructor wants to know what to teach again. The grader already
knows, for every failing exercise, which catalogued mistake it matched (or what
else went wrong: a wrong shape, wrong values, a crash) and whether the failure came
from an earlier exercise it relies on. This module turns that into one page per
assignment:

1. :func:`write_record` keeps, per submission, what the page needs
   (``<output>/results/<student>/<assignment>/grade.json``), beside the
   Gradescope-style ``results.json``;
2. :func:`summarize` reads every record of an assignment and counts: the score
   distribution, per exercise the pass rate, the catalogued mistakes ranked, the
   other failures by kind, the failures that come from a dependency; the students
   to read by hand; the run's seeds, times and grader faults;
3. :func:`render_html` writes it as a self-contained page (no network, plots
   embedded as PNG), and the same numbers go to JSON beside it:
   ``<output>/class_report_<assignment>.html`` and ``.json``, next to ``grades.csv``.

A student's name appears only in the list of notebooks to read by hand, so the
rest of the page can be shown to the class. ``python -m autograder report``
rebuilds the pages from ``results/`` without grading again.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import json
import os
import statistics
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from autograder.grading.notebook import REFERS_TO_AUTOGRADER
from autograder.suites import EXERCISES

RECORD = "grade.json"

# What a failure that no catalogued mistake names is, in the instructor's words.
OTHER_KINDS = {
    ("fail", "values"): "wrong values",
    ("fail", "shape"): "wrong shape",
    ("fail", "type"): "wrong kind of value (not an array or number)",
    ("fail", "dtype"): "wrong dtype",
    ("fail", "finite"): "NaN or inf",
    ("fail", "inputs"): "changed its inputs or cache in place",
    ("fail", "returns"): "returns the wrong structure",
    ("error", None): "crashed (raised an error)",
    ("timeout", None): "too slow (timeout)",
    ("memory", None): "ran out of memory",
    ("crash", None): "killed its process",
}
TROUBLE = ("error", "timeout", "memory", "crash")

# Notes that mean a notebook is worth reading by hand, and the reason given for each.
READ_BY_HAND = (
    (REFERS_TO_AUTOGRADER, "solution code refers to the autograder"),
    ("had its type or grading metadata changed", "changed the grading metadata of a cell"),
    ("outside the solution cells were not run", "code added or changed outside the solution cells"),
    ("was changed in your notebook; the course's own check was used", "edited a check cell"),
    ("was deleted from your notebook; the course's own check was used", "deleted a check cell"),
)


# --------------------------------------------------------------------------
# 1. One record per submission
# --------------------------------------------------------------------------


def record_of(results: list) -> dict[str, Any]:
    """What the class report needs of one submission's :class:`NotebookResult` s."""
    first = results[0]
    return {
        "student": first.student,
        "assignment": first.assignment,
        "seed": first.seed,
        "notebooks": [
            {
                "notebook": r.notebook,
                "score": r.score,
                "max_score": r.max_score,
                "seconds": round(float(r.seconds), 3),
                "error": r.error,
                "notes": list(r.notes),
            }
            for r in results
        ],
        "exercises": [
            {
                "name": e.name,
                "number": e.number,
                "points": e.points,
                "max_points": e.max_points,
                "status": e.status,
                "mistake": e.mistake,
                "failed": e.failed,
                "dependency": getattr(e, "dependency", None),
                "graded": e.graded,
            }
            for r in results
            for e in r.exercises
        ],
    }


def write_record(output: Path, results: list) -> None:
    """Keep one submission's record under ``<output>/results/<student>/<assignment>/``."""
    if not results:
        return
    target = Path(output) / "results" / results[0].student / results[0].assignment
    target.mkdir(parents=True, exist_ok=True)
    (target / RECORD).write_text(json.dumps(record_of(results), indent=1), encoding="utf-8")


def load_records(output: Path, assignment: str | None = None) -> dict[str, list[dict]]:
    """Every record under ``<output>/results/``, by assignment (only ``assignment``'s if given).

    A record that cannot be read is left out with a warning: one damaged file must not cost
    the instructor the report of the whole class."""
    found: dict[str, list[dict]] = {}
    base = Path(output) / "results"
    for path in sorted(base.glob(f"*/{assignment or '*'}/{RECORD}")):
        try:
            rec = json.loads(path.read_text(encoding="utf-8"))
            name = rec["assignment"]
            rec["exercises"], rec["notebooks"]  # noqa: B018 — the fields the report reads must be there
        except (OSError, ValueError, KeyError, TypeError) as exc:
            print(f"warning: {path} is not a grade record ({exc}); left out of the class report", file=sys.stderr)
            continue
        found.setdefault(name, []).append(rec)
    return found


# --------------------------------------------------------------------------
# 2. The numbers
# --------------------------------------------------------------------------


def _kind(ex: dict) -> str:
    return OTHER_KINDS.get((ex["status"], ex.get("failed") if ex["status"] == "fail" else None), ex["status"])


def _reasons(notes: list[str]) -> list[str]:
    reasons = []
    for note in notes:
        for marker, reason in READ_BY_HAND:
            if marker in note and reason not in reasons:
                reasons.append(reason)
    return reasons


def summarize(assignment: str, records: list[dict], faults: list[str] | None = None, feedback: Path | None = None,
              relative_to: Path | None = None) -> dict[str, Any]:
    """The class report's numbers for one assignment, from its students' records."""
    records = sorted(records, key=lambda r: r["student"])
    scores, maxima = [], []
    unreadable = not_attempted = troubled = 0
    by_exercise: dict[str, list[dict]] = {}
    order: list[str] = []
    read: list[dict] = []
    seeds: set[int] = set()
    seconds: list[float] = []
    for rec in records:
        notebooks = rec["notebooks"]
        scores.append(sum(float(n["score"]) for n in notebooks))
        maxima.append(sum(float(n["max_score"]) for n in notebooks))
        seeds.add(rec.get("seed"))
        seconds += [float(n.get("seconds") or 0.0) for n in notebooks]
        if any(n.get("error") for n in notebooks):
            unreadable += 1
        exercises = rec["exercises"]
        if exercises and all(e["status"] == "not_attempted" for e in exercises) and not any(n.get("error") for n in notebooks):
            not_attempted += 1
        if any(e["status"] in TROUBLE for e in exercises):
            troubled += 1
        for e in exercises:
            if e["name"] not in by_exercise:
                order.append(e["name"])
            by_exercise.setdefault(e["name"], []).append(e)
        reasons = _reasons([note for n in notebooks for note in n.get("notes", [])])
        if reasons:
            links = []
            for n in notebooks:
                path = Path(feedback or "feedback") / rec["student"] / assignment / f"{Path(n['notebook']).stem}.html"
                links.append(os.path.relpath(path, relative_to) if relative_to else str(path))
            read.append({"student": rec["student"], "reasons": reasons, "feedback": links})

    n = len(records)
    exercises = [_exercise_stats(name, by_exercise[name], n) for name in order]
    exercises.sort(key=lambda e: (e["pass_rate"], _number_key(e["number"])))
    top = max(maxima) if maxima else 0.0
    return {
        "assignment": assignment,
        "students": {
            "submitted": n,
            "could_not_be_read": unreadable,
            "did_not_attempt": not_attempted,
            "crashed_or_timed_out": troubled,
        },
        "score": {
            "max": top,
            "mean": statistics.fmean(scores) if scores else None,
            "median": statistics.median(scores) if scores else None,
            "distribution": _histogram(scores, top),
        },
        "exercises": exercises,
        "read_by_hand": read,
        "run": {
            "seeds": sorted(s for s in seeds if s is not None),
            "seconds_per_notebook": {
                "mean": round(statistics.fmean(seconds), 3) if seconds else None,
                "median": round(statistics.median(seconds), 3) if seconds else None,
                "max": round(max(seconds), 3) if seconds else None,
            },
            "grader_faults": list(faults or []),
        },
    }


def _number_key(number: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in str(number).split("."))


def _histogram(scores: list[float], top: float) -> dict[str, list]:
    """Counts of scores in bins of one point (of about a tenth of the maximum when it is large)."""
    if not scores:
        return {"edges": [], "counts": []}
    width = max(1.0, round(top / 10)) if top > 12 else 1.0
    edges = [i * width for i in range(int(top // width) + 1)]
    if not edges or edges[-1] < top:
        edges.append(edges[-1] + width if edges else top)
    counts = [0] * len(edges)  # bin k holds [edges[k], edges[k] + width); the full score has its own
    for s in scores:
        k = min(int(s // width), len(edges) - 1)
        counts[k] += 1
    return {"edges": edges, "counts": counts}


def _exercise_stats(name: str, results: list[dict], students: int) -> dict[str, Any]:
    exercise = EXERCISES.get(name)
    passed = sum(e["status"] == "pass" for e in results)
    untouched = sum(e["status"] == "not_attempted" for e in results)
    failing = [e for e in results if e["status"] not in ("pass", "not_attempted")]
    # A failure beside a failing exercise it relies on is counted as that, not as a mistake of its
    # own: the verdict told the student to fix the other one first, and any match may be chance.
    blamed = Counter(e["dependency"] for e in failing if e.get("dependency"))
    own = [e for e in failing if not e.get("dependency")]
    named = Counter(e["mistake"] for e in own if e.get("mistake"))
    other = Counter(_kind(e) for e in own if not e.get("mistake"))
    catalogue = {m.key: m for m in exercise.mistakes} if exercise else {}
    attempted = len(results) - untouched
    return {
        "name": name,
        "number": results[0].get("number", exercise.number if exercise else ""),
        "max_points": results[0].get("max_points"),
        "students": students,
        "passed": passed,
        "failed": len(failing),
        "not_attempted": untouched,
        "pass_rate": passed / students if students else 0.0,
        "pass_rate_of_attempts": passed / attempted if attempted else None,
        "mistakes": [
            {
                "key": key,
                "what": catalogue[key].what if key in catalogue else key,
                "hint": catalogue[key].hint if key in catalogue else "",
                "count": count,
            }
            for key, count in sorted(named.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "other_failures": [{"kind": k, "count": c} for k, c in sorted(other.items(), key=lambda kv: (-kv[1], kv[0]))],
        "from_dependency": {
            "count": sum(blamed.values()),
            "on": dict(sorted(blamed.items(), key=lambda kv: (-kv[1], kv[0]))),
        },
    }


# --------------------------------------------------------------------------
# 3. The page
# --------------------------------------------------------------------------


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def plots(summary: dict[str, Any]) -> dict[str, str]:
    """The score histogram and the outcome of every exercise, as PNG data URIs."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure  # no pyplot: no global state, safe in threads

    out = {}
    hist = summary["score"]["distribution"]
    fig = Figure(figsize=(6.4, 2.8))
    ax = fig.subplots()
    if hist["edges"]:
        width = (hist["edges"][1] - hist["edges"][0]) if len(hist["edges"]) > 1 else 1.0
        ax.bar(hist["edges"], hist["counts"], width=width * 0.9, align="edge", color="#4c72b0")
    ax.set_title(f"{summary['assignment']}: score distribution ({summary['students']['submitted']} students)")
    ax.set_xlabel(f"score (points, of {summary['score']['max']:g})")
    ax.set_ylabel("students")
    ax.yaxis.get_major_locator().set_params(integer=True)
    out["scores"] = _png(fig)

    exercises = list(reversed(summary["exercises"]))  # hardest at the top
    fig = Figure(figsize=(6.4, 0.42 * len(exercises) + 1.1))
    ax = fig.subplots()
    labels = [f"{e['number']} {e['name']}" for e in exercises]
    parts = [
        ("passed", [e["passed"] for e in exercises], "#1a7f37"),
        ("a catalogued mistake", [sum(m["count"] for m in e["mistakes"]) for e in exercises], "#d4a72c"),
        ("another failure", [sum(o["count"] for o in e["other_failures"]) for e in exercises], "#b42318"),
        ("failed with one it relies on", [e["from_dependency"]["count"] for e in exercises], "#8e6bb8"),
        ("not attempted", [e["not_attempted"] for e in exercises], "#bbbbbb"),
    ]
    left = [0] * len(exercises)
    for label, counts, color in parts:
        ax.barh(labels, counts, left=left, color=color, label=label)
        left = [a + b for a, b in zip(left, counts)]
    ax.set_title("Outcome per exercise, hardest at the top")
    ax.set_xlabel("students")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.08), ncol=3, fontsize=8, frameon=False)
    ax.tick_params(axis="y", labelsize=8)
    out["exercises"] = _png(fig)
    return out


def render_html(summary: dict[str, Any]) -> str:
    """The class report as one self-contained HTML page."""
    esc = html.escape
    s, st, run = summary["score"], summary["students"], summary["run"]
    images = plots(summary)

    def fmt(x: Any) -> str:
        return "–" if x is None else f"{x:.3g}" if isinstance(x, float) else str(x)

    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>Class report · {esc(summary['assignment'])}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.4;color:#222}"
        "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;"
        "vertical-align:top}th{background:#f3f3f3}.num{text-align:right}.hint{color:#555;font-size:.9em}"
        "img{max-width:100%}h2{margin-top:1.6em}.bar{display:inline-block;height:.8em;background:#b42318}</style>",
        "</head><body>",
        f"<h1>Class report · {esc(summary['assignment'])}</h1>",
        "<p>What the class got wrong, exercise by exercise, from the autograder's verdicts on hidden inputs. "
        "Everything above the last section is counts: the page can be shown to the class.</p>",
        "<h2>Scores</h2>",
        f"<p><b>{st['submitted']}</b> submitted · mean <b>{fmt(s['mean'])}</b> · median <b>{fmt(s['median'])}</b> "
        f"of {fmt(s['max'])} points · {st['did_not_attempt']} did not attempt any exercise · "
        f"{st['could_not_be_read']} notebook(s) could not be read · {st['crashed_or_timed_out']} crashed, timed out "
        "or ran out of memory on at least one exercise</p>",
        f"<img alt='score distribution' src='{images['scores']}'>",
        "<h2>Exercises, hardest first</h2>",
        f"<img alt='outcome per exercise' src='{images['exercises']}'>",
        "<table><tr><th>exercise</th><th class='num'>passed</th><th class='num'>pass rate</th>"
        "<th class='num'>not attempted</th><th class='num'>failed</th><th class='num'>failed because of an "
        "exercise it relies on</th></tr>",
    ]
    for e in summary["exercises"]:
        dep = e["from_dependency"]
        on = ", ".join(f"{esc(k)} ({v})" for k, v in dep["on"].items())
        parts.append(
            f"<tr><td>{esc(str(e['number']))} {esc(e['name'])}</td><td class='num'>{e['passed']}</td>"
            f"<td class='num'>{e['pass_rate']:.0%}</td><td class='num'>{e['not_attempted']}</td>"
            f"<td class='num'>{e['failed']}</td><td class='num'>{dep['count']}{' · ' + on if on else ''}</td></tr>"
        )
    parts.append("</table>")
    for e in summary["exercises"]:
        if not e["failed"]:
            continue
        parts.append(f"<h3>{esc(str(e['number']))} {esc(e['name'])}: {e['failed']} failed</h3>")
        if e["from_dependency"]["count"]:
            parts.append(
                f"<p>{e['from_dependency']['count']} of these failed while an exercise it relies on failed too "
                f"({', '.join(esc(k) for k in e['from_dependency']['on'])}): those students were told to fix that "
                "one first, and are not counted below.</p>"
            )
        rows = [(m["count"], f"<b>{esc(m['what'])}</b><div class='hint'>How to find it: {esc(m['hint'])}</div>")
                for m in e["mistakes"]]
        rows += [(o["count"], f"{esc(o['kind'])} <span class='hint'>(no catalogued mistake matches)</span>")
                 for o in e["other_failures"]]
        if rows:
            parts.append("<table><tr><th class='num'>students</th><th>what went wrong</th></tr>")
            parts += [f"<tr><td class='num'>{c}</td><td>{text}</td></tr>" for c, text in rows]
            parts.append("</table>")
    parts.append("<h2>Notebooks to read by hand</h2>")
    if summary["read_by_hand"]:
        parts.append("<table><tr><th>student</th><th>why</th><th>feedback</th></tr>")
        for r in summary["read_by_hand"]:
            links = " ".join(f"<a href='{esc(p)}'>{esc(Path(p).name)}</a>" for p in r["feedback"])
            parts.append(f"<tr><td>{esc(r['student'])}</td><td>{esc('; '.join(r['reasons']))}</td><td>{links}</td></tr>")
        parts.append("</table>")
    else:
        parts.append("<p>None.</p>")
    times = run["seconds_per_notebook"]
    parts += [
        "<h2>The run</h2>",
        f"<p>Hidden-case seed(s): {esc(', '.join(map(str, run['seeds'])) or '–')} · time per notebook: mean "
        f"{fmt(times['mean'])} s, median {fmt(times['median'])} s, longest {fmt(times['max'])} s · grader faults: "
        f"{len(run['grader_faults'])}</p>",
    ]
    if run["grader_faults"]:
        parts.append("<ul>" + "".join(f"<li><pre>{esc(f)}</pre></li>" for f in run["grader_faults"]) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_reports(output: Path, assignments: list[str] | None = None, feedback: Path | None = None,
                  faults: list[str] | None = None) -> list[Path]:
    """Write ``class_report_<assignment>.html`` and ``.json`` in ``output`` for each assignment
    with records (those in ``assignments`` only, if given); returns the HTML files written."""
    output = Path(output)
    written = []
    by_assignment = load_records(output)
    for name, records in sorted(by_assignment.items()):
        if assignments is not None and name not in assignments:
            continue
        mine = [f for f in faults or [] if f"/{name}:" in f]
        summary = summarize(name, records, mine, feedback, relative_to=output)
        (output / f"class_report_{name}.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
        page = output / f"class_report_{name}.html"
        page.write_text(render_html(summary), encoding="utf-8")
        written.append(page)
    return written


def report_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="python -m autograder report",
        description="Rebuild the class reports (class_report_<assignment>.html and .json) from the grade "
        "records a grading run left in OUTPUT/results/, without grading again.",
    )
    p.add_argument("--assignment", action="append", help="only this assignment (repeatable)")
    p.add_argument("--output", default="grading_output", help="the grader's output folder (default grading_output/)")
    p.add_argument("--feedback", default="feedback", help="where the feedback files are, for the links (default feedback/)")
    args = p.parse_args(argv)
    faults: list[str] = []
    report = Path(args.output) / "report.json"
    if report.exists():
        try:
            faults = list(json.loads(report.read_text()).get("grader_faults", []))
        except (OSError, ValueError, AttributeError):
            faults = []
    pages = write_reports(Path(args.output), args.assignment, Path(args.feedback), faults)
    if not pages:
        print(f"no grade records under {Path(args.output) / 'results'}: grade first (make grade)", file=sys.stderr)
        return 1
    for page in pages:
        print(page)
    return 0
