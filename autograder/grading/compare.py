"""Hidden cases, the reference's answers on them, and the verdict on what the child returned.

Everything here runs in the parent. The child's outputs arrive as plain JSON;
they are decoded with :func:`autograder.suites.core.decode` (numeric dtypes
only) and judged by the self-check's own :func:`~autograder.checks.runner.evaluate`
(fed the child's outputs instead of calling anything), so a learner reads the
same sentence in the grade report as in the notebook.

Scoring: an exercise scores its full points when every hidden case passes,
else 0. Its cases each isolate one part of the computation, so a partial
score per case would reward a function that is wrong in a way the cases were
designed to expose.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from typing import Any

import numpy as np

from autograder.checks.runner import (
    PROPERTY_ORDER,
    cache_note,
    crash_note,
    dependency_first,
    dependency_note,
    evaluate,
    fix_first,
    helper_failed,
    later_crash,
    later_crash_note,
    report_lines,
)
from autograder.reference import MISTAKES, REFERENCE
from autograder.suites import EXERCISES
from autograder.suites.core import CallProblem, Case, Exercise, copy_inputs, decode, encode, unpack


@dataclasses.dataclass
class Hidden:
    """One exercise's hidden cases and what the reference and each mistake return on them."""

    exercise: Exercise
    seed: int
    cases: list[Case]
    expected: list[dict]
    mistakes: list[dict]

    def request(self) -> dict:
        """The message that asks the child to run this exercise (inputs only)."""
        ex = self.exercise
        return {
            "op": "run",
            "name": ex.name,
            "needs": list(ex.needs),
            "returns": list(ex.returns),
            "graded": list(ex.graded),
            "cases": [{k: encode(v) for k, v in case.inputs.items()} for case in self.cases],
        }


@dataclasses.dataclass
class ExerciseResult:
    name: str
    number: str
    max_points: float
    points: float
    status: str  # pass, fail, not_attempted, error, timeout, memory, crash
    message: str
    lines: list[str] = dataclasses.field(default_factory=list)
    mistake: str | None = None  # the key of a catalogued mistake it matches
    graded: bool = True  # False: never run (the notebook's time budget ran out, or too many crashes)
    failed: str | None = None  # a failing verdict's property: "values", "inputs", "shape", ...
    dependency: str | None = None  # a function it relies on that failed too (the verdict says so first)


def derived_seed(run_seed: int, exercise: Exercise) -> int:
    digest = hashlib.sha256(f"{run_seed}:{exercise.lesson}:{exercise.name}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def _graded(exercise: Exercise, fn, inputs: dict, helpers: dict) -> dict:
    with np.errstate(all="ignore"):
        raw = exercise.run(fn, copy_inputs(inputs), helpers)
    outputs, returned = unpack(exercise, raw)
    if not returned.ok:
        raise RuntimeError(returned.message)
    return {name: outputs[name] for name in exercise.graded}


def hidden_cases(exercise: Exercise, run_seed: int) -> Hidden:
    """Fresh cases from the run's seed; reference and mistake outputs on them."""
    seed = derived_seed(run_seed, exercise)
    cases = exercise.make_cases(np.random.default_rng(seed))
    helpers = {name: REFERENCE[name] for name in exercise.needs}
    expected = [_graded(exercise, REFERENCE[exercise.name], c.inputs, helpers) for c in cases]
    mistakes = []
    for case in cases:
        by_key = {}
        for m in exercise.mistakes:
            fn = MISTAKES.get(exercise.name, {}).get(m.key)
            if fn is None:
                continue
            try:  # its outputs, or the Problem it meets instead (as in the fixtures)
                by_key[m.key] = exercise.outcome(fn, case.inputs, helpers)
            except Exception:  # noqa: BLE001 — only NotImplementedError gets here: it names nothing
                continue
        mistakes.append(by_key)
    return Hidden(exercise, seed, cases, expected, mistakes)


# --------------------------------------------------------------------------
# From the child's plain reply back to values
# --------------------------------------------------------------------------


def _opaque(type_name: str) -> Any:
    """A stand-in whose type has the name the child reported ("list", "NoneType", ...)."""
    name = "".join(ch for ch in str(type_name)[:60] if ch.isprintable()) or "object"
    return type(name, (), {})()


def restore(described: Any) -> Any:
    if not isinstance(described, dict):
        return _opaque("unreadable value")
    if "type" in described:
        if described["type"] in ("list", "tuple") and isinstance(described.get("shapes"), list):
            try:  # a list of arrays: only their shapes came back, which is all a message says of them
                shapes = [tuple(int(n) for n in shape[:33]) for shape in described["shapes"][:64]]
                if any(len(shape) > 32 for shape in shapes):
                    raise ValueError("more axes than NumPy allows")
                items = [np.broadcast_to(np.zeros(()), shape) for shape in shapes]
                return items if described["type"] == "list" else tuple(items)
            except (TypeError, ValueError, OverflowError):
                pass
        return _opaque(described["type"])
    if not (described.get("big") or described.get("odd")):
        try:
            return decode(described)
        except (KeyError, TypeError, ValueError, OverflowError):
            if "dtype" not in described or "shape" not in described:
                return _opaque("unreadable value")
    # Only its shape and dtype matter: too big to be right, or of a dtype that is never right
    # (complex, strings, objects; or one decode refuses, such as uint32).
    try:
        dtype = np.dtype(str(described["dtype"]))
        if dtype.itemsize > 2**16:  # a dtype of megabytes is no one's answer (one element is built)
            raise ValueError(dtype)
        return np.broadcast_to(np.zeros((), dtype=dtype), tuple(int(s) for s in described["shape"]))
    except (TypeError, ValueError, KeyError, OverflowError):
        return _opaque(f"ndarray of dtype {str(described.get('dtype'))[:40]}")


def restore_return(exercise: Exercise, result: dict) -> Any:
    if "value" in result:
        return restore(result["value"])
    items = result.get("items", {})
    length = int(result.get("tuple", 0))
    kind = list if result.get("list") is True else tuple
    return kind(restore(items[str(i)]) if str(i) in items else None for i in range(min(length, 64)))


# --------------------------------------------------------------------------
# The verdict
# --------------------------------------------------------------------------


def _result(
    hidden: Hidden, status: str, message: str, lines: list[str] | None = None, mistake=None, failed=None
) -> ExerciseResult:
    ex = hidden.exercise
    points = float(ex.points) if status == "pass" else 0.0
    lines = lines or report_lines(ex, {"status": "error", "message": message}, len(hidden.cases))
    return ExerciseResult(ex.name, ex.number, float(ex.points), points, status, message, lines, mistake, failed=failed)


def judge(hidden: Hidden, reply: dict, memory_mb: int) -> ExerciseResult:
    """The verdict on the child's reply to :meth:`Hidden.request`."""
    ex = hidden.exercise
    status = reply.get("status")
    case_name = _case_name(hidden, reply.get("case"))
    error, trace = short(reply.get("error"), MAX_ERROR_NAME), tail(reply.get("traceback", ""), MAX_TRACEBACK)
    if status == "missing":
        return _result(
            hidden,
            "not_attempted",
            f"{ex.name} is not defined when it is graded: its solution cell is missing, "
            "did not run, or does not define a function of that name",
        )
    if status == "helper_missing" and reply.get("helper") in ex.needs:
        helper = str(reply["helper"])
        return _result(
            hidden,
            "error",
            f"{ex.name} could not be checked: the check runs your {helper} first, and {helper} is not defined "
            f"when it is graded (its solution cell is missing, did not run, or does not define it). "
            + fix_first(helper),
        )
    if status == "helper_error":
        if reply.get("helper") in ex.needs:
            message = helper_failed(ex, str(reply["helper"]), case_name, trace)["message"]
        else:  # the child named no function the check runs first: say what is known, nothing more
            message = f"{ex.name} could not be checked: a function the check runs first raised an error on case '{case_name}':\n{trace}"
        return _result(hidden, "error", message)
    if status == "error":
        earlier = reply.get("cases")
        index = reply.get("case")
        if isinstance(earlier, list) and isinstance(index, int) and 0 < len(earlier) == index < len(hidden.cases):
            # The cases before the crash: if one of them failed, that is the verdict.
            before = dataclasses.replace(
                hidden, cases=hidden.cases[:index], expected=hidden.expected[:index], mistakes=hidden.mistakes[:index]
            )
            outcome = _evaluate(before, _replay(ex, earlier))
            if outcome["status"] == "fail":
                outcome.update(later_crash(error, short(reply.get("message") or "", MAX_ERROR_NAME), hidden.cases[index]))
                outcome["message"] += later_crash_note(outcome)
                lines = [redact(line) for line in report_lines(ex, outcome, len(hidden.cases))]
                mistake = outcome["mistakes"][0].key if outcome["mistakes"] else None
                return _result(hidden, "fail", redact(outcome["message"]), lines, mistake, outcome.get("failed"))
        message = f"{ex.name} raised {error} on case '{case_name}':\n{trace}"
        # As in the notebook: a catalogued mistake that raises this very error here is named, else the case's hint.
        found = _crash_named(hidden, earlier, index, error, reply.get("message"))
        if isinstance(index, int) and 0 <= index < len(hidden.cases):
            message += crash_note([found] if found else [], hidden.cases[index])
        return _result(hidden, "error", message, mistake=found.key if found else None)
    if status == "memory":
        return _result(
            hidden, "memory", f"{ex.name} ran out of memory on case '{case_name}' (the limit is {memory_mb} MiB)"
        )
    if status == "not_attempted":
        outcome = _evaluate(hidden, _raise_not_implemented)
    elif status == "ok" and isinstance(reply.get("cases"), list) and len(reply["cases"]) == len(hidden.cases):
        outcome = _evaluate(hidden, _replay(ex, reply["cases"]))
    else:
        return _result(hidden, "crash", f"{ex.name}: the grader got a garbled answer from your code")
    lines = [redact(line) for line in report_lines(ex, outcome, len(hidden.cases))]
    status = outcome["status"]
    mistake = outcome["mistakes"][0].key if outcome["mistakes"] else None
    message = redact(outcome["message"])
    return _result(hidden, status, message, lines, mistake, outcome.get("failed"))


MAX_ERROR_NAME = 200
MAX_TRACEBACK = 4000


def short(value: Any, limit: int) -> str:
    """At most ``limit`` characters of what the child sent (it may send anything)."""
    text = str(value)
    return text if len(text) <= limit else text[:limit] + " [...]"


def tail(value: Any, limit: int) -> str:
    """The last ``limit`` characters: a traceback's end says where it went wrong."""
    text = str(value)
    return text if len(text) <= limit else "[...] " + text[-limit:]


def note_failing_dependencies(results: list[ExerciseResult]) -> None:
    """Point each failing exercise at the failing exercises it relies on (calls, or runs first).

    Only a dependency that was graded and did not pass is named: one left ungraded
    (the notebook's time budget ran out, or too many crashes) proves nothing.
    """
    by_name = {r.name: r for r in results}
    for result in results:
        if result.status == "pass":
            continue
        exercise = EXERCISES[result.name]
        failing = [
            dep
            for dep in exercise.needs + exercise.uses
            if fix_first(dep) not in result.message  # the crash of that very function already says so
            and dep in by_name and by_name[dep].status != "pass" and by_name[dep].graded
        ]
        if failing:  # as in the notebook: said first, and no catalogued mistake that may blame the wrong place
            notes = [dependency_note(exercise, EXERCISES[d]).replace("its own check", "its own hidden cases") for d in failing]
            result.lines, result.message = dependency_first(result.lines, result.message, notes)
            result.dependency = failing[0]
            continue
        steps = [d for d in exercise.uses if d in by_name and by_name[d].status == "pass"]
        if exercise.needs and steps and result.status == "fail" and result.failed == "values" and result.mistake is None:
            note = cache_note(exercise, steps[0]).replace("its own check", "its own hidden cases")
            result.message += f"\n{note}"
            result.lines.append(f"  → {note}")


_AT_INDEX = re.compile(r"\(at index (\([^)]*\)): expected [^,]+, got [^)]+\)")
_NUMBER = re.compile(r"\(expected [^,()]+, got ([^)]+)\)")  # one number's error: "(expected 1.5, got 2)"
_INTEGER = re.compile(r"(\w+): expected -?\d+, got (-?\d+)")


def redact(text: str) -> str:
    """The self-check's sentence without the reference's values (hidden outputs stay hidden)."""
    text = text.replace("public cases", "hidden cases")
    text = _AT_INDEX.sub(r"(worst at index \1)", text)
    text = _NUMBER.sub(r"(got \1)", text)
    return _INTEGER.sub(r"\1: got \2, which is not the right value", text)


def fault(hidden: Hidden, kind: str, detail: str, timeout: float) -> ExerciseResult:
    """The verdict when the call never answered: it looped, or killed its process."""
    name = hidden.exercise.name
    if kind == "timeout":
        return _result(
            hidden, "timeout", f"{name} did not return within {timeout:g} s on its hidden cases "
            "(an endless loop, or far too slow); it was stopped"
        )
    return _result(hidden, "crash", f"{name} crashed the process that ran it: {detail}")


def _case_name(hidden: Hidden, index: Any) -> str:
    if isinstance(index, int) and 0 <= index < len(hidden.cases):
        return hidden.cases[index].name
    return "?"


def _once(fn, inputs: dict, helpers: dict):
    return fn(**inputs)


def _evaluate(hidden: Hidden, fn) -> dict:
    ex = dataclasses.replace(hidden.exercise, call=_once)  # the child already made the calls: replay each once
    return evaluate(ex, fn, hidden.cases, hidden.expected, hidden.mistakes)


def _crash_named(hidden: Hidden, earlier: Any, index: Any, error: str, message: Any):
    """The catalogued mistake that gives the same outputs on the cases before the crash and
    raises the same error (type and message) on it, or None."""
    if not (isinstance(earlier, list) and isinstance(index, int) and len(earlier) == index < len(hidden.cases)):
        return None
    if not isinstance(message, str) or not error.isidentifier():
        return None
    crash = type(error, (Exception,), {})(message[:2000])
    replies = iter(earlier)

    def replay_then_raise(**given):
        reply = next(replies, None)
        if reply is None:
            raise crash
        return _replay(hidden.exercise, [reply])(**given)

    upto = dataclasses.replace(
        hidden, cases=hidden.cases[: index + 1], expected=hidden.expected[: index + 1], mistakes=hidden.mistakes[: index + 1]
    )
    outcome = _evaluate(upto, replay_then_raise)
    return outcome["mistakes"][0] if outcome["status"] == "error" and outcome["mistakes"] else None


def _raise_not_implemented(**inputs):
    raise NotImplementedError


def _replay(exercise: Exercise, replies: list[dict]):
    """A stand-in for the learner's function that returns what it returned in the child."""
    calls = iter(replies)

    def replay(**given):
        reply = next(calls)
        problem = reply.get("problem")
        if isinstance(problem, dict):
            prop = problem.get("prop") if problem.get("prop") in PROPERTY_ORDER else "returns"
            raise CallProblem(prop, str(problem.get("message", "the call went wrong"))[:2000])
        for name, described in (reply.get("after") or {}).items():
            after = restore(described)
            if name in given and isinstance(given[name], np.ndarray) and isinstance(after, np.ndarray):
                if after.shape == given[name].shape:
                    given[name][...] = after  # the call changed its input in place
        return restore_return(exercise, reply.get("result") or {})

    return replay
