"""The description of an exercise that both tiers share.

An :class:`Exercise` says what is graded and how, once:

* the function under test (its name in the learner's notebook) and its points;
* how to call it (:attr:`Exercise.call`) and which returned values are graded;
* how to draw inputs (:attr:`Exercise.make_cases`): isolated cases, each
  switching on one part of the computation so that every catalogued mistake
  shows, followed by a combined random case so interacting bugs cannot pass;
* tolerances, and the catalogue of known :class:`Mistake` s, in words.

This module and the lesson suites are public: they hold no solution. The
self-check tier reads the expected outputs (and the outputs each mistake
produces) from ``data/fixtures/``; the grader computes them on fresh inputs
from ``autograder.reference``. Both compare with :func:`compare_outputs`, so a
learner sees the same verdict in the notebook as in the grade report.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import math
import re
import types
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

Arrays = dict[str, Any]


class NotAttempted(Exception):
    """The function still raises ``NotImplementedError``: the stub is untouched."""


class CallProblem(Exception):
    """What a ``call`` found wrong in how the function behaved, other than a crash.

    Raised by :attr:`Exercise.call` (e.g. a return value of the wrong nesting, a
    cache or a list argument changed in place); both tiers report it as one
    failing property of that case, like any other finding. The message says what
    is wrong ("dh0s should hold 4 arrays, ..."); the verdict puts the function's
    name in front of it, unless the message already starts with that name.
    """

    def __init__(self, prop: str, message: str):
        super().__init__(message)
        self.prop = prop
        self.message = message


class HelperFailed(Exception):
    """A function the check runs first (one of :attr:`Exercise.needs`) raised."""

    def __init__(self, name: str, error: BaseException):
        super().__init__(f"{name} raised {type(error).__name__}")
        self.name = name
        self.error = error


def run_helper(helpers: Mapping[str, Callable], name: str, *args: Any, returns: str = "") -> Any:
    """Call the learner's ``name`` (a ``needs`` helper); a crash in it is blamed on it.

    A stub (``NotImplementedError``) passes through, so the check says "not attempted".
    ``returns`` ("(h, cache)") is what it should return: anything else is reported
    as its fault, not as a crash of the function under test that unpacks it.
    """
    try:
        result = helpers[name](*args)
    except NotImplementedError:
        raise
    except Exception as exc:
        raise HelperFailed(name, exc) from exc
    count = returns.count(",") + 1
    if returns and not (isinstance(result, (tuple, list)) and len(result) == count):
        got = described(result, returned=True)
        raise CallProblem(
            "returns",
            f"your {name}, which the check runs first to build the cache, returned {got}; it should "
            f"return a tuple {returns}. Fix {name} first (its own check is check.{name})",
        )
    return result


def article(word: str) -> str:
    """``word`` with its indefinite article, by sound: "a list", "an int", "an ndarray" (en-dee-array)."""
    vowel_sound = word[:1].lower() in "aeiou" or word.lower().startswith("nd")
    return f"{'an' if vowel_sound else 'a'} {word}"


NONE_RETURNED = (
    "None (what a function returns when it ends without reaching a return statement: is the return "
    "missing, or only inside an if or a loop?)"
)


def described(value: Any, count: bool = True, returned: bool = False) -> str:
    """A value of the wrong kind as a message names it: "a tuple of 3", "an ndarray", "None". By the
    type's name, so a stand-in the grader rebuilt from the child's reply (whose type only has the
    name) reads the same. ``count=False`` leaves out a tuple's length, which the grader keeps only
    for the value a function returns; ``returned`` (it is that value) gives None's usual cause."""
    kind = type(value).__name__
    if kind == "NoneType":
        return NONE_RETURNED if returned else "None"
    if isinstance(value, (np.bool_, np.integer, np.floating)):  # the grader's reply carries them as Python's
        kind = "bool" if isinstance(value, np.bool_) else "int" if isinstance(value, np.integer) else "float"
    if count and isinstance(value, (tuple, list)):
        return f"{article(kind)} of {len(value)}"
    return article(kind)


def _not_an_array(name: str, expected: np.ndarray, actual: Any) -> str:
    """What came instead of an array, and how it would become the one asked for where that shows:
    a list of arrays (stacked or joined along which axis), a single number (a sum over every axis)."""
    kind = type(actual).__name__
    shapes = listed_shapes(actual)
    if shapes is not None:
        k, want = len(shapes), tuple(expected.shape)
        got = f"{article(kind)} of {k} array{'s' if k > 1 else ''}"
        if all(sh == want for sh in shapes):
            each = "each of the shape" if k > 1 else "of the shape"
            return f"{got}, {each} of {name}, {want} (one array is asked for: the last one? their sum?)"
        if len(set(shapes)) == 1:
            axes = [i for i in range(len(want)) if want[i] == k and want[:i] + want[i + 1 :] == shapes[0]]
            if len(axes) == 1:
                return f"{got} (np.stack(..., axis={axes[0]}) would give the shape of {name}, {want})"
            if axes:  # sizes that coincide (N == T): the learner knows which one the list runs along
                which = " or ".join(str(i) for i in axes)
                return f"{got} (np.stack along axis {which}, the one your list runs along, would give the shape of {name}, {want})"
        if all(len(sh) == len(want) for sh in shapes):
            differ = {i for sh in shapes for i in range(len(want)) if sh[i] != want[i]}
            if len(differ) == 1:
                (i,) = differ
                if sum(sh[i] for sh in shapes) == want[i]:
                    return f"{got} (np.concatenate(..., axis={i}) would give the shape of {name}, {want})"
        return got
    got = described(actual, count=False)
    if kind == "list":
        return f"{got} (one array is asked for: np.stack and np.concatenate join a list of arrays into one)"
    if got == "a float" and expected.ndim >= 1:
        return (
            f"{got}: one number where an array of shape {tuple(expected.shape)} belongs (a sum or mean over "
            "every axis? Give it the axis to reduce, e.g. .sum(axis=0))"
        )
    if got == "an int" and expected.ndim >= 1:
        return f"{got}: one number where an array of shape {tuple(expected.shape)} belongs (a placeholder such as 0 never replaced?)"
    return got


def dtype_name(dtype: np.dtype) -> str:
    """A dtype as messages name it. A structured (void) dtype by its size alone: the grader's child
    sends that much, so that both tiers say the same."""
    return f"a structured dtype of {dtype.itemsize} bytes" if dtype.kind == "V" else str(dtype)


def listed_shapes(value: Any) -> list[tuple[int, ...]] | None:
    """The shapes of the arrays in ``value`` when it is exactly a list or tuple of 1 to 64 arrays
    (subclasses read as plain ones) of at most 32 axes; else None. The grader's child sends these
    shapes for such a value, so the hints built on them read the same in both tiers."""
    if type(value) not in (list, tuple) or not 0 < len(value) <= 64:
        return None
    if not all(isinstance(v, np.ndarray) for v in value):
        return None
    shapes = [tuple(int(n) for n in np.ndarray.view(v, np.ndarray).shape) for v in value]
    return shapes if all(len(shape) <= 32 for shape in shapes) else None


def shape_hint(expected: tuple[int, ...], actual: tuple[int, ...]) -> str:
    """What a wrong shape most likely comes from, when its sizes say: "" when they say nothing."""
    try:
        return _shape_hint(tuple(expected), tuple(actual))
    except Exception:  # noqa: BLE001 — a courtesy (an axis of size 0, say): it must not hide the verdict
        return ""


def _shape_hint(expected: tuple[int, ...], actual: tuple[int, ...]) -> str:
    if sorted(expected) == sorted(actual):
        if len(actual) == 2:
            return "the same sizes in another order: transposed (a matmul's factors the other way round, or a .T too many)?"
        return (
            "the same sizes in another order: are axes swapped (batch and time exchanged, or a .T, which "
            "reverses every axis of a 3-D array where .transpose(1, 0, 2) swaps only the first two)?"
        )
    if tuple(d for d in expected if d != 1) == tuple(d for d in actual if d != 1):
        if len(actual) > len(expected):
            return "an extra axis of size 1 (from keepdims=True, [None] or a reshape?)"
        return "an axis of size 1 is missing (dropped by np.squeeze, or by indexing with [i] where [i:i+1] keeps it?)"
    if math.prod(expected) != math.prod(actual):
        return ""
    if len(actual) == len(expected):
        differ = [i for i in range(len(actual)) if actual[i] != expected[i]]
        if len(differ) == 2:
            i, j = sorted(differ, key=lambda n: actual[n] < expected[n])  # i too long, j too short
            if actual[i] > expected[i] and actual[i] % expected[i] == 0:
                return (
                    f"axis {i} has {actual[i]} entries where {expected[i]} belong and axis {j} {actual[j]} where "
                    f"{expected[j]} belong: joined along axis {i} where axis {j} was meant?"
                )
    if len(actual) == len(expected) + 1:
        fits = []  # (k, m, j): removing axis m (of size k) leaves axis j k times too short, all else right
        for m, k in enumerate(actual):
            rest = actual[:m] + actual[m + 1 :]
            differ = [j for j in range(len(rest)) if rest[j] != expected[j]]
            if k >= 2 and len(differ) == 1 and expected[differ[0]] == k * rest[differ[0]]:
                fits.append((k, m, differ[0]))
        if fits:  # where several fit, the fewest arrays stacked: two directions, not four halves
            k, m, j = min(fits)
            return (
                f"an extra axis (axis {m}, of size {k}), and {expected[j] // k} entries where {expected[j]} belong "
                f"along axis {j}: np.stack adds a new axis where np.concatenate(..., axis={j}) joins along an existing one"
            )
    return "the right number of entries in another shape: flattened, reshaped or joined along another axis?"


@dataclasses.dataclass
class _Held:
    """A container as it was: its type, the objects it held, and a snapshot of each."""

    kind: type
    originals: Any  # the items themselves (list, or dict for a dict), to tell a reordering from a write
    items: Any  # their snapshots, in the same layout
    shape: tuple | None = None  # of an object array (held item by item, in flat order)
    attrs: bool = False  # a record (SimpleNamespace, dataclass): its attributes, held like a dict's items

    @property
    def keyed(self) -> bool:
        return self.kind is dict or self.attrs


def _is_record(obj: Any) -> bool:
    """A SimpleNamespace or a dataclass instance: a cache may well be one."""
    return isinstance(obj, types.SimpleNamespace) or (dataclasses.is_dataclass(obj) and not isinstance(obj, type))


def _fields(obj: Any) -> dict:
    """A record's attributes by name (also for a dataclass with __slots__)."""
    if hasattr(obj, "__dict__"):
        return dict(vars(obj))
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


def _keyed_items(before: _Held, obj: Any) -> Any:
    """What ``obj`` holds, in the layout of ``before``'s items."""
    if before.attrs:
        return _fields(obj)
    return list(obj.flat) if before.kind is np.ndarray else obj


def _snapshot(obj: Any) -> Any:
    """A deep copy of the containers and arrays of ``obj`` (other objects by identity)."""
    if isinstance(obj, np.ndarray):
        if obj.dtype == object:  # a container of Python objects (a cache per layer): held like a list
            return _Held(np.ndarray, list(obj.flat), [_snapshot(v) for v in obj.flat], obj.shape)
        return obj.copy()
    if isinstance(obj, (list, tuple)):
        return _Held(type(obj), list(obj), [_snapshot(v) for v in obj])
    if isinstance(obj, dict):
        return _Held(dict, dict(obj), {k: _snapshot(v) for k, v in obj.items()})
    if _is_record(obj):
        fields = _fields(obj)
        return _Held(type(obj), fields, {k: _snapshot(v) for k, v in fields.items()}, attrs=True)
    return obj


def _changed_container(before: _Held, obj: Any, where: str) -> str | None:
    """How the container ``obj`` itself changed (its items, their order), not what is inside them."""
    if before.kind is np.ndarray:
        if not isinstance(obj, np.ndarray) or obj.dtype != object or obj.shape != before.shape:
            return f"{where} was replaced"
        obj = list(obj.flat)
    elif type(obj) is not before.kind:
        return f"{where} is now {article(type(obj).__name__)}, not {article(before.kind.__name__)}"
    if before.keyed:
        obj = _keyed_items(before, obj)
        what = "attribute" if before.attrs else "item"
        lost = [k for k in before.originals if k not in obj]
        if lost:
            return f"{where} lost its {what} {lost[0]!r}"
        added = [k for k in obj if k not in before.originals]
        if added:
            return f"{where} gained an {what} {added[0]!r}"
        replaced = [k for k, v in before.originals.items() if obj[k] is not v]
        return f"{where}[{replaced[0]!r}] was replaced" if replaced else None
    now, was = list(obj), before.originals
    if len(now) != len(was):
        what = "lost items" if len(now) < len(was) else "gained items"
        return f"{where} {what}: it held {len(was)}, now {len(now)}"
    moved = [i for i, (a, b) in enumerate(zip(now, was)) if a is not b]
    if not moved:
        return None
    if sorted(map(id, now)) == sorted(map(id, was)):  # the same objects, in another order
        return f"{where} was reordered: the same items in another order, as after {where}.reverse()"
    return f"{where}[{moved[0]}] was replaced"


def _changed_part(before: Any, obj: Any, where: str) -> str | None:
    """How ``obj`` no longer equals its snapshot ``before``, in words, or None.

    A container is compared as a whole first (items lost, gained, reordered or
    replaced: "cache was reordered: ..."), then item by item ("cache[2][1] was
    written to"), so that ``cache.reverse()`` is not reported as a write into
    its first item.
    """
    if isinstance(before, np.ndarray):
        if not isinstance(obj, np.ndarray) or obj.shape != before.shape:
            return f"{where} was replaced"
        same = np.array_equal(obj, before, equal_nan=before.dtype.kind in "fc")  # isnan knows no strings
        return None if same else f"{where} was written to"
    if isinstance(before, _Held):
        found = _changed_container(before, obj, where)
        if found:
            return found
        keys = before.items.keys() if before.keyed else range(len(before.items))
        items = _keyed_items(before, obj)
        for k in keys:
            found = _changed_part(before.items[k], items[k], f"{where}.{k}" if before.attrs else f"{where}[{k!r}]")
            if found:
                return found
        return None
    return None if obj is before else f"{where} was replaced"


def call_on_cache(fn: Callable, name: str, *args: Any) -> Any:
    """``fn(*args)``, whose last argument is a cache, checking that the call leaves it as it was.

    A backward pass that writes into its cache (``z *= ...``, ``cache.pop()``,
    ``cache.reverse()``) gives other gradients when it is called again, e.g. by a
    gradient check.
    """
    before = _snapshot(args[-1])
    raw = fn(*args)
    change = _changed_part(before, args[-1], "cache")
    if change is not None:
        raise CallProblem(
            "inputs",
            f"{name} changed its cache in place ({change}); read the cache, never write to it, "
            "reorder it or pop from it: a second call (a gradient check, another loss) must see the "
            "forward pass's values",
        )
    return raw


def call_keeping_inputs(fn: Callable, name: str, **args: Any) -> Any:
    """``fn(*args.values())``, checking that the call leaves its list, tuple and dict arguments as they were.

    Input arrays are compared after every call (:func:`inputs_unchanged`); the
    lists a ``call`` builds from them (``h0s``, ``params``) exist only inside the
    call, so they are checked here: a function that empties or reorders the
    caller's list (``h0s.pop(0)``, ``params.reverse()``) or writes into an array
    in it is reported by the argument's name. The function is then called once
    more on other inputs (:func:`check_kept`): its first result must not change.
    """
    held = {k: _snapshot(v) for k, v in args.items() if isinstance(v, (list, tuple, dict))}
    pristine = _copied(list(args.values()))
    raw = fn(*args.values())
    for arg, before in held.items():
        change = _changed_part(before, args[arg], arg)
        if change is not None:
            raise CallProblem(
                "inputs",
                f"{name} changed its input {arg} in place ({change}); leave the arguments as they "
                "came, the caller still needs them: read them (iterate, index, reversed(...)) or work "
                "on copies, never pop, append, reorder or += on them",
            )
    check_kept(fn, name, raw, *pristine)
    return raw


def _map_arrays(value: Any, fn: Callable[[np.ndarray], Any]) -> Any:
    """``value`` with ``fn`` applied to its arrays; lists, tuples and dicts rebuilt, the rest kept."""
    if isinstance(value, np.ndarray):
        return fn(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_map_arrays(v, fn) for v in value)
    if isinstance(value, dict):
        return {k: _map_arrays(v, fn) for k, v in value.items()}
    return value


def decoy(value: Any) -> Any:
    """Other inputs of the same kind: what a function is called on once more, to see that it
    keeps no state between calls.

    Float arrays are flipped along every axis (the same values in another order, so
    whatever holds of them still does: signs, ranges, rows that sum to one); lists,
    tuples and dicts are rebuilt from their items' decoys; everything else is kept.
    """
    return _map_arrays(value, lambda a: np.flip(a).copy() if a.dtype.kind == "f" else a)


def _copied(value: Any) -> Any:
    """Arrays copied, lists, tuples and dicts rebuilt; other objects kept."""
    return _map_arrays(value, np.copy)


def _quietly(fn: Callable, *args: Any) -> Any:
    """``fn(*args)`` with its prints and NumPy warnings swallowed (a check's extra call)."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return fn(*args)


def _written(before: Any, obj: Any, where: str) -> str | None:
    """The first array held in snapshot ``before`` of ``obj`` whose values have changed since, or None.

    Only array contents count: a container that gained items or an object that was
    replaced is a design choice (a growing log), not a buffer handed out twice.
    """
    if isinstance(before, np.ndarray):
        if isinstance(obj, np.ndarray) and obj.shape == before.shape and obj.dtype == before.dtype:
            if not np.array_equal(obj, before, equal_nan=before.dtype.kind in "fc"):
                return f"{where} was written to"
        return None
    if isinstance(before, _Held):
        keys = before.items.keys() if before.keyed else range(len(before.items))
        for k in keys:
            found = _written(before.items[k], before.originals[k], f"{where}.{k}" if before.attrs else f"{where}[{k!r}]")
            if found:
                return found
    return None


def _reused(name: str, where: str) -> CallProblem:
    return CallProblem(
        "values",
        f"{name}'s result changed when {name} was called again on other inputs ({where}): it returns "
        "arrays it reuses from call to call (a global or a default-argument buffer), so whoever keeps "
        "a result (a list of states, a cache for backward, the gradients of an earlier batch) gets the "
        "later call's values. Create new arrays on every call",
    )


def check_kept(fn: Callable, name: str, first: Any, *args: Any) -> None:
    """Call ``fn`` once more on decoys of ``args``; ``first``, its earlier result, must not change."""
    before = _snapshot(first)
    try:
        _quietly(fn, *decoy(args))
    except Exception:  # noqa: BLE001 — only the first call is graded; this one looks for reuse
        return
    where = _written(before, first, "the result")
    if where is not None:
        raise _reused(name, where)


def call_fresh(fn: Callable, name: str, *args: Any) -> Any:
    """``fn(*args)``, checking that calling ``fn`` again, on other inputs, leaves this result as it is.

    A function that returns arrays it reuses from call to call (a global buffer, a
    default argument) hands its caller values that the next call overwrites: a list
    of states, or a cache kept for the backward pass, then holds the wrong numbers.
    """
    raw = fn(*args)
    check_kept(fn, name, raw, *args)
    return raw


def watch_step_caches(name: str, step: str) -> Callable[..., Any]:
    """A ``call`` for a sequence forward (``name``) that loops over the learner's ``step`` function.

    While ``fn`` runs, the ``step`` it finds among its globals (the notebook's) is
    replaced by a spy that keeps a snapshot of every cache the step returns (the
    last value it returns). A cache written to after it was returned fails the
    forward: a loop that copies each new state into the array it gave the step
    (``h_prev[...] = h_next``) returns the right h, but every step's cache then
    holds the last state, and the backward pass computes wrong gradients from it.
    Otherwise it is :func:`call_fresh`.
    """

    def call(fn: Callable, inputs: Mapping[str, Any], helpers: Mapping[str, Callable]) -> Any:
        scope = getattr(fn, "__globals__", None)
        original = scope.get(step) if isinstance(scope, dict) else None
        if not callable(original):
            return call_fresh(fn, name, *inputs.values())
        taken: list[tuple[Any, Any]] = []

        def spy(*args: Any, **kwargs: Any) -> Any:
            out = original(*args, **kwargs)
            if isinstance(out, tuple) and out:
                taken.append((out[-1], _snapshot(out[-1])))
            return out

        scope[step] = spy
        try:
            raw = fn(*inputs.values())
        finally:
            if scope.get(step) is spy:  # as it was, unless the learner's code rebound the name itself
                scope[step] = original
        for t, (cache, before) in enumerate(taken):
            where = _written(before, cache, "")
            if where is not None:
                path = where.removesuffix(" was written to")
                part = f"item {path} of the cache of step {t}" if path else f"the cache of step {t}"
                raise CallProblem(
                    "values",
                    f"{name} changed a cache after {step} had returned it: {part} was written to later in "
                    "the loop. The backward pass reads each step's cache and would find a later step's values "
                    "there. This happens when the loop writes each new state into the array it gave the step "
                    "(h_prev[...] = h_next, h_prev += ...), even though h itself can come out right: give the "
                    "next step the new array instead (h_prev = h_next)",
                )
        check_kept(fn, name, raw, *inputs.values())
        return raw

    return call


def call_backward(
    fn: Callable,
    name: str,
    helpers: Mapping[str, Callable],
    forward: str,
    forward_args: Sequence,
    upstream: Sequence,
    returns: str,
) -> tuple[Any, Any]:
    """Run the learner's ``forward`` for a cache, then ``fn(*upstream, cache)``; return both results.

    The order is chosen so that a backward that keeps state between calls fails:

    1. ``forward(*forward_args)`` builds cache A (its outputs are graded by the caller);
    2. ``forward`` runs again on other inputs (decoys), leaving its cache B;
    3. ``fn(*upstream, A)`` is the graded call (cache A must come back unchanged);
    4. ``fn`` runs on B: the gradients of step 3 must not change (no reused output arrays);
    5. ``forward(*forward_args)`` and ``fn`` once more: the gradients must equal step 3's.

    A backward that reads what the last forward left behind (a global set in the
    forward, an array the forward reuses) instead of its cache gets step 3 wrong,
    and step 5 right, and is told why.
    """
    pristine_args, pristine_up = _copied(list(forward_args)), _copied(list(upstream))
    result = run_helper(helpers, forward, *forward_args, returns=returns)
    if hasattr(result[-1], "__next__"):  # a generator, zip(...), reversed(...): read once, then empty
        raise CallProblem(
            "returns",
            f"your {forward}, which the check runs first to build the cache, returned its cache as "
            f"{article(type(result[-1]).__name__)}, an iterator that can be read only once (and not "
            f"reversed); return a list or a tuple, e.g. list(...). Fix {forward} first (its own check "
            f"is check.{forward})",
        )
    # Its outputs as they are now (the cache itself is passed on untouched, whatever its type).
    result = (*(v.copy() if isinstance(v, np.ndarray) else v for v in result[:-1]), result[-1])
    try:
        cache_b = _quietly(helpers[forward], *decoy(tuple(pristine_args)))[-1]
    except Exception:  # noqa: BLE001 — the forward was checked on the real inputs; this call only sets a trap
        cache_b = _ABSENT
    raw = call_on_cache(fn, name, *upstream, result[-1])
    before = _snapshot(raw)
    if cache_b is not _ABSENT:
        try:
            _quietly(fn, *decoy(tuple(pristine_up)), cache_b)
        except Exception:  # noqa: BLE001 — only the graded call counts; this one looks for reuse
            pass
        where = _written(before, raw, "the result")
        if where is not None:
            raise _reused(name, where)
    problem = ""
    try:
        cache_again = _quietly(helpers[forward], *_copied(pristine_args))[-1]
        again = _quietly(fn, *_copied(pristine_up), cache_again)
    except Exception as exc:  # noqa: BLE001
        problem = f"; right after it, it raised {type(exc).__name__}"
    else:
        if not _same_values(before, again):
            problem = ", and other gradients when called right after it"
    if problem:
        raise CallProblem(
            "values",
            f"{name} gave one set of gradients when your {forward} had run again on other inputs "
            f"after building the cache{problem}: it uses something the last {forward} call left "
            "behind (a global variable, or an array the forward reuses from call to call) instead of "
            f"the cache it is given. Put everything {name} needs into the cache, as new arrays on "
            "every forward call",
        )
    return result, raw


def _same_values(before: Any, now: Any) -> bool:
    """Does ``now`` hold the same values as the snapshot ``before`` (up to rounding)?"""
    if isinstance(before, np.ndarray):
        if not isinstance(now, np.ndarray) or now.shape != before.shape or now.dtype != before.dtype:
            return False
        if before.dtype.kind in "fc":
            return bool(np.allclose(now, before, rtol=1e-9, atol=1e-12, equal_nan=True))
        return bool(np.array_equal(now, before))
    if isinstance(before, _Held):
        if before.kind is np.ndarray:
            if not isinstance(now, np.ndarray) or now.shape != before.shape:
                return False
            now = list(now.flat)
        elif type(now) is not before.kind:
            return False
        if before.keyed:
            now = _keyed_items(before, now)
            return now.keys() == before.items.keys() and all(_same_values(before.items[k], now[k]) for k in now)
        now = list(now)
        return len(now) == len(before.items) and all(map(_same_values, before.items, now))
    if isinstance(before, (int, float, complex, np.number, str, bytes)):
        try:
            return bool(now == before) or (now != now and before != before)  # NaN equals NaN here
        except Exception:  # noqa: BLE001 — a number compared with an odd object
            return False
    return True  # other objects (an iterator, a closure): nothing to compare


@dataclasses.dataclass(frozen=True)
class Mistake:
    """A known wrong answer: a short key, what it is, and how to look for it."""

    key: str
    what: str  # "the bias b_h is left out"
    hint: str  # "check that b_h is added inside the tanh"


@dataclasses.dataclass(frozen=True)
class Case:
    """One set of inputs, with a name that says what it isolates."""

    name: str
    inputs: Arrays
    # What a crash on this case most likely means, when the cases before it pass
    # ("the layers have their own widths here: ..."); shown with the traceback.
    hint: str = ""


@dataclasses.dataclass(frozen=True)
class Problem:
    """What a case gave instead of outputs: a problem its ``call`` found, or an error it raised.

    ``kind`` is "call" (a :class:`CallProblem`, or a return value that cannot be
    unpacked) or "raised" (``message`` is then "ValueError: ..."). A catalogued
    mistake is recognised by its problem as by its outputs: the learner's must be
    the same, word for word.
    """

    kind: str
    message: str


def exception_text(exc: BaseException) -> str:
    """``str(exc)``, or "" when even that raises (a learner's exception class may)."""
    try:
        return str(exc)
    except BaseException:  # noqa: BLE001 — whatever its __str__ raises, the check goes on
        return ""


def raised(exc: BaseException) -> Problem:
    return Problem("raised", f"{type(exc).__name__}: {exception_text(exc)}")


@dataclasses.dataclass(frozen=True)
class Exercise:
    """Everything both tiers need to check one graded function."""

    name: str  # the function's name in the notebook, e.g. "rnn_step_forward"
    lesson: str  # "01_rnn_cell"
    number: str  # "1.1", as in the notebook heading
    points: int
    returns: tuple[str, ...]  # names of the returned values, in order
    graded: tuple[str, ...]  # the subset of ``returns`` that is compared
    make_cases: Callable[[np.random.Generator], list[Case]]
    mistakes: tuple[Mistake, ...]
    # Tight: every correct float64 answer agrees with the reference to rounding (1e-13 or better,
    # whatever the BLAS), while a computation that went through float32 is off by about 1e-7. A
    # tolerance between the two makes float32 fail every case in both tiers, not some hidden seeds.
    # Exercises whose answers are approximations (a numerical gradient) set their own.
    rtol: float = 1e-9
    atol: float = 1e-12
    # Other functions of the learner's that this one calls by itself (e.g.
    # rnn_output_forward calls softmax): named when it is "not attempted".
    uses: tuple[str, ...] = ()
    # Functions the check needs besides the one under test, passed in by the
    # learner (``check.rnn_step_backward(rnn_step_backward, rnn_step_forward)``)
    # and by name in the grader; ``call`` receives them as ``helpers``.
    needs: tuple[str, ...] = ()
    # How one case is run: (fn, inputs, helpers) -> the raw return value.
    # The default calls fn with the inputs in order, positionally, through call_fresh.
    call: Callable[..., Any] | None = None
    description: str = ""
    # How the notebook writes the return value, when ``call`` flattens a nested one
    # ("(dx, dh0s, dparams)"); ``returns`` then names the flattened parts.
    returns_as: str = ""
    # How the notebook spells a flattened part, where that differs from its name in
    # ``returns`` (("dW_xh_2", "dparams[2][0] (dW_xh of layer 2)"), ...): messages use it.
    shown: tuple[tuple[str, str], ...] = ()
    # What more to say when an output's values differ: ``explain(name, expected, actual,
    # close)`` returns a clause naming the part that is wrong (which half of a
    # bidirectional h), or "". ``close(a, b)`` compares with this exercise's tolerances.
    explain: Callable[..., str] | None = None

    def label(self, name: str) -> str:
        """``name`` as the learner's notebook spells it."""
        return dict(self.shown).get(name, name)

    def run(self, fn: Callable, inputs: Mapping[str, Any], helpers: Mapping[str, Callable] = {}) -> Any:
        """Call the function under test on one case and return what it returned."""
        if self.call is not None:
            return self.call(fn, dict(inputs), dict(helpers))
        return call_fresh(fn, self.name, *inputs.values())

    def outcome(self, fn: Callable, inputs: Mapping[str, Any], helpers: Mapping[str, Callable] = {}) -> Any:
        """The graded outputs of ``fn`` on one case, or the :class:`Problem` it gave instead.

        How fixtures record the reference and every catalogued mistake. Inputs are
        copied first; a stub's ``NotImplementedError`` passes through.
        """
        try:
            with np.errstate(all="ignore"):
                raw = self.run(fn, copy_inputs(inputs), helpers)
        except NotImplementedError:
            raise
        except CallProblem as exc:
            return Problem("call", exc.message)
        except Exception as exc:  # noqa: BLE001 — a mistake that crashes on a case is recognised by it
            return raised(exc)
        outputs, returned = unpack(self, raw)
        if not returned.ok:
            return Problem("call", returned.message)
        return {name: outputs[name] for name in self.graded}

    def mistake(self, key: str) -> Mistake:
        for m in self.mistakes:
            if m.key == key:
                return m
        raise KeyError(f"{self.name} has no catalogued mistake {key!r}")


# --------------------------------------------------------------------------
# Comparing a result with what was expected
# --------------------------------------------------------------------------


@dataclasses.dataclass
class Finding:
    """One property of one output: passed or not, and a sentence that says so."""

    prop: str  # "returns", "type", "shape", "dtype", "finite", "values", "inputs"
    ok: bool
    message: str
    output: str = ""  # the graded output it is about ("dh0"), where it is about one


def unpack(exercise: Exercise, result: Any) -> tuple[dict[str, Any], Finding]:
    """Split a raw return value into named outputs, or say why it cannot be."""
    names = exercise.returns
    if len(names) == 1:
        if isinstance(result, tuple):  # e.g. (h_next, cache) where h_next alone is asked for
            return {}, Finding(
                "returns", False, f"{exercise.name} should return {names[0]} alone, got a tuple of {len(result)}"
            )
        if type(result).__name__ == "NoneType":  # the function's own return value: say why it may be None
            return {}, Finding("returns", False, f"{exercise.name} should return {names[0]}, got {NONE_RETURNED}")
        return {names[0]: result}, Finding("returns", True, f"returns {names[0]}")
    if not isinstance(result, (tuple, list)) or len(result) != len(names):  # a list of the right length is fine
        got = described(result, returned=True)
        return {}, Finding(
            "returns",
            False,
            f"{exercise.name} should return a tuple ({', '.join(names)}), got {got}",
        )
    said = exercise.returns_as or f"({', '.join(names)})"
    return dict(zip(names, result)), Finding("returns", True, f"returns {said}")


def _is_integer(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_number(value: Any) -> bool:
    """Is ``value`` one real number as an expected output holds it: a float, or a 0-d float array
    (what a ``call`` that wraps a scalar result in ``np.asarray`` gives)?"""
    if isinstance(value, np.ndarray):
        return value.ndim == 0 and value.dtype.kind == "f"
    return isinstance(value, (float, np.floating))


def as_number(value: Any) -> float | None:
    """A learner's scalar result as a float: a Python or NumPy int or float, or a 0-d real array
    (e.g. what ``np.sum`` returns); None for anything else (a bool, an array with entries, a list)."""
    value = plain(value)
    if isinstance(value, np.ndarray):
        if value.ndim != 0 or value.dtype.kind not in "iuf":
            return None
        return float(value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        return None
    try:
        return float(value)
    except OverflowError:  # an int too large for a float
        return float("inf") if value > 0 else float("-inf")


def _not_a_number(name: str, actual: Any) -> str:
    """What came where one number belongs, and its likely cause."""
    got = described(actual, count=False)
    shape = getattr(actual, "shape", None)
    if isinstance(actual, np.ndarray) and isinstance(shape, tuple):
        if actual.size == 1:
            return f"{got} of shape {shape}: one number is asked for (take it out with .item() or float(...))"
        return (
            f"{got} of shape {shape}: one number is asked for (a sum or mean over some axes only, where "
            "every axis belongs?)"
        )
    return got


def plain(value: Any) -> Any:
    """An ndarray subclass (np.ma, or one of the learner's own) as a plain ndarray over the same
    data, so that comparing it runs NumPy's code, not the subclass's; anything else as it is."""
    return np.ndarray.view(value, np.ndarray) if isinstance(value, np.ndarray) else value


def compare_value(name: str, expected: Any, actual: Any, rtol: float, atol: float) -> list[Finding]:
    """Compare one output. Stops at the first property that fails.

    An output the case does not have (``expected`` is None: a layer that this
    case's stack lacks, where ``call`` fills in None) is not compared.
    """
    findings: list[Finding] = []
    actual = plain(actual)
    if expected is None:
        if actual is None:
            return findings
        return [Finding("returns", False, f"{name}: this case has no {name}, got {described(actual, count=False)}")]
    if _is_integer(expected):
        if not _is_integer(actual):
            got = described(actual, count=False)
            if isinstance(actual, (float, np.floating)) and float(actual) == int(expected):
                got += " (the right number: return it as an int, e.g. int(...) or with // instead of /)"
            findings.append(Finding("type", False, f"{name}: expected an integer, got {got}"))
            return findings
        findings.append(Finding("type", True, f"{name} is an integer"))
        if int(actual) != int(expected):
            findings.append(Finding("values", False, f"{name}: expected {int(expected)}, got {int(actual)}"))
        else:
            findings.append(Finding("values", True, f"{name} = {int(actual)}"))
        return findings

    if is_number(expected):  # one number (a loss, a norm): no shape or dtype to speak of
        number = as_number(actual)
        if number is None:
            try:
                got = _not_a_number(name, actual)
            except Exception:  # noqa: BLE001 — a courtesy: an odd object must not hide the verdict
                got = described(actual, count=False)
            findings.append(Finding("type", False, f"{name}: expected a number (a float), got {got}"))
            return findings
        findings.append(Finding("type", True, f"{name} is a number"))
        return findings + _finite_and_values(name, np.asarray(float(expected)), np.asarray(number), rtol, atol)

    expected = np.asarray(expected)
    if not isinstance(actual, np.ndarray):
        try:
            got = _not_an_array(name, expected, actual)
        except Exception:  # noqa: BLE001 — a courtesy: an odd object must not hide the verdict
            got = described(actual, count=False)
        findings.append(Finding("type", False, f"{name}: expected a numpy array, got {got}"))
        return findings
    findings.append(Finding("type", True, f"{name} is a numpy array"))
    if actual.shape != expected.shape:
        findings.append(
            Finding(
                "shape",
                False,
                f"{name}: expected shape {tuple(expected.shape)}, got {tuple(actual.shape)}"
                + (f"; {hint}" if (hint := shape_hint(expected.shape, actual.shape)) else ""),
            )
        )
        return findings
    findings.append(Finding("shape", True, f"{name} has shape {tuple(actual.shape)}"))
    if actual.dtype != expected.dtype:
        findings.append(
            Finding(
                "dtype",
                False,
                f"{name}: expected dtype {expected.dtype}, got {dtype_name(actual.dtype)} "
                "(keep the dtype of the inputs; do not cast)",
            )
        )
        return findings
    findings.append(Finding("dtype", True, f"{name} has dtype {actual.dtype}"))
    return findings + _finite_and_values(name, expected, actual, rtol, atol)


def _finite_and_values(name: str, expected: np.ndarray, actual: np.ndarray, rtol: float, atol: float) -> list[Finding]:
    """The last two properties of an output whose kind, shape and dtype are right."""
    findings: list[Finding] = []
    bad = ~np.isfinite(actual)
    if bad.any() and np.isfinite(expected).all():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        what = (
            f"{int(bad.sum())} of {actual.size} entries are NaN or inf (first at index {first})"
            if actual.ndim
            else f"it is {float(actual)}"
        )
        findings.append(
            Finding(
                "finite",
                False,
                f"{name}: {what}; look for an overflow (exp of a large number) or a division by zero",
            )
        )
        return findings
    findings.append(Finding("finite", True, f"{name} is finite"))
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
        limit = atol + rtol * np.abs(expected.astype(np.float64))
    err = np.where(np.isnan(err), np.inf, err)
    if (err > limit).any():
        worst = np.unravel_index(int(np.argmax(err - limit)), err.shape) if err.ndim else ()
        worst_t = tuple(int(i) for i in worst)
        # Right to 6 or 7 digits and no better: float32 rounding, which the printed values cannot show.
        rounding = (
            expected.dtype == np.float64
            and actual.dtype == np.float64
            and float(err.max()) <= 1e-6 * max(1.0, float(np.abs(expected).max()))
        )
        where = f"at index {worst_t}: " if expected.ndim else ""  # one number has no index to speak of
        findings.append(
            Finding(
                "values",
                False,
                f"{name}: values differ; {'largest ' if expected.ndim else ''}error {float(err.max()):.3g} "
                f"({where}expected {float(expected[worst_t]):.6g}, "
                f"got {float(actual[worst_t]):.6g}); tolerance atol={atol:g}, rtol={rtol:g}"
                + (
                    (
                        "; every entry of it is 0 where the right values are not: an array made with np.zeros and "
                        "never filled in or added to, or a term that is 0 on this case (see what the case sets to 0)?"
                        if expected.ndim
                        else "; it is 0 where the right value is not: a sum that never ran, or a term that is 0 on "
                        "this case (see what the case sets to 0)?"
                    )
                    if not np.any(actual) and np.any(expected)
                    else "; an error this small is about what float32's rounding (7 digits) gives, or a small "
                    "constant added on the way (an epsilon such as + 1e-8): keep float64 throughout "
                    "(no .astype(np.float32) or dtype=np.float32), and the exact formula needs no epsilon"
                    if rounding
                    else (f"; {hint}" if (hint := value_hint(expected, actual, rtol, atol)) else "")
                ),
            )
        )
        return findings
    findings.append(
        Finding("values", True, f"{name} matches (largest error {float(err.max()) if err.size else 0.0:.1e})")
    )
    return findings


def compare_outputs(
    exercise: Exercise, expected: Mapping[str, Any], actual: Mapping[str, Any]
) -> list[Finding]:
    """Compare every graded output; one list of findings for all of them."""
    findings: list[Finding] = []
    for name in exercise.graded:
        found = compare_value(exercise.label(name), expected[name], actual.get(name), exercise.rtol, exercise.atol)
        for f in found:
            f.output = name
        last = found[-1] if found else None
        if exercise.explain is not None and last is not None and last.prop == "values" and not last.ok:
            try:
                more = exercise.explain(name, np.asarray(expected[name]), plain(actual[name]), _closeness(exercise))
            except Exception:  # noqa: BLE001 — a courtesy: an odd array subclass must not hide the verdict
                more = ""
            if more:
                found[-1] = dataclasses.replace(last, message=f"{last.message}; {more}")
        last = found[-1] if found else None
        label = exercise.label(name)
        if last is not None and not last.ok and last.prop == "type":
            try:
                more = _ungraded_in_place(exercise, name, expected, actual)
            except Exception:  # noqa: BLE001 — a courtesy: an odd object must not hide the verdict
                more = ""
            if more:  # said instead of the generic hint: what went where
                got = described(plain(actual.get(name)), count=False)
                found[-1] = dataclasses.replace(last, message=f"{label}: expected a numpy array, got {got}; {more}")
        if last is not None and not last.ok and last.prop in ("shape", "values"):
            try:
                more = _wrong_place(exercise, name, last.prop, expected, actual)
            except Exception:  # noqa: BLE001 — a courtesy: an odd object must not hide the verdict
                more = ""
            if more and last.prop == "shape":  # said instead of the generic hint: what went where
                mine = plain(actual[name])
                base = f"{label}: expected shape {tuple(np.shape(expected[name]))}, got {tuple(mine.shape)}"
                found[-1] = dataclasses.replace(last, message=f"{base}; {more}")
            elif more:
                found[-1] = dataclasses.replace(last, message=f"{last.message}; {more}")
        findings += found
    return findings


def _wrong_place(exercise: Exercise, name: str, prop: str, expected: Mapping[str, Any], actual: Mapping[str, Any]) -> str:
    """When output ``name`` holds what another output should (returned in the wrong order, or
    one output twice), a clause that says so; else "". A shape says so only for a swapped pair."""
    mine, mine_expected = plain(actual.get(name)), expected[name]
    if not isinstance(mine, np.ndarray) or not isinstance(mine_expected, np.ndarray) or not name.isidentifier():
        return ""
    close = _closeness(exercise)
    # The order to return in, when ``returns`` names only what the learner returns (not the check's
    # own counts and flags, nor outputs of another function of theirs that the check also compares).
    order = exercise.returns_as or (
        f"({', '.join(exercise.returns)})" if all(n.isidentifier() for n in exercise.returns) else ""
    )
    order = f" Return {order}" if order else ""
    for other in exercise.graded:
        theirs, theirs_expected = plain(actual.get(other)), expected[other]
        if other == name or not other.isidentifier():
            continue
        if not isinstance(theirs_expected, np.ndarray) or theirs_expected.shape != mine.shape:
            continue
        swapped = isinstance(theirs, np.ndarray) and theirs.shape == mine_expected.shape
        if prop == "shape":
            if swapped:
                return (
                    f"that is the shape of {exercise.label(other)}, which got the shape of "
                    f"{exercise.label(name)}: swapped?{order}"
                )
            continue
        try:
            with np.errstate(all="ignore"):
                if not np.any(theirs_expected) or not close(mine, theirs_expected):  # all zeros: any slip gives those
                    continue
                swapped = swapped and close(theirs, mine_expected)
        except (TypeError, ValueError):
            continue
        if swapped:
            return (
                f"these are the values of {exercise.label(other)}, which got those of "
                f"{exercise.label(name)}: swapped?{order}"
            )
        return f"these are the values {exercise.label(other)} should have"
    return ""


def value_hint(expected: np.ndarray, actual: np.ndarray, rtol: float, atol: float) -> str:
    """What wrong values of the right shape are, when they are the right ones rearranged: with the
    wrong sign, scaled by one number, transposed; along the time axis (axis 1 of (N, T, ...)):
    reversed, one step off, scrambled by a reshape, or right only for the first or last steps.
    "" when they are none of these. Says how they relate to the expected ones, never what they are."""

    def close(a: np.ndarray, b: np.ndarray) -> bool:
        return a.shape == b.shape and a.size > 0 and bool(np.allclose(a, b, rtol=rtol, atol=atol))

    try:
        with np.errstate(all="ignore"):
            e, a = expected.astype(np.float64), actual.astype(np.float64)
            if e.size < 2 or not np.all(np.isfinite(e)) or np.count_nonzero(e) < 2:
                return ""
            if close(a, -e):
                return "every entry has the wrong sign: a minus too many or too few (a - b for b - a)?"
            scale = float(np.sum(a * e) / np.sum(e * e))
            if np.isfinite(scale) and abs(scale) > 1e-12 and not np.isclose(scale, 1.0) and close(a, scale * e):
                said = f"every entry is {scale:.4g} times the right one"
                k = round(1 / scale)
                if k >= 2 and np.isclose(1 / scale, k, rtol=1e-6):
                    return f"{said} (1/{k}: a division too many, or an average where a sum belongs?)"
                k = round(scale)
                if k >= 2 and np.isclose(scale, k, rtol=1e-6):
                    return f"{said} ({k}x: a term counted {k} times, or a division missing?)"
                return said
            if e.ndim == 2 and e.shape[0] == e.shape[1] and close(a, e.T):
                return "these are the right values transposed: a matmul's factors the other way round?"
            if e.ndim >= 3 and e.shape[1] >= 2:
                if close(a, e[:, ::-1]):
                    return "these are the right values in reversed time order (axis 1)"
                if close(a[:, 1:], e[:, :-1]):
                    return (
                        "each time step holds what the step before it should: one step late along axis 1 "
                        "(stored the state from before the update instead of after it?)"
                    )
                if close(a[:, :-1], e[:, 1:]):
                    return "each time step holds what the step after it should: one step early along axis 1"
                if e.shape[0] >= 2 and close(a, np.swapaxes(e, 0, 1).reshape(e.shape)):
                    return (
                        "these are the right values with batch and time mixed up by a reshape: a reshape keeps the "
                        "order of the entries and moves no axis (np.stack(..., axis=1) or .transpose(1, 0, 2) does)"
                    )
                right = [close(a[:, t], e[:, t]) for t in range(e.shape[1])]
                steps = [t for t, ok in enumerate(right) if ok]
                T = e.shape[1]
                if 0 < len(steps) < T and steps in (list(range(len(steps))), list(range(T - len(steps), T))):
                    which = f"time step {steps[0]}" if len(steps) == 1 else f"time steps {steps[0]} to {steps[-1]}"
                    return (
                        f"only {which} of {T} right (axis 1), the others not: does the loop stop early (a return "
                        "or break inside it, a range too short), or is what each step passes to the next (the "
                        "carried state or gradient) missing or computed wrongly, or something not indexed by t?"
                    )
    except Exception:  # noqa: BLE001 — a courtesy: an odd array must not hide the verdict
        return ""
    return ""


def _ungraded_in_place(exercise: Exercise, name: str, expected: Mapping[str, Any], actual: Mapping[str, Any]) -> str:
    """When output ``name`` is not an array and an output that is not compared (the cache) is an
    array of exactly ``name``'s shape, the two were most likely returned in the wrong order."""
    mine_expected = expected.get(name)
    if isinstance(plain(actual.get(name)), np.ndarray) or not isinstance(mine_expected, np.ndarray):
        return ""
    if not all(n.isidentifier() for n in exercise.returns):
        return ""
    order = exercise.returns_as or f"({', '.join(exercise.returns)})"
    for other in exercise.returns:
        if other in exercise.graded:
            continue
        theirs = plain(actual.get(other))
        if isinstance(theirs, np.ndarray) and theirs.shape == mine_expected.shape:
            return (
                f"what you return as {other} is an array of the shape of {exercise.label(name)}, "
                f"{tuple(mine_expected.shape)}: in the wrong order? Return {order}"
            )
    return ""


def _closeness(exercise: Exercise) -> Callable[[Any, Any], bool]:
    def close(a: Any, b: Any) -> bool:
        with np.errstate(invalid="ignore", over="ignore"):
            return bool(np.allclose(a, b, rtol=exercise.rtol, atol=exercise.atol))

    return close


_ABSENT = object()


def outputs_match(exercise: Exercise, expected: Any, actual: Any) -> bool:
    """True when every graded output matches (NaN matching NaN).

    False when either side is not a set of outputs (a :class:`Problem`, None).
    """
    if not isinstance(expected, Mapping) or not isinstance(actual, Mapping):
        return False
    for name in exercise.graded:
        e, a = expected.get(name, _ABSENT), plain(actual.get(name, _ABSENT))
        if e is _ABSENT or a is _ABSENT:
            return False
        if e is None or a is None:  # an output the case does not have matches only its absence
            if e is not a:
                return False
            continue
        if _is_integer(e):
            if not _is_integer(a) or int(a) != int(e):
                return False
            continue
        if is_number(e):
            number = as_number(a)
            if number is None or not np.allclose(number, float(e), rtol=exercise.rtol, atol=exercise.atol, equal_nan=True):
                return False
            continue
        if not isinstance(a, np.ndarray) or np.shape(a) != np.shape(e):
            return False
        if a.dtype.kind not in "biuf" or np.asarray(e).dtype.kind not in "biuf":
            return False  # strings, objects, dates: never a match (and isnan knows none of them)
        if not np.allclose(a, e, rtol=exercise.rtol, atol=exercise.atol, equal_nan=True):
            return False
    return True


_SEQUENCE = re.compile(r"\b(?:a|an) (?:list|tuple) of (\d+)")


def _problem_key(problem: Problem) -> tuple[str, str]:
    """What must agree for two problems to be the same mistake: a list or a tuple of the same
    length is one and the same structure ("got a tuple of 3" is "got a list of 3")."""
    return problem.kind, _SEQUENCE.sub(r"a sequence of \1", problem.message)


def same_outcome(exercise: Exercise, recorded: Any, actual: Any) -> bool:
    """Did the learner's case give what a mistake gave: the same outputs, or the same :class:`Problem`?"""
    if isinstance(recorded, Problem) and isinstance(actual, Problem):
        return _problem_key(recorded) == _problem_key(actual)
    if isinstance(recorded, Problem) or isinstance(actual, Problem):
        return False
    return outputs_match(exercise, recorded, actual)


def diagnose(
    exercise: Exercise,
    actual_by_case: Sequence[Mapping[str, Any] | Problem | None],
    mistakes_by_case: Sequence[Mapping[str, Mapping[str, Any] | Problem]],
) -> list[Mistake]:
    """The catalogued mistakes that gave what the learner's function gave on every case.

    Per case that is its outputs, or the :class:`Problem` it met instead (a
    structure the ``call`` rejects, an input changed in place, an error raised).
    """
    found = []
    for mistake in exercise.mistakes:
        if all(
            actual is not None
            and mistake.key in by_key
            and same_outcome(exercise, by_key[mistake.key], actual)
            for actual, by_key in zip(actual_by_case, mistakes_by_case)
        ):
            found.append(mistake)
    return found


def inputs_unchanged(before: Mapping[str, Any], after: Mapping[str, Any]) -> Finding:
    """Did the call modify any input array in place?"""
    for name, value in before.items():
        if isinstance(value, np.ndarray) and not np.array_equal(value, after[name], equal_nan=True):
            changed = after[name]
            size = ""
            if changed.shape == value.shape and value.dtype.kind == "f":
                with np.errstate(invalid="ignore"):
                    size = f" (largest change {float(np.nanmax(np.abs(changed - value))):.2g})"
            return Finding(
                "inputs",
                False,
                f"the input {name} was modified in place{size}; work on a copy "
                "(e.g. x = x.copy(), or avoid +=, *= on arguments)",
            )
    return Finding("inputs", True, "leaves its inputs unchanged")


def copy_inputs(inputs: Mapping[str, Any]) -> Arrays:
    return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in inputs.items()}


# --------------------------------------------------------------------------
# Arrays as JSON (fixtures, and the grader's pipe to its child process)
# --------------------------------------------------------------------------


def encode(value: Any) -> Any:
    """A JSON-able form of an array, integer or None that :func:`decode` restores exactly.

    None stands for an output a case does not have (see :func:`compare_value`).
    """
    if value is None:
        return {"none": True}
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "fiub":
            raise TypeError(f"cannot encode an array of dtype {value.dtype}")
        data = value.tolist()
        if value.dtype.kind == "f":
            data = _floats_to_json(data)
        return {"dtype": str(value.dtype), "shape": list(value.shape), "data": data}
    if _is_integer(value):
        return {"int": int(value)}
    if isinstance(value, (float, np.floating)):
        return {"float": _floats_to_json(float(value))}
    raise TypeError(f"cannot encode {article(type(value).__name__)}")


def _floats_to_json(data: Any) -> Any:
    if isinstance(data, list):
        return [_floats_to_json(d) for d in data]
    if data != data:
        return "nan"
    if data in (float("inf"), float("-inf")):
        return "inf" if data > 0 else "-inf"
    return data


def _floats_from_json(data: Any) -> Any:
    if isinstance(data, list):
        return [_floats_from_json(d) for d in data]
    if isinstance(data, str):
        return float(data)
    return data


_ALLOWED_DTYPES = {"float64", "float32", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"}


def decode(obj: Any) -> Any:
    """Inverse of :func:`encode`. Accepts only plain numeric data."""
    if not isinstance(obj, dict):
        raise ValueError("not an encoded value")
    if "none" in obj:
        return None
    if "int" in obj:
        return int(obj["int"])
    if "float" in obj:
        return float(_floats_from_json(obj["float"]))
    dtype = obj["dtype"]
    if dtype not in _ALLOWED_DTYPES:
        raise ValueError(f"dtype {dtype!r} is not allowed")
    arr = np.array(_floats_from_json(obj["data"]), dtype=dtype)
    return arr.reshape(tuple(int(s) for s in obj["shape"]))
