"""Loaders for the datasets that ship in ``data/`` (see ``data/README.md``).

The course runs offline: every loader reads a file of this repository and
never downloads. ``RNNCOURSE_DATA`` overrides where ``data/`` is.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def data_dir() -> Path:
    """The course's data directory: $RNNCOURSE_DATA, else ``data/`` beside this package."""
    env = os.environ.get("RNNCOURSE_DATA")
    path = Path(env) if env else Path(__file__).resolve().parents[1] / "data"
    if not path.is_dir():
        raise FileNotFoundError(
            f"the course data directory {path} does not exist; "
            "run from a clone of the course or set RNNCOURSE_DATA"
        )
    return path


def load_first_names() -> list[str]:
    """5,163 lower-case US first names (1990 census), sorted: sequences of varying length."""
    text = (data_dir() / "us_census_1990_first_names.txt").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line]


def _monthly_csv(name: str) -> tuple:
    """A two-column CSV ``YYYY-MM,value`` as (months (T,) datetime64[M], values (T,) float64)."""
    lines = (data_dir() / name).read_text(encoding="utf-8").splitlines()[1:]
    stamps, values = zip(*(line.split(",") for line in lines if line))
    return np.array(stamps, dtype="datetime64[M]"), np.array(values, dtype=np.float64)


def load_air_passengers() -> tuple:
    """Monthly international airline passengers, in thousands, January 1949 to December 1960.

    Returns ``(months, passengers)``: 144 months as ``datetime64[M]`` and the counts as
    float64. Box and Jenkins' Series G: an upward trend and a yearly season whose swing
    grows with the level.
    """
    return _monthly_csv("airpassengers_monthly_1949_1960.csv")


def load_sunspots() -> tuple:
    """Monthly mean sunspot numbers (version 1 of the international series), January 1749 to
    December 2008.

    Returns ``(months, sunspots)``: 3,120 months as ``datetime64[M]`` and the numbers as
    float64. Noisy, never negative, with a cycle of about 11 years whose length and height
    vary: no fixed calendar season.
    """
    return _monthly_csv("sunspots_monthly_1749_2008.csv")


# The fixed split of the Shakespeare text (lesson 07): contiguous parts, by position, never shuffled.
SHAKESPEARE_SPLITS = {"train": (0.0, 0.9), "validation": (0.9, 0.95), "test": (0.95, 1.0)}


def load_shakespeare(split: str | None = None) -> str:
    """Six Shakespeare tragedies as one ASCII text of 841,795 characters (73 distinct ones).

    Macbeth, Hamlet, Julius Caesar, Romeo and Juliet, Othello and King Lear, in that order, from
    Project Gutenberg's editions (see ``data/README.md``). ``split`` is None for the whole text,
    or one of the fixed contiguous parts: "train" (the first 90% of the characters), "validation"
    (the next 5%) and "test" (the last 5%, the end of King Lear). The parts follow each other in
    the play, so the end of one is the context of the start of the next.
    """
    text = (data_dir() / "shakespeare_six_tragedies.txt").read_text(encoding="ascii")
    if split is None:
        return text
    if split not in SHAKESPEARE_SPLITS:
        raise ValueError(f"split must be None or one of {sorted(SHAKESPEARE_SPLITS)}, got {split!r}")
    start, end = SHAKESPEARE_SPLITS[split]
    return text[int(start * len(text)) : int(end * len(text))]


# --------------------------------------------------------------------------
# Lesson 08: a generated sentiment task in which word order matters
# --------------------------------------------------------------------------

PAD = "<pad>"  # id 0 of every vocabulary built by sentiment_vocabulary

_NOUNS = (
    "film", "movie", "plot", "story", "acting", "cast", "music", "ending",
    "script", "dialogue", "camera", "soundtrack",
)
_INTENSIFIERS = ("very", "really", "so", "truly", "quite", "extremely")
_CONCESSIVES = (("although",), ("even", "though"), ("though",))  # "X , although Y" takes the sign of X


def load_film_adjectives() -> dict[str, float]:
    """66 adjectives and their mean valence (-4 to 4) in the VADER lexicon (Hutto & Gilbert, 2014).

    A documented subset of the lexicon (see ``data/README.md``): adjectives that read naturally in
    "the film was ___", kept where the raters agreed (|mean| >= 1.3, std < 1.5); 39 positive, 27 negative.
    """
    lines = (data_dir() / "vader_film_adjectives.tsv").read_text(encoding="utf-8").splitlines()
    return {word: float(mean) for word, mean, _ in (line.split("\t") for line in lines[1:] if line)}


def _clause(noun, adjective, negated, intensifier):
    """("the", noun, "was", ["not"], [intensifier], adjective)."""
    return ["the", noun, "was"] + ["not"] * negated + [intensifier] * bool(intensifier) + [adjective]


def make_sentiment_sentences(n_sentences: int, seed: int, pair_fraction: float = 0.5, test_fraction: float = 0.3):
    """Generated review sentences whose label depends on the order of their words.

    Sentences are built from clauses "the NOUN was [not] [INTENSIFIER] ADJECTIVE" with the adjectives of
    :func:`load_film_adjectives`. A clause is positive when its adjective's valence is positive, flipped by
    "not"; an intensifier ("very", "really", ...) never changes the sign. Two clauses are joined by
    ", but" (the sentence takes the sign of the clause after "but") or by "and" (only when both clauses
    agree), or as "the NOUN was not A , it was B" (the sign of B), or by ", although" (or ", even though",
    ", though"): then the sentence takes the sign of the clause **before** it. That is the only form in
    which the deciding clause is not the last one, so that reading the last clause alone is not enough.

    About ``pair_fraction`` of the sentences come in **counterbalanced pairs**: two sentences with the same
    words, each as many times, and opposite labels ("the plot was good , but the acting was bad" and "the
    plot was bad , but the acting was good"). Six kinds, equally likely: four in which the last clause
    decides (which adjective follows "but"; which clause "not" negates, with "but" and with "and"; which
    adjective "not ..., it was" denies) and two in which the first one does (which adjective comes before
    "although"; which clause "not" negates, with "although"). The others are single sentences of every
    form, one clause or two. Every sentence is distinct.

    Returns a dict of:
        sentences: list of token lists (a comma is a token of its own);
        labels: (n,) int64, 1 positive, 0 negative;
        pair: (n,) int64, the index of a sentence's pair (both members share it), -1 for a single sentence;
        form: list of str, the template of each sentence ("simple", "but", "and", "not-it-was",
            "although", "pair:but-swap", "pair:not-swap-but", "pair:not-swap-and", "pair:not-it-was",
            "pair:although-swap", "pair:not-swap-although");
        test: (n,) bool, True for the held-out sentences (about ``test_fraction`` of them; the two
            sentences of a pair are always held out together).
    """
    rng = np.random.default_rng(seed)
    valence = load_film_adjectives()
    positive = sorted(w for w, v in valence.items() if v > 0)
    negative = sorted(w for w, v in valence.items() if v < 0)

    def adjective(sign):
        words = positive if sign > 0 else negative
        return words[rng.integers(len(words))]

    def intensifier():
        return _INTENSIFIERS[rng.integers(len(_INTENSIFIERS))] if rng.random() < 0.3 else None

    def nouns():
        a, b = rng.choice(len(_NOUNS), size=2, replace=False)
        return _NOUNS[a], _NOUNS[b]

    def sign():
        return 1 if rng.random() < 0.5 else -1

    def concessive():
        return [","] + list(_CONCESSIVES[rng.integers(len(_CONCESSIVES))])

    def single():
        n1, n2 = nouns()
        kind = rng.choice(["simple", "but", "and", "not-it-was", "although"], p=[0.45, 0.2, 0.1, 0.1, 0.15])
        if kind == "simple":
            neg, s = bool(rng.random() < 0.25), sign()
            return _clause(n1, adjective(s), neg, intensifier()), int(s * (-1 if neg else 1) > 0), kind
        if kind == "not-it-was":
            s = sign()  # the sign of the second adjective, which the first contradicts
            words = _clause(n1, adjective(-s), True, intensifier()) + [",", "it", "was", adjective(s)]
            return words, int(s > 0), kind
        neg1, neg2 = bool(rng.random() < 0.2), bool(rng.random() < 0.2)
        if kind == "although":  # the first clause decides; the second concedes, mostly the other way
            s1 = sign()
            s2 = -s1 if rng.random() < 0.7 else s1
            a1, a2 = adjective(s1 * (-1 if neg1 else 1)), adjective(s2 * (-1 if neg2 else 1))
            words = _clause(n1, a1, neg1, intensifier()) + concessive() + _clause(n2, a2, neg2, intensifier())
            return words, int(s1 > 0), kind
        s2 = sign()
        a2 = adjective(s2 * (-1 if neg2 else 1))  # so that the second clause has sign s2
        if kind == "but":
            s1 = -s2 if rng.random() < 0.7 else s2  # a contrast, mostly
            a1 = adjective(s1 * (-1 if neg1 else 1))
            joint = [",", "but"]
        else:
            a1 = adjective(s2 * (-1 if neg1 else 1))  # "and" joins clauses that agree
            joint = ["and"]
        words = _clause(n1, a1, neg1, intensifier()) + joint + _clause(n2, a2, neg2, intensifier())
        return words, int(s2 > 0), kind

    def pair():
        """Two sentences with the same words and opposite labels; the first is positive."""
        n1, n2 = nouns()
        i1, i2 = intensifier(), intensifier()
        kind = rng.choice(
            ["but-swap", "not-swap-but", "not-swap-and", "not-it-was", "although-swap", "not-swap-although"]
        )
        if kind == "but-swap":  # which adjective comes after "but"
            p, n = adjective(1), adjective(-1)
            first = _clause(n1, n, False, i1) + [",", "but"] + _clause(n2, p, False, i2)
            second = _clause(n1, p, False, i1) + [",", "but"] + _clause(n2, n, False, i2)
        elif kind == "not-swap-but":  # which clause "not" negates; both adjectives share a sign
            s = sign()
            a, b = adjective(s), adjective(s)
            pos_neg = (False, True) if s > 0 else (True, False)  # negate the first clause when s > 0
            first = _clause(n1, a, pos_neg[1], i1) + [",", "but"] + _clause(n2, b, pos_neg[0], i2)
            second = _clause(n1, a, pos_neg[0], i1) + [",", "but"] + _clause(n2, b, pos_neg[1], i2)
        elif kind == "not-swap-and":  # adjectives of opposite signs; "not" on the one that makes both agree
            p, n = adjective(1), adjective(-1)
            first = _clause(n1, p, False, i1) + ["and"] + _clause(n2, n, True, i2)
            second = _clause(n1, p, True, i1) + ["and"] + _clause(n2, n, False, i2)
        elif kind == "although-swap":  # which adjective comes before "although": that one decides
            p, n, joint = adjective(1), adjective(-1), concessive()
            first = _clause(n1, p, False, i1) + joint + _clause(n2, n, False, i2)
            second = _clause(n1, n, False, i1) + joint + _clause(n2, p, False, i2)
        elif kind == "not-swap-although":  # which clause "not" negates; the first clause decides
            s, joint = sign(), concessive()
            a, b = adjective(s), adjective(s)
            pos_neg = (False, True) if s > 0 else (True, False)  # negate the second clause when s > 0
            first = _clause(n1, a, pos_neg[0], i1) + joint + _clause(n2, b, pos_neg[1], i2)
            second = _clause(n1, a, pos_neg[1], i1) + joint + _clause(n2, b, pos_neg[0], i2)
        else:  # "the N was not A , it was B": which adjective is denied
            p, n = adjective(1), adjective(-1)
            first = _clause(n1, n, True, i1) + [",", "it", "was", p]
            second = _clause(n1, p, True, i1) + [",", "it", "was", n]
        return first, second, f"pair:{kind}"

    sentences, labels, pairs, forms, test, seen = [], [], [], [], [], set()
    n_pairs = int(round(n_sentences * pair_fraction / 2))
    while len(sentences) < 2 * n_pairs:
        first, second, kind = pair()
        keys = (" ".join(first), " ".join(second))
        if keys[0] in seen or keys[1] in seen:
            continue
        seen.update(keys)
        index = len(sentences) // 2
        held_out = bool(rng.random() < test_fraction)
        order = (0, 1) if rng.random() < 0.5 else (1, 0)  # the positive one is not always first
        for k in order:
            sentences.append((first, second)[k])
            labels.append(1 - k)
            pairs.append(index)
            forms.append(kind)
            test.append(held_out)
    while len(sentences) < n_sentences:
        words, label, kind = single()
        key = " ".join(words)
        if key in seen:
            continue
        seen.add(key)
        sentences.append(words)
        labels.append(label)
        pairs.append(-1)
        forms.append(str(kind))
        test.append(bool(rng.random() < test_fraction))
    order = rng.permutation(len(sentences))
    pairs = np.asarray(pairs, dtype=np.int64)[order]
    return {
        "sentences": [sentences[i] for i in order],
        "labels": np.asarray(labels, dtype=np.int64)[order],
        "pair": pairs,
        "form": [forms[i] for i in order],
        "test": np.asarray(test, dtype=bool)[order],
    }


def sentiment_vocabulary(sentences) -> list[str]:
    """Every word of ``sentences``, sorted, after ``PAD`` (id 0): position = id."""
    return [PAD] + sorted({w for s in sentences for w in s} - {PAD})


def encode_sentences(sentences, vocabulary) -> list[np.ndarray]:
    """Each sentence as an int64 array of ids (the word's position in ``vocabulary``)."""
    index = {w: i for i, w in enumerate(vocabulary)}
    return [np.array([index[w] for w in s], dtype=np.int64) for s in sentences]


def load_seq2seq_dates_long_run() -> dict[bool, dict[str, list]]:
    """Lesson 09's reference long run: the dates model's held-out exact match every 100 updates.

    Returns ``{True: {"update": [...], "held_out_exact_match": [...]}, False: {...}}``, with and
    without attention (made by the lesson's notebook with ``LONG_RUN = True``; see data/README.md).
    """
    text = (data_dir() / "seq2seq_dates_long_run.csv").read_text(encoding="utf-8")
    runs: dict[bool, dict[str, list]] = {
        True: {"update": [], "held_out_exact_match": []},
        False: {"update": [], "held_out_exact_match": []},
    }
    for line in text.splitlines()[1:]:
        attention, update, accuracy = line.split(",")
        runs[attention == "1"]["update"].append(int(update))
        runs[attention == "1"]["held_out_exact_match"].append(float(accuracy))
    return runs
