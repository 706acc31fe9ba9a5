"""Tests for rnncourse.dates, lesson 09's dates task: seeded, locale-free, unambiguous, held out by day."""

import datetime

import numpy as np

from rnncourse import dates


def test_a_date_in_every_format():
    """2026-12-06 (a Sunday) is written as the module's comments say, in English whatever the locale."""
    d = datetime.date(2026, 12, 6)
    written = [dates.write_date(d, f) for f in range(len(dates.FORMATS))]
    assert written[:3] == ["Sunday 6 December 2026", "Sunday, December 6, 2026", "Sun 6 Dec 2026"]
    assert {"06.12.26", "12/06/2026", "12/6/26", "20261206", "the 6th of December 2026"} <= set(
        written
    )
    assert dates.write_date(d, 0, case=2) == "SUNDAY 6 DECEMBER 2026"
    assert dates.iso(d) == "2026-12-06"
    assert [dates._ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 31)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "31st",
    ]  # fmt: skip


def test_every_source_names_one_date():
    """No text is written for two different dates: across every 3rd day of the 100 years and every
    format (lower-cased, so case cannot help), a source maps to one ISO date."""
    seen = {}
    for index in range(0, dates.N_DAYS, 3):
        d = dates.date_of(index)
        for fmt in range(len(dates.FORMATS)):
            text = dates.write_date(d, fmt).lower()
            assert seen.setdefault(text, dates.iso(d)) == dates.iso(d), text


def test_two_digit_years_and_the_range():
    """The range is 1950-2049, so yy < 50 is 20yy: 06.12.26 is 2026, 06.12.76 is 1976."""
    assert dates.date_of(0) == datetime.date(1950, 1, 1)
    assert dates.date_of(dates.N_DAYS - 1) == datetime.date(2049, 12, 31)
    assert (
        dates.write_date(datetime.date(1976, 12, 6), dates.FORMATS.index("{dd}.{mm}.{yy}"))
        == "06.12.76"
    )


def test_held_out_days_never_appear_in_training():
    """split_days gives disjoint sets covering the range; pairs drawn from one set use only its days."""
    train, test = dates.split_days(0)
    assert len(set(train) & set(test)) == 0 and len(train) + len(test) == dates.N_DAYS
    test_isos = {dates.iso(dates.date_of(i)) for i in test}
    _, targets = dates.make_pairs(train, 2000, seed=1)
    assert not test_isos & set(targets)


def test_pairs_are_seeded():
    """The same seed gives the same pairs; another seed other pairs."""
    train, _ = dates.split_days(0)
    assert dates.make_pairs(train, 50, seed=3) == dates.make_pairs(train, 50, seed=3)
    assert dates.make_pairs(train, 50, seed=3) != dates.make_pairs(train, 50, seed=4)


def test_vocab_round_trip_and_specials():
    """Ids 0-3 are <pad>, <start>, <end>, <unk>; encode pads and appends END; decode stops at END."""
    source, target = dates.vocabularies()
    assert source.itos[:4] == target.itos[:4] == ["<pad>", "<start>", "<end>", "<unk>"]
    assert "".join(target.itos[4:]) == "0123456789-"
    ids, lengths = target.encode(["2026-12-06", "1950-01-01"], add_end=True)
    assert ids.dtype == np.int64 and ids.shape == (2, 11) and list(lengths) == [11, 11]
    assert ids[0, -1] == dates.END and target.decode(ids[0]) == "2026-12-06"
    ids, lengths = source.encode(["6 Dec 26", "é"])
    assert list(lengths) == [8, 1] and ids[1, 0] == dates.UNK and ids[1, 1] == dates.PAD
    assert source.decode(ids[0]) == "6 Dec 26"


def test_random_symbol_sequences():
    """The autoencoder's sequences: lengths in range, real symbols before the length, PAD after."""
    ids, lengths = dates.random_symbol_sequences(200, 2, 9, 5, seed=0)
    assert ids.shape == (200, 9) and lengths.min() >= 2 and lengths.max() <= 9
    real = np.arange(9) < lengths[:, None]
    assert np.all((ids >= 4) & (ids < 9) | ~real) and np.all(ids[~real] == dates.PAD)
