"""Showing short messages in a notebook (coloured box) or a terminal (plain text), the same way everywhere."""
from __future__ import annotations

import html

COLOURS = {
    "claim": ("#e8f5e9", "#2e7d32"),
    "pass": ("#e8f5e9", "#2e7d32"),
    "fail": ("#fff3e0", "#e65100"),
    "todo": ("#eceff1", "#455a64"),
    "error": ("#ffebee", "#c62828"),
    "info": ("#e3f2fd", "#1565c0"),
}


class Message:
    """Text with an HTML form; displayed once even when also returned as a cell's value."""

    def __init__(self, text: str, kind: str = "info") -> None:
        self.text = text
        self.kind = kind

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        background, border = COLOURS.get(self.kind, COLOURS["info"])
        if any(line.startswith("LINE ") for line in self.text.splitlines()):
            # psql's pointer: the caret must stand under the character, so the SQL lines keep a fixed width
            body = "<br>".join(
                f'<span style="font-family:monospace;white-space:pre">{html.escape(line)}</span>'
                if line.startswith("LINE ") or (line.strip() == "^") else html.escape(line)
                for line in self.text.splitlines())
        else:
            body = html.escape(self.text).replace("\n", "<br>")
        return (
            f'<div style="background:{background};border-left:4px solid {border};'
            f'padding:6px 10px;margin:4px 0;font-family:sans-serif;white-space:normal">{body}</div>'
        )


def in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"


def show_text(text: str, kind: str = "info") -> None:
    if in_notebook():
        from IPython.display import display

        display(Message(text, kind))
    else:
        print(text)
