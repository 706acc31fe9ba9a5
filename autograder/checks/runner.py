"""Run one exercise's public cases against a learner's function and explain the result.

Reads the expected outputs, and the output of every catalogued mistake, from
``data/fixtures/<lesson>/<exercise>.json``; never imports the reference.
"""

from __future__ import annotations

import json
import os
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from autograder.suites import EXERCISES
from autograder.suites.core import (
    CallProblem,
    Case,
    Exercise,
    Finding,
    HelperFailed,
    Problem,
    compare_outputs,
    copy_inputs,
    decode,
    diagnose,
    exception_text,
    inputs_unchanged,
    outputs_match,
    raised,
    unpack,
)

PASS, FAIL, SKIP = "✓", "✗", "·"
PROPERTY_ORDER = ("returns", "type", "shape", "dtype", "finite", "values", "inputs")


def fixtures_dir() -> Path:
    """Where the public fixtures live: $RNNCOURSE_FIXTURES, else the course's data/fixtures."""
    env = os.environ.get("RNNCOURSE_FIXTURES")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "data" / "fixtures"


def fixture_path(exercise: Exercise) -> Path:
    return fixtures_dir() / exercise.lesson / f"{exercise.name}.json"


def load_fixture(exercise: Exercise) -> tuple[list[Case], list[dict], list[dict]]:
    """Cases, expected graded outputs per case, and what each mistake gives per case.

    A mistake gives its graded outputs, or a :class:`Problem` (the ``call``
    rejected what it returned, or it raised) where it gives none.
    """
    path = fixture_path(exercise)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(
            f"the public cases for {exercise.name} are missing: {path} "
            "(run `make fixtures`, or set RNNCOURSE_FIXTURES to the course's data/fixtures)"
        ) from None
    cases, expected, mistakes = [], [], []
    for c in data["cases"]:
        cases.append(Case(c["name"], {k: decode(v) for k, v in c["inputs"].items()}, c.get("hint", "")))
        expected.append({k: decode(v) for k, v in c["expected"].items()})
        by_key: dict[str, Any] = {
            key: {k: decode(v) for k, v in outs.items()} for key, outs in c["mistakes"].items()
        }
        for key, problem in c.get("mistake_problems", {}).items():
            by_key[key] = Problem(problem["kind"], problem["message"])
        mistakes.append(by_key)
    return cases, expected, mistakes


class CheckFailed(AssertionError):
    """A self-check failed; the message says what, where, and (if known) which mistake.

    The cell must fail (nbgrader and nbval read its error), but a traceback into the
    checker reads as if the checker crashed: in IPython the error shows only the
    verdict (``lines``), once. ``str()`` is the verdict's message, for pytest and plain Python.
    """

    def __init__(self, message: str, lines: list[str] | None = None):
        super().__init__(message)
        self.lines = lines if lines is not None else [f"{FAIL} {message}"]

    def _render_traceback_(self) -> list[str]:
        return list(self.lines)


_AUTOGRADER = str(Path(__file__).resolve().parents[1])  # frames of the checker itself
_NUMPY = str(Path(np.__file__).resolve().parent)  # NumPy's own frames (np.tahn -> numpy/__init__.py)


def _short_traceback(exc: BaseException, keep: int = 3) -> str:
    """The last ``keep`` frames of the learner's code (never the checker's) and the error line.

    An error raised by the call itself (a function taking other arguments than the
    check passes) has no frame of the learner's; the error line alone says it.
    """
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if not f.filename.startswith((_AUTOGRADER, _NUMPY))
    ]
    lines = traceback.format_list(frames[-keep:]) + traceback.format_exception_only(type(exc), exc)
    return "".join(lines).rstrip()


def headline(exercise: Exercise, message: str) -> str:
    """``message`` with the function's name in front, said once."""
    return message if message.startswith(exercise.name) else f"{exercise.name}: {message}"


def first_failing(findings: list[Finding]) -> Finding:
    """The failing finding to lead with: the earliest property in PROPERTY_ORDER, then output order.

    A structure or shape problem explains the values that follow from it, so it
    comes first even when a value of an earlier output also differs.
    """
    failing = [f for f in findings if not f.ok]
    return min(failing, key=lambda f: PROPERTY_ORDER.index(f.prop) if f.prop in PROPERTY_ORDER else len(PROPERTY_ORDER))


def _known_mistake(m) -> str:
    return f"\nThis looks like a known mistake: {m.what}.\nHow to find it: {m.hint}."


def crash_note(found: list, case: Case) -> str:
    """What follows a crash's traceback: the catalogued mistake that raises the same error there,
    else the case's hint (both tiers say it the same way)."""
    if found:
        return _known_mistake(found[0])
    return f"\nHint: {case.hint}" if case.hint else ""


def later_crash(error: str, text: str, case: Case) -> dict[str, str]:
    """A crash on a case after an earlier case failed: what it raised and that case's hint, said
    the same way in both tiers (the failing case is the verdict; this says what to expect next)."""
    detail = " ".join(str(text).split())[:200]
    what = f"raised {error} on case '{case.name}'" + (f": {detail}" if detail else "")
    return {"crashed_later": what, "crashed_later_hint": case.hint}


def later_crash_note(outcome: dict[str, Any]) -> str:
    """The lines a later crash adds to a failing verdict's message."""
    note = f"\nAfter that case it also {outcome['crashed_later']}"
    if outcome.get("crashed_later_hint"):
        note += f"\nHint for that case: {outcome['crashed_later_hint']}"
    return note


def fix_first(helper: str) -> str:
    """The sentence a crashed helper's verdict ends with; a dependency note is not added after it."""
    return f"Fix {helper} first (its own check is check.{helper})."


def helper_failed(exercise: Exercise, helper: str, case: str, trace: str) -> dict[str, Any]:
    """The verdict when a function the check runs first (a forward pass) crashed."""
    return {
        "status": "error",
        "findings": [],
        "case": case,
        "message": f"{exercise.name} could not be checked: your {helper}, which the check runs "
        f"first to build the cache, raised an error on case '{case}':\n{trace}\n" + fix_first(helper),
        "mistakes": [],
        "maybe": [],
    }


def evaluate(
    exercise: Exercise, fn: Callable, cases, expected, mistakes, helpers: dict | None = None
) -> dict[str, Any]:
    """Run every case; return findings of the first failing case and a diagnosis.

    The result has: ``status`` ("pass", "not_attempted", "error", "fail"),
    ``findings`` (the findings that decide the verdict), ``case`` (the name of
    the case they come from), ``message`` (one paragraph), ``mistakes`` (the
    catalogued mistakes that give what the learner's function gives on every
    case) and ``maybe`` (those that match on the failing case only). A crash on
    a case, when the cases before it pass, is an "error"; it still names the
    catalogued mistake that raises the same error there, or else the case's hint.
    """
    actual_by_case: list[dict | Problem | None] = []
    verdict: dict[str, Any] | None = None
    last_findings: list[Finding] = []
    crashed_later: dict[str, str] = {}
    for case, exp in zip(cases, expected):
        originals = case.inputs
        given = copy_inputs(originals)
        try:
            raw = exercise.run(fn, given, helpers or {})
        except NotImplementedError:
            used = ", ".join(exercise.uses + exercise.needs)
            extra = f" (or it uses your {used}: finish that first if it is still a stub)" if used else ""
            return {
                "status": "not_attempted",
                "findings": [],
                "case": case.name,
                "message": f"{exercise.name} is not attempted yet: its body still raises "
                f"NotImplementedError{extra}. Replace the `raise NotImplementedError()` line "
                "with your code.",
                "mistakes": [],
                "maybe": [],
            }
        except HelperFailed as exc:  # the forward pass the check runs first crashed
            return helper_failed(exercise, exc.name, case.name, _short_traceback(exc.error))
        except CallProblem as exc:  # e.g. a return value nested the wrong way, a cache changed
            findings = [Finding(exc.prop, False, exc.message)]
            actual_by_case.append(Problem("call", exc.message))
            last_findings = findings
            if verdict is None:
                verdict = {"case": case.name, "findings": findings, "index": len(actual_by_case) - 1}
            continue
        except (Exception, SystemExit, GeneratorExit) as exc:  # the learner's code crashed (even exit())
            crash = f"raised {type(exc).__name__} on case '{case.name}'"
            if verdict is not None:  # an earlier case already failed: that is the thing to fix first
                crashed_later = later_crash(type(exc).__name__, exception_text(exc), case)
                break
            message = f"{exercise.name} {crash}:\n" + _short_traceback(exc)
            # The cases before passed; a mistake invisible on them that raises this very error here is named.
            found = diagnose(exercise, [*actual_by_case, raised(exc)], mistakes)
            message += crash_note(found, case)
            return {
                "status": "error",
                "findings": [],
                "case": case.name,
                "message": message,
                "mistakes": found,
                "maybe": [],
            }
        outputs, returned = unpack(exercise, raw)
        findings = [returned]
        if returned.ok:
            findings += compare_outputs(exercise, exp, outputs)
            findings.append(inputs_unchanged(originals, given))
            actual_by_case.append(outputs)
        else:
            actual_by_case.append(Problem("call", returned.message))
        last_findings = findings
        if verdict is None and not all(f.ok for f in findings):
            verdict = {"case": case.name, "findings": findings, "index": len(actual_by_case) - 1}

    if verdict is None:
        return {
            "status": "pass",
            "findings": last_findings,
            "case": None,
            "message": f"{exercise.name} passes all {len(cases)} public cases.",
            "mistakes": [],
            "maybe": [],
        }
    found = diagnose(exercise, actual_by_case, mistakes)
    i = verdict["index"]
    failed = first_failing(verdict["findings"])
    if not found and failed.prop == "values" and failed.output:
        try:
            echo = input_echo(failed.output, cases, actual_by_case)
        except Exception:  # noqa: BLE001 — a courtesy: an odd object must not hide the verdict
            echo = ""
        if echo:  # said instead of a guess from this case alone (all zeros, say)
            base = failed.message.split("; every entry of it is 0")[0].split("; it is 0 where")[0]
            failed.message = f"{base}; {echo}"
    maybe = []
    if not found and failed.prop == "values" and isinstance(actual_by_case[i], dict):
        # A partial match is a hint only where the mistake really changes this case's
        # output; a dtype or in-place failure says nothing about the values.
        exp_i = expected[i]
        maybe = [
            m
            for m in exercise.mistakes
            if m.key in mistakes[i]
            and not outputs_match(exercise, exp_i, mistakes[i][m.key])
            and outputs_match(exercise, mistakes[i][m.key], actual_by_case[i])
        ]
        if len(maybe) > 1:  # the case cannot tell them apart: naming either may blame a mistake not made
            maybe = []
    message = f"{headline(exercise, failed.message)} (case '{verdict['case']}')."
    if found:
        message += _known_mistake(found[0])
    elif maybe:
        m = maybe[0]
        message += (
            f"\nOn this case your output equals what you get when {m.what}.\nHow to find it: {m.hint}."
        )
    if crashed_later:  # after what explains the failing case, as the grade report says it
        message += later_crash_note(crashed_later)
    return {
        "status": "fail",
        "findings": verdict["findings"],
        "case": verdict["case"],
        "message": message,
        "mistakes": found,
        "maybe": maybe,
        "failed": failed.prop,  # the property the verdict is about: "values", "inputs", "shape", ...
        **crashed_later,
    }


def _slices(name: str, value: Any) -> list[tuple[str, np.ndarray]]:
    """An input array and the slices of it a learner may return by mistake (a time step, a row)."""
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
        return []
    found = [(name, value)]
    if value.ndim >= 2:
        found += [(f"{name}[:, 0]", value[:, 0]), (f"{name}[:, -1]", value[:, -1])]
        found += [(f"{name}[0]", value[0]), (f"{name}[-1]", value[-1])]
    return found


def input_echo(output: str, cases: list[Case], actual_by_case: list) -> str:
    """When the learner's ``output`` is, on every case, the same input (or the same slice of one,
    ``dh[:, 0]``), a clause that says so; else "". Both tiers call it on their own cases."""
    matches: list[str] | None = None
    nonzero: set[str] = set()
    for case, actual in zip(cases, actual_by_case):
        mine = actual.get(output) if isinstance(actual, dict) else None
        if not isinstance(mine, np.ndarray) or mine.dtype.kind not in "biuf":
            return ""
        here = []
        for name, value in case.inputs.items():
            for expr, part in _slices(name, value):
                if part.shape == mine.shape and np.array_equal(part, np.ndarray.view(mine, np.ndarray)):
                    here.append(expr)
                    if np.any(part):
                        nonzero.add(expr)
        matches = here if matches is None else [m for m in matches if m in here]
        if not matches:
            return ""
    said = [m for m in matches or [] if m in nonzero]
    if not said:  # equal to an input only where both are all zeros: that says nothing
        return ""
    return (
        f"on every case it equals the input {said[0]}: an input (or a slice of one) returned where a "
        "computed value belongs, or the right variable sliced at the wrong place?"
    )


def report_lines(exercise: Exercise, result: dict[str, Any], n_cases: int, verbose: bool = False) -> list[str]:
    """The verdict as the learner reads it, in both tiers (the grader swaps "public" for "hidden").

    A pass is one line. A failure leads with what failed on which case, then the catalogued
    mistake it matches and how to find it, then what else is wrong on that case, in a few
    words. ``verbose`` adds every property checked, passing ones included, one line each.
    """
    unit = "point" if exercise.points == 1 else "points"
    title = f"{exercise.name} ({exercise.points} {unit})"
    status = result["status"]
    if status == "pass":
        lines = [f"{PASS} {title}: all {n_cases} public cases pass"]
        return lines + (_property_lines(result) if verbose else [])
    if status in ("not_attempted", "error"):
        first, *rest = str(result["message"]).split("\n")
        lines = [f"{FAIL} {title}: {_without_name(exercise, first)}"]
        return lines + [f"    {line}" if line.strip() else line for line in rest]
    lines = [f"{FAIL} {title}: fails on public case '{result['case']}'"]
    failing = [f for f in result["findings"] if not f.ok]
    first = first_failing(result["findings"]) if failing else None
    if first is not None:
        lines.append(f"  {_without_name(exercise, first.message)}")
    for m in result["mistakes"]:
        lines.append(f"  → This looks like a known mistake: {m.what}.")
        lines.append(f"    How to find it: {m.hint}.")
    for m in result["maybe"]:
        lines.append(f"  → On this case your output equals what you get when {m.what}.")
        lines.append(f"    How to find it: {m.hint}.")
    if result.get("crashed_later"):
        lines.append(f"  After that case it also {result['crashed_later']}")
        if result.get("crashed_later_hint"):
            lines.append(f"    Hint for that case: {result['crashed_later_hint']}")
    others = _subjects([f for f in failing if f is not first])
    if others:
        lines.append(f"  Also wrong on that case: {', '.join(others)}.")
    return lines + (_property_lines(result) if verbose else [])


def _without_name(exercise: Exercise, message: str) -> str:
    """A message without the function's name in front: the verdict's first line already says it."""
    for prefix in (f"{exercise.name}: ", f"{exercise.name} "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message


def _subjects(findings: list[Finding]) -> list[str]:
    """What failing findings are about, each named once: the output ("dh_prev"), else the property."""
    names: list[str] = []
    for f in findings:
        name = f.output or {"inputs": "inputs changed in place", "returns": "what it returns"}.get(f.prop, f.prop)
        if name not in names:
            names.append(name)
    return names


def _property_lines(result: dict[str, Any]) -> list[str]:
    """Every property of the verdict's case (the last case for a pass), one line each."""
    if not result["findings"]:
        return []
    lines = [f"  Every property checked ({'the last case' if result['status'] == 'pass' else 'that case'}):"]
    by_prop: dict[str, list[Finding]] = {}
    for f in result["findings"]:
        by_prop.setdefault(f.prop, []).append(f)
    failed_at = min(
        (PROPERTY_ORDER.index(f.prop) for f in result["findings"] if not f.ok and f.prop in PROPERTY_ORDER),
        default=len(PROPERTY_ORDER),
    )
    for prop in PROPERTY_ORDER:
        if prop not in by_prop:
            # Only properties after the failing one went unchecked; others do not apply
            # (a number has no shape).
            if PROPERTY_ORDER.index(prop) > failed_at and prop != "inputs":
                lines.append(f"    {SKIP} {prop}: not checked (an earlier property failed)")
            continue
        for f in by_prop[prop]:
            lines.append(f"    {PASS if f.ok else FAIL} {f.message}")
    return lines


HINTS = ("  → This looks like a known mistake: ", "  → On this case your output equals what you get when ")


def dependency_first(lines: list[str], message: str, notes: list[str]) -> tuple[list[str], str]:
    """A verdict that says first, and only, that a function it relies on fails its own check.

    A catalogued mistake the outputs happen to match, or the partial match, would then
    blame the wrong place (a correct sequence backward over a broken step backward matches
    "the loop forgets the cell gradient"): they are dropped, and the notes lead.
    Used by both tiers, so the notebook and the grade report say the same.
    """
    if not notes:
        return lines, message
    kept, skip = [], False
    for line in lines[1:]:
        if line.startswith(HINTS):
            skip = True
            continue
        if skip and line.startswith("    How to find it: "):
            continue
        skip = False
        kept.append(line)
    said = message
    for prefix in ("\nThis looks like a known mistake: ", "\nOn this case your output equals what you get when "):
        while prefix in said:
            head, _, tail = said.partition(prefix)
            after = tail.split("\n", 2)  # the mistake's line and its "How to find it" line
            said = head + ("\n" + after[2] if len(after) > 2 else "")
    return lines[:1] + [f"  → {note}" for note in notes] + kept, "\n".join([*notes, said])


def run_check(name: str, fn: Callable, *needed: Callable, quiet: bool = False, verbose: bool = False) -> None:
    """Check the learner's ``fn`` for exercise ``name``; say the verdict; raise on failure.

    ``needed`` are the other functions the check needs (``Exercise.needs``), in order.
    A pass prints one line (``verbose``: and every property checked); a failure prints
    nothing and raises :class:`CheckFailed`, which IPython shows as the verdict alone.
    ``quiet`` leaves the verdict out of the exception's rendering too (tests).
    """
    __tracebackhide__ = True  # IPython and pytest hide this frame: the learner sees the message
    exercise = EXERCISES[name]
    usage = f"check.{name}({', '.join((name,) + exercise.needs)})"
    if not callable(fn) or len(needed) != len(exercise.needs) or not all(map(callable, needed)):
        raise CheckFailed(f"call the check with your function(s) themselves: {usage}")
    given = [getattr(f, "__name__", "") for f in (fn, *needed)]
    wanted = [name, *exercise.needs]
    if given != wanted and sorted(given) == sorted(wanted):
        raise CheckFailed(
            f"the functions are in the wrong order: you passed {', '.join(given)}; call {usage}"
        )
    for got, want in zip(given, wanted):
        if got != want and got in EXERCISES:  # another exercise's function, e.g. the step for the sequence
            raise CheckFailed(f"you passed {got} where the check needs {want}: call {usage}")
    cases, expected, mistakes = load_fixture(exercise)
    helpers = dict(zip(exercise.needs, needed))
    result = evaluate(exercise, fn, cases, expected, mistakes, helpers)
    lines = report_lines(exercise, result, len(cases), verbose=verbose)
    if result["status"] in ("fail", "error"):
        dependencies, notes = failing_dependencies(exercise, fn, helpers, result)
        lines, result["message"] = dependency_first(lines, result["message"], dependencies)
        for note in notes:
            lines.append(f"  → {note}")
            result["message"] += f"\n{note}"
    if result["status"] != "pass":
        if not verbose:
            lines.append("  (check." + name + "(..., verbose=True) lists every property checked)")
        raise CheckFailed(result["message"], [] if quiet else lines)
    if not quiet:
        print("\n".join(lines))


def dependency_note(exercise: Exercise, dependency: Exercise) -> str:
    """The sentence that points from a failing exercise to a failing one it depends on."""
    how = "runs it first to build the cache" if dependency.name in exercise.needs else "calls it"
    return (
        f"Your {dependency.name} ({dependency.number}) does not pass its own check, and "
        f"{exercise.name} {how}: fix {dependency.name} first, this failure may come from there."
    )


def failing_dependencies(
    exercise: Exercise, fn: Callable, helpers: dict, result: dict | None = None
) -> tuple[list[str], list[str]]:
    """Notes for the learner's functions this one relies on that fail their own public cases,
    and other notes (where to look instead, when they all pass).

    A function in ``needs`` is the one the learner passed in; one in ``uses`` is
    looked up where the learner's function looks it up (its module's globals).
    When they all pass and a sequence backward still fails on its values
    (``result``, no catalogued mistake named), the note points at the forward's
    caches instead; a failure of another kind (an input changed in place, a
    wrong shape) is the backward's own and says so itself.
    """
    notes = []
    passing_steps = []
    scope = getattr(fn, "__globals__", {})
    for dep in exercise.needs + exercise.uses:
        dependency = EXERCISES.get(dep)
        dep_fn = helpers.get(dep) or scope.get(dep)
        if dependency is None or not callable(dep_fn):
            continue
        if result is not None and fix_first(dep) in result["message"]:  # its crash already says so
            continue
        dep_helpers = {k: scope.get(k) for k in dependency.needs}
        if not all(map(callable, dep_helpers.values())):
            continue
        try:
            outcome = evaluate(dependency, dep_fn, *load_fixture(dependency), helpers=dep_helpers)
        except Exception:  # noqa: BLE001 — a note is a courtesy: never let it hide the verdict
            continue
        if outcome["status"] != "pass":
            notes.append(dependency_note(exercise, dependency))
        elif dep in exercise.uses and exercise.needs:
            passing_steps.append(dep)
    if not notes and passing_steps and result is not None and _values_failure(result) and not result["mistakes"]:
        return [], [cache_note(exercise, passing_steps[0])]
    return notes, []


def _values_failure(result: dict[str, Any]) -> bool:
    return result["status"] == "fail" and result.get("failed") == "values"


def cache_note(exercise: Exercise, step: str) -> str:
    """Where to look when a sequence backward fails although the step backward it calls passes."""
    forward = exercise.needs[0]
    return (
        f"Your {step} passes its own check, so look at how {exercise.name} loops over the steps, and at "
        f"the caches your {forward} stores: each step's cache must hold that step's own arrays. A {forward} "
        "that writes every state into one array it reuses (buf[...] = h_next) leaves every step's cache "
        "holding the last state, while its h output can still be right."
    )
