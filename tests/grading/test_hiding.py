"""The uid-only sandbox's hidden paths: overlapping runs, and runs that were killed.

These run as any user: they take "others" permissions away from folders the
test owns, with the shared record of hidden paths in a folder of the test's own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from autograder.grading import sandbox


@pytest.fixture
def paths(tmp_path, monkeypatch):
    monkeypatch.setattr(sandbox, "HIDDEN_STATE", tmp_path / "state")
    made = []
    for name in ("course", "submitted"):
        (tmp_path / name).mkdir()
        (tmp_path / name).chmod(0o755)
        made.append(tmp_path / name)
    return made


def mode(path):
    return os.stat(path).st_mode & 0o777


def test_the_last_of_two_overlapping_runs_restores(paths):
    """A run that starts while another one hides the course keeps it hidden until both are done."""
    course, submitted = paths
    with sandbox.hidden_by_permissions([course], []) as first:
        assert first == [str(course)] and mode(course) == 0o750
        with sandbox.hidden_by_permissions([course, submitted], []) as second:
            assert sorted(second) == sorted([str(course), str(submitted)])
            assert mode(course) == mode(submitted) == 0o750
        assert mode(course) == 0o750  # the first run still grades: still hidden
    assert mode(course) == mode(submitted) == 0o755


def test_overlapping_runs_that_end_in_any_order(paths):
    course, _ = paths
    first = sandbox.hidden_by_permissions([course], [])
    second = sandbox.hidden_by_permissions([course], [])
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)  # the first to start is the first to finish
    assert mode(course) == 0o750
    second.__exit__(None, None, None)
    assert mode(course) == 0o755


def test_a_killed_run_is_repaired_by_the_next(paths, capsys):
    """A grader killed by SIGKILL leaves the course hidden; the next run restores it first."""
    course, _ = paths
    code = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from autograder.grading import sandbox\n"
        f"sandbox.HIDDEN_STATE = Path({str(sandbox.HIDDEN_STATE)!r})\n"
        f"with sandbox.hidden_by_permissions([Path({str(course)!r})], []):\n"
        "    os._exit(9)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=False, cwd=sandbox.COURSE)
    assert mode(course) == 0o750
    state = json.loads((sandbox.HIDDEN_STATE / "state.json").read_text())
    assert state["modes"] == {str(course): 0o755}
    with sandbox.hidden_by_permissions([], []):
        assert mode(course) == 0o755
    assert "was killed" in capsys.readouterr().err
    assert json.loads((sandbox.HIDDEN_STATE / "state.json").read_text()) == {"holders": [], "modes": {}}


def test_a_killed_runs_orphans_are_reaped_while_another_run_still_grades(paths, monkeypatch):
    """What a killed run's children left running dies when the next run starts, even if a third
    run still holds the course hidden (it used to live on until that run ended)."""
    course, _ = paths
    reaped = []
    monkeypatch.setattr(sandbox, "can_isolate", lambda: True)
    monkeypatch.setattr(sandbox, "reap_orphans", lambda shared_dirs: reaped.append(shared_dirs) or [])
    code = (
        "import os\n"
        "from pathlib import Path\n"
        "from autograder.grading import sandbox\n"
        f"sandbox.HIDDEN_STATE = Path({str(sandbox.HIDDEN_STATE)!r})\n"
        f"with sandbox.hidden_by_permissions([Path({str(course)!r})], []):\n"
        "    os._exit(9)\n"
    )
    with sandbox.hidden_by_permissions([course], []):  # a live run
        subprocess.run([sys.executable, "-c", code], check=False, cwd=sandbox.COURSE)
        assert reaped == []
        with sandbox.hidden_by_permissions([], []):  # the next run notices the killed one
            assert reaped == [True]
            assert mode(course) == 0o750  # the live run still grades: still hidden
        assert reaped == [True]
    assert mode(course) == 0o755


def test_a_path_that_was_never_readable_stays_so(paths):
    course, _ = paths
    course.chmod(0o700)
    with sandbox.hidden_by_permissions([course], []) as changed:
        assert changed == []
    assert mode(course) == 0o700


@pytest.mark.parametrize(
    "text",
    ['{"holders": [[1]]}', '{"holders": "ab", "modes": {}}', '{"holders": [], "modes": {"/x": "755"}}', "[", ""],
)
def test_a_damaged_record_does_not_stop_a_run(paths, capsys, text):
    course, _ = paths
    sandbox.HIDDEN_STATE.mkdir(mode=0o700)
    (sandbox.HIDDEN_STATE / "state.json").write_text(text)
    with sandbox.hidden_by_permissions([course], []):
        assert mode(course) == 0o750
    assert mode(course) == 0o755
    assert "damaged" in capsys.readouterr().err


def test_a_record_folder_others_may_write_to_is_refused(paths):
    course, _ = paths
    sandbox.HIDDEN_STATE.mkdir(mode=0o700)
    sandbox.HIDDEN_STATE.chmod(0o777)
    with pytest.raises(RuntimeError, match="no one else may write"):
        with sandbox.hidden_by_permissions([course], []):
            pass
    assert mode(course) == 0o755


def test_uid_locks_do_not_depend_on_tmpdir(monkeypatch, tmp_path):
    """Uids and processes are machine-wide: a run with another TMPDIR must see the same locks,
    or it would take a live run's child for an orphan and kill it."""
    import tempfile

    default = sandbox._uid_lock_dir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert sandbox._uid_lock_dir() == default
