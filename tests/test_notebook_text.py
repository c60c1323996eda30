"""What a student reads survives the build and renders: headings and CommonMark markdown.

Two things the build tests cannot see. A heading inside a cell tagged ``solution`` vanishes from
the student notebook with the model answer around it. And Markdown inside an HTML block
(``<div>`` on its own line, text below it) is not Markdown for CommonMark front-ends such as
JupyterLab 4, VS Code, GitHub and markdown-it: backticks and asterisks show up as typed.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from markdown_it import MarkdownIt

from failure_modes.course import build

pytestmark = pytest.mark.notebook

ROOT = build.find_root(Path(__file__).resolve().parent)
SOURCES = build.discover_sources(ROOT)
BUILT = [path for source in SOURCES for path in build.output_paths(source, ROOT)]
_HEADING = re.compile(r"^(#{1,6})\s+(.*\S)\s*$")
# What Markdown syntax looks like when a front-end shows it instead of rendering it.
_RAW_MARKUP = re.compile(r"`|\*\*|(?<![\w*])\*(?=\S)[^*\n]+(?<=\S)\*(?![\w*])")
_MARKDOWN = MarkdownIt("commonmark", {"html": True}).enable("table")


def _relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def headings(nb: nbformat.NotebookNode) -> list[str]:
    """The Markdown headings of a notebook, in order (code fences skipped)."""
    found = []
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        fenced = False
        for line in cell.source.splitlines():
            if line.lstrip().startswith("```"):
                fenced = not fenced
            match = None if fenced else _HEADING.match(line)
            if match:
                found.append(f"{match[1]} {match[2]}")
    return found


class _VisibleText(HTMLParser):
    """The text a reader sees in rendered HTML: everything outside code and pre elements."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("code", "pre"):
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("code", "pre"):
            self.depth = max(0, self.depth - 1)

    def handle_data(self, data: str) -> None:
        if not self.depth:
            self.parts.append(data)


def raw_markup(markdown: str) -> list[str]:
    """Markdown syntax left as literal characters once ``markdown`` is rendered by CommonMark."""
    parser = _VisibleText()
    parser.feed(_MARKDOWN.render(markdown))
    text = "".join(parser.parts)
    return [text[max(0, m.start() - 30) : m.end() + 30] for m in _RAW_MARKUP.finditer(text)]


def test_raw_markup_finder_sees_markdown_inside_a_div_and_nothing_in_rendered_text():
    assert raw_markup("<div>\n**Task 1**: use `x`\n</div>")
    assert raw_markup('<div class="a"><b>Task</b>: set `x`</div>')
    assert raw_markup("**Task 1**: use `x` and *that*") == []
    assert raw_markup("<div><b>Task</b>: set <code>x*y</code></div>") == []
    assert raw_markup("2 * 3 = 6, and a*b is written in code: `a*b`") == []
    assert raw_markup("```python\nx = `y`\n```") == []


def test_headings_finder_skips_code_fences():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Title\n```\n# a comment\n```\n## Part 1")]
    assert headings(nb) == ["# Title", "## Part 1"]


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_every_heading_of_the_solution_is_in_the_exercise(source: Path):
    exercise, solution = (nbformat.read(p, as_version=4) for p in build.output_paths(source, ROOT))
    missing = [h for h in headings(solution) if h not in headings(exercise)]
    assert not missing, (
        f"{source.name}: headings of the solution missing from the student notebook {missing}; "
        "a heading inside a cell tagged 'solution' is dropped with it: move it to its own cell"
    )


@pytest.mark.parametrize("path", BUILT, ids=_relative)
def test_every_markdown_cell_renders_without_raw_markup(path: Path):
    nb = nbformat.read(path, as_version=4)
    broken = {
        index: found
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "markdown" and (found := raw_markup(cell.source))
    }
    assert not broken, (
        f"{_relative(path)}: Markdown shown as typed in cells {broken}. Inside an HTML block "
        "CommonMark renders no Markdown: write <code>, <b> and <i> there, or leave a blank "
        "line after the opening tag."
    )
