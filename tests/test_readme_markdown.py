"""The README renders as written: parsed by markdown-it-py (CommonMark with GFM tables, what rich uses),
no table row falls outside its table into a paragraph."""

from pathlib import Path

from markdown_it import MarkdownIt

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_table_row_renders_inside_a_table():
    tokens = MarkdownIt("commonmark").enable("table").parse(README.read_text())
    stray = [f"README.md line {token.map[0] + 1 + k}: {line[:40]}"
             for token in tokens if token.type == "inline" and token.map
             for k, line in enumerate(token.content.splitlines()) if line.startswith("|")]
    assert stray == []
    assert sum(token.type == "table_open" for token in tokens) == README.read_text().count("\n|---")
