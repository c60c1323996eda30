"""The task-checker mechanism: verdicts, the fall-back to the reference, and reading them back."""

from __future__ import annotations

import nbformat
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from failure_modes.course.checks.feedback import (
    CORRECT,
    MISTAKE,
    NOT_DONE,
    Verdict,
    call,
    check,
    first_mistake,
    judge,
    read_verdicts,
    tensor_mismatch,
)


def _never_called(answer):
    raise AssertionError("an untouched answer must not be diagnosed")


def test_the_untouched_template_is_not_done_and_the_reference_goes_on(capsys):
    assert check("1.1", ..., _never_called, reference=42) == 42
    assert "Task 1.1: not done yet" in capsys.readouterr().out


@pytest.mark.parametrize(
    "body", [lambda x: ..., lambda x: (_ for _ in ()).throw(NotImplementedError)]
)
def test_a_function_still_returning_the_template_is_not_done(body):
    assert judge("2.1", body, lambda f: call(f, 1)).status == NOT_DONE


def test_a_correct_answer_is_kept(capsys):
    answer = torch.ones(3)
    assert check("1.2", answer, lambda a: None, reference=torch.zeros(3)) is answer
    assert capsys.readouterr().out.strip() == "✓ Task 1.2: correct."


def test_a_mistake_is_named_and_replaced_by_the_reference(capsys):
    kept = check("1.3", 5, lambda a: "the sign is wrong.", reference=6)
    assert kept == 6
    out = capsys.readouterr().out
    assert "✗ Task 1.3: the sign is wrong." in out
    assert "goes on with the reference answer" in out


def test_an_answer_that_raises_is_a_mistake_quoting_the_error():
    verdict = judge("4.2", lambda: None, lambda f: call(f, "too many"))
    assert verdict.status == MISTAKE
    assert "TypeError" in verdict.message


def test_call_refuses_a_value_where_a_function_is_expected():
    verdict = judge("2.1", 3, lambda f: call(f))
    assert verdict.status == MISTAKE and "expected a function, got int" in verdict.message


def test_first_mistake_skips_tests_that_do_not_apply():
    mistakes = [
        (lambda a: a["missing"], "never"),
        (lambda a: a == {}, "empty"),
        (lambda a: True, "x"),
    ]
    assert first_mistake({}, mistakes) == "empty"
    assert first_mistake({"k": 1}, mistakes[:2]) is None


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        ([1, 2], "should be a tensor, but it is a list"),
        (torch.zeros(3, 1), "should have shape [3], but it has [3, 1]"),
        (torch.zeros(3, dtype=torch.int64), "dtype torch.float32"),
        (torch.tensor([0.0, 1.0, 9.0]), "differs from the reference in 1 of 3 values"),
    ],
)
def test_tensor_mismatch_names_the_first_difference(answer, phrase):
    assert phrase in tensor_mismatch(answer, torch.tensor([0.0, 1.0, 2.0]), "x")


@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=20))
def test_a_tensor_matches_itself_and_within_tolerance(values):
    expected = torch.tensor(values, dtype=torch.float64)
    assert tensor_mismatch(expected.clone(), expected, "x") is None
    assert tensor_mismatch(expected + 1e-9, expected, "x", atol=1e-6) is None


def test_verdicts_are_read_back_from_a_notebook():
    verdict = Verdict("3.1", MISTAKE, "off by one.")
    bundle = verdict._repr_mimebundle_()
    output = nbformat.v4.new_output("display_data", data=bundle)
    cell = nbformat.v4.new_code_cell("check(...)", outputs=[output])
    notebook = nbformat.v4.new_notebook(cells=[cell, nbformat.v4.new_markdown_cell("text")])
    assert read_verdicts(notebook) == [verdict]
    assert bundle["text/plain"] == "✗ Task 3.1: off by one."
    assert CORRECT != NOT_DONE
