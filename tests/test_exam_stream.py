"""Exams stream (issue 16): each variant's files go into the stage folder as soon as they
are made, no variant is held once written, the files written a piece at a time are the
same as made whole, and a combined document too large for TeX gets no PDF but a note."""
from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest

from derive import api, exam as exam_module
from derive.exam import answers_csv, answers_json, make_exam
from derive.render import render_moodle
from derive.document import Solution
from renderers import require

ROOT = Path(__file__).resolve().parent.parent
Q2_EXAM = ROOT / "problems" / "q2-exam.yaml"


def stage_of(out: Path) -> Path | None:
    found = [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.derive-stage-")]
    return found[0] if found else None


def test_each_variant_is_in_the_stage_before_the_next_is_drawn(tmp_path: Path) -> None:
    out = tmp_path / "exam"
    seen: list[tuple[int, set[str]]] = []
    live: list[int] = []

    def watch(numbers):  # the progress hook: called as each variant is about to be drawn
        for number in numbers:
            stage = stage_of(out)
            assert stage is not None and not out.exists()  # staged, not yet in place
            seen.append((number, {str(p.relative_to(stage)) for p in stage.rglob("*") if p.is_file()}))
            gc.collect()
            live.append(sum(1 for o in gc.get_objects() if isinstance(o, Solution) and o.steps))
            yield number

    api.write_exam_folder(Q2_EXAM, 4, 3, out, pdf=False, progress=watch)
    for number, files in seen:
        for k in range(1, number):
            assert {f"variant-{k:02d}/{name}" for name in ("key.md", "key.tex", "key.json", "worksheet.md",
                                                           "worksheet.tex", "spec.yaml")} <= files, (number, k)
        assert not any(name.startswith(f"variant-{number:02d}/") for name in files)
    # no variant's worked solution outlives its files: memory does not grow with the exam
    assert max(live) <= 1, live
    assert stage_of(out) is None and (out / "variant-04" / "key.md").is_file()


def test_streamed_files_equal_the_whole_exam_made_at_once(tmp_path: Path) -> None:
    out = tmp_path / "exam"
    api.write_exam_folder(Q2_EXAM, 5, 11, out, pdf=False)
    whole = make_exam(Q2_EXAM, 5, 11)
    assert (out / "answers.json").read_text(encoding="utf-8") == answers_json(whole)
    assert (out / "answers.csv").read_text(encoding="utf-8") == answers_csv(whole)
    assert (out / "moodle.xml").read_text(encoding="utf-8") == render_moodle(whole, 4)


def test_a_failure_midway_leaves_the_previous_exam(tmp_path: Path) -> None:
    out = tmp_path / "exam"
    api.write_exam_folder(Q2_EXAM, 2, 1, out, pdf=False)
    before = {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def failing(numbers):
        for number in numbers:
            if number == 3:
                assert stage_of(out) is not None  # two variants already written to the stage
                raise RuntimeError("stopped at variant 3")
            yield number

    with pytest.raises(RuntimeError, match="variant 3"):
        api.write_exam_folder(Q2_EXAM, 5, 2, out, pdf=False, force=True, progress=failing)
    after = {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_combined_document_too_large_for_tex_gets_a_note_not_a_pdf(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    require("pdflatex")
    monkeypatch.setattr(exam_module, "MAX_COMBINED_TEX_BYTES", 1000)
    notes: list[str] = []
    out = tmp_path / "exam"
    api.write_exam_folder(Q2_EXAM, 1, 1, out, pdf=True, note=notes.append)
    names = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert {"variant-01/key.pdf", "variant-01/worksheet.pdf", "key-all.tex", "worksheet-all.tex"} <= names
    assert "key-all.pdf" not in names and "worksheet-all.pdf" not in names
    assert len(notes) == 2 and "no key-all.pdf" in notes[0] and "too large for one TeX run" in notes[0]


def test_stage_files_keep_the_modes_of_the_previous_exam(tmp_path: Path) -> None:
    """Files written a piece at a time (the combined documents, answers.csv) keep a
    replaced exam's modes, as the files written whole do."""
    out = tmp_path / "exam"
    api.write_exam_folder(Q2_EXAM, 1, 1, out, pdf=False)
    for name in ("answers.csv", "key-all.tex", "variant-01/key.md"):
        os.chmod(out / name, 0o600)
    api.write_exam_folder(Q2_EXAM, 1, 2, out, pdf=False, force=True)
    for name in ("answers.csv", "key-all.tex", "variant-01/key.md"):
        assert (out / name).stat().st_mode & 0o777 == 0o600, name
    umask = os.umask(0)
    os.umask(umask)
    assert (out / "answers.json").stat().st_mode & 0o777 == 0o666 & ~umask  # not changed: as new
