"""The one mechanism behind every task checker: judge an answer, say so, go on.

A checker module writes, per task, a *diagnosis*: a function of the student's answer that
returns ``None`` when the answer is right and otherwise one sentence naming the mistake. It
then calls :func:`check`, which turns the diagnosis into a :class:`Verdict`, shows it, and
returns the value the notebook goes on with.

- ``...`` (the template left as it is) is "not done yet"; so is a function that still returns
  ``...`` or raises ``NotImplementedError`` (see :func:`call`).
- An answer that raises while being checked is a mistake whose sentence quotes the error.
- Anything but a correct answer is replaced by the reference, and the verdict says so.

Verdicts are display objects with their own MIME type, so the tests read them back from an
executed notebook with :func:`read_verdicts`; outside Jupyter they print as their sentence.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import nbformat
import torch
from IPython.display import display

__all__ = [
    "CORRECT",
    "MIME_TYPE",
    "MISTAKE",
    "NOT_DONE",
    "NotDone",
    "Verdict",
    "call",
    "check",
    "close",
    "first_mistake",
    "judge",
    "pixel_arithmetic_mistakes",
    "read_verdicts",
    "tensor_mismatch",
]

MIME_TYPE = "application/vnd.failure-modes.verdict+json"
CORRECT = "correct"
MISTAKE = "mistake"
NOT_DONE = "not done"

_GOING_ON = "The notebook goes on with the reference answer."
_NOT_DONE_MESSAGE = (
    "not done yet (the `...` is still there). The notebook goes on with the reference "
    "answer, so every later cell runs; come back to it when you can."
)


class NotDone(Exception):
    """The answer is still the template: ``...``, or a function that returns ``...``."""


@dataclass(frozen=True)
class Verdict:
    """What a checker says about one task: its ``status`` and one sentence, ``message``.

    ``status`` is :data:`CORRECT`, :data:`MISTAKE` or :data:`NOT_DONE`.
    """

    task: str
    status: str
    message: str

    def __str__(self) -> str:
        mark = {CORRECT: "✓", MISTAKE: "✗", NOT_DONE: "…"}[self.status]
        return f"{mark} Task {self.task}: {self.message}"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return {"text/plain": str(self), MIME_TYPE: asdict(self)}


def call(function: Any, *args: Any, **kwargs: Any) -> Any:
    """Call a student's ``function``; raise :class:`NotDone` while it is still the template.

    The template of a function task returns ``...`` (or raises ``NotImplementedError``); a
    function left like that is not done rather than wrong.
    """
    if function is Ellipsis:
        raise NotDone
    if not callable(function):
        raise TypeError(f"expected a function, got {type(function).__name__}")
    try:
        result = function(*args, **kwargs)
    except NotImplementedError:
        raise NotDone from None
    if result is Ellipsis:
        raise NotDone
    return result


def judge(task: str, answer: Any, diagnose: Callable[[Any], str | None]) -> Verdict:
    """The verdict on ``answer``: ``diagnose(answer)`` names its mistake or returns ``None``."""
    if answer is Ellipsis:
        return Verdict(task, NOT_DONE, _NOT_DONE_MESSAGE)
    try:
        problem = diagnose(answer)
    except NotDone:
        return Verdict(task, NOT_DONE, _NOT_DONE_MESSAGE)
    except Exception as error:  # a student's answer can fail in any way; say how
        problem = f"checking your answer raised {type(error).__name__}: {error}."
    if problem is None:
        return Verdict(task, CORRECT, "correct.")
    return Verdict(task, MISTAKE, f"{problem} {_GOING_ON}")


def check(task: str, answer: Any, diagnose: Callable[[Any], str | None], reference: Any) -> Any:
    """Show the verdict on ``answer`` and return ``answer`` if correct, else ``reference``."""
    verdict = judge(task, answer, diagnose)
    display(verdict)
    return answer if verdict.status == CORRECT else reference


def close(answer: Any, expected: torch.Tensor, *, atol: float = 1e-5) -> bool:
    """Whether ``answer``, as a CPU tensor of ``expected``'s dtype, has its shape and values.

    ``torch.allclose`` with ``atol`` and its default relative tolerance; the typical-mistake
    tests of the checkers compare a student's answer with each mistaken version through it.
    """
    answer = torch.as_tensor(answer).detach().cpu().to(expected.dtype)
    return answer.shape == expected.shape and torch.allclose(answer, expected, atol=atol)


def first_mistake(answer: Any, mistakes: Iterable[tuple[Callable[[Any], bool], str]]) -> str | None:
    """The sentence of the first ``(test, sentence)`` whose ``test(answer)`` is true, or ``None``.

    Tests that raise (an answer of the wrong shape, say) count as not matching, so a list of
    typical mistakes can be written without guarding each test against the others.
    """
    for test, sentence in mistakes:
        try:
            matches = bool(test(answer))
        except Exception:  # a mistake's test need not handle every other kind of answer
            matches = False
        if matches:
            return sentence
    return None


def pixel_arithmetic_mistakes(
    before: torch.Tensor, summed: torch.Tensor
) -> list[tuple[Callable[[Any], bool], str]]:
    """The two classic slips of adding light to uint8 pixels, for :func:`first_mistake`.

    ``before`` are the uint8 images, ``summed`` the exact float sum of them and what was added.
    An answer with a pixel darker than ``before`` wrapped around past 255 (no clamp, or uint8
    arithmetic); one equal to the clamped but unrounded sum was truncated.
    """
    truncated = summed.clamp(0, 255).to(torch.uint8)
    return [
        (
            lambda a: bool((a.to(torch.int64) < before.to(torch.int64)).any()),
            "some pixels came out darker than before, although the artifact only adds light: "
            "uint8 holds 0..255 and wraps around past 255 (250 + 10 = 4); add in float and "
            "clamp to 0..255 before converting back to uint8.",
        ),
        (
            lambda a: torch.equal(a, truncated),
            "your values are rounded down (converting a float to uint8 cuts 2.7 to 2): call "
            "`.round()` before `.clamp(0, 255)`.",
        ),
    ]


def tensor_mismatch(
    answer: Any, expected: torch.Tensor, name: str, *, atol: float = 0.0, rtol: float = 0.0
) -> str | None:
    """Why ``answer`` is not ``expected`` (type, shape, dtype, values), or ``None`` if it is.

    The first difference found is the one named, with what was expected and what came.
    """
    if not isinstance(answer, torch.Tensor):
        return f"`{name}` should be a tensor, but it is a {type(answer).__name__}."
    if answer.shape != expected.shape:
        return (
            f"`{name}` should have shape {list(expected.shape)}, but it has {list(answer.shape)}."
        )
    if answer.dtype != expected.dtype:
        return f"`{name}` should have dtype {expected.dtype}, but it has {answer.dtype}."
    if atol == 0.0 and rtol == 0.0:
        if torch.equal(answer, expected):
            return None
    elif torch.allclose(answer.double(), expected.double(), atol=atol, rtol=rtol):
        return None
    differ = ~torch.isclose(answer.double(), expected.double(), atol=atol, rtol=rtol)
    return f"`{name}` differs from the reference in {int(differ.sum())} of {differ.numel()} values."


def read_verdicts(notebook: nbformat.NotebookNode) -> list[Verdict]:
    """The verdicts an executed ``notebook`` showed, in the order of its cells."""
    verdicts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            payload = output.get("data", {}).get(MIME_TYPE)
            if payload is None:
                continue
            if isinstance(payload, str):  # some writers store JSON MIME data as text
                payload = json.loads(payload)
            if not isinstance(payload, Mapping):
                raise ValueError(f"a verdict output holds {payload!r}, expected a mapping")
            verdicts.append(Verdict(**payload))
    return verdicts
