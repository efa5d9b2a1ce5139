"""tools/score_pitch.py: the note each clip was asked for, and how often a clean clip is it."""

import numpy as np

from tests.tools import load_tool


def _tool():
    return load_tool("score_pitch")


def test_asked_notes_from_note_names_and_midi_numbers_cycle_over_the_labels():
    tool = _tool()
    # The built-in set's names (C4 = MIDI 60 in librosa's and the data's convention) ...
    np.testing.assert_array_equal(tool.asked_midi(["A3", "C4", "E4"], 3, 5), [57, 60, 64, 57, 60])
    # ... and the notes set's MIDI numbers.
    np.testing.assert_array_equal(tool.asked_midi(["28", "60"], 2, 3), [28, 60, 28])


def test_no_asked_notes_for_unconditional_models_or_labels_that_are_not_notes():
    tool = _tool()
    assert tool.asked_midi(["C4", "E4"], 0, 4) is None  # unconditional
    assert tool.asked_midi(["zero", "one"], 2, 4) is None  # FSDD digits
    assert tool.asked_midi(["C4", "E4"], 3, 4) is None  # names do not match the model's classes


def test_asked_scores_count_hits_and_octave_errors_among_clean_clips_only():
    clean = np.array([True, True, True, True, False])
    note = np.array([60, 72, 61, 48, 60])
    asked = np.array([60, 60, 60, 60, 60])
    got = _tool().asked_scores(clean, note, asked)
    # 4 clean clips: one hit, two octave errors (72, 48), one semitone off; the unclean ignored.
    assert got == {"clean_clips": 4, "note_asked_for": 0.25, "octave_errors": 0.5}
