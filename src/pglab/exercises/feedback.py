"""What a learner sees of an exercise: its task, the verdict of a check, hints and the solution.

Kept apart from the checking (the kinds), as learntools keeps a problem apart from its view. Code (a solution,
a plan) is shown as code: monospace, highlighted, indentation kept, ready to paste.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field

from ..display import COLOURS, in_notebook


@dataclass
class Feedback:
    """The outcome of a check: passed or not, and what to tell the learner."""

    passed: bool
    message: str
    attempted: bool = True
    detail: str = ""  # shown as code under the message (a plan, the statements a function sent)
    notes: list[str] = field(default_factory=list)  # what the checker did with the answer (BEGIN/COMMIT left out)
    _shown: bool = field(default=False, repr=False, compare=False)

    @property
    def kind(self) -> str:
        return "pass" if self.passed else "fail" if self.attempted else "todo"

    @property
    def text(self) -> str:
        parts = [self.message, *self.notes]
        return "\n".join(parts) + (f"\n{self.detail}" if self.detail else "")

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        background, border = COLOURS[self.kind]
        body = "".join(f"<div>{html.escape(line)}</div>" for line in [self.message, *self.notes])
        if self.detail:
            body += f'<pre style="margin:6px 0 0 0;font-size:12px">{html.escape(self.detail)}</pre>'
        return (f'<div style="background:{background};border-left:4px solid {border};padding:6px 10px;'
                f'margin:4px 0;font-family:sans-serif">{body}</div>')

    def _ipython_display_(self) -> None:
        # check() already displayed this; being the cell's value must not show it twice.
        if not self._shown:
            self.show()

    def show(self) -> None:
        self._shown = True
        if in_notebook():
            from IPython.display import display

            display({"text/html": self._repr_html_(), "text/plain": self.text}, raw=True)
        else:
            print(self.text)


@dataclass
class CodeBlock:
    """Code shown as code, under a short heading."""

    heading: str
    code: str
    language: str  # "sql" or "python"
    after: str = ""

    def __repr__(self) -> str:
        return f"{self.heading}\n{self.code}" + (f"\n\n{self.after}" if self.after else "")

    def _repr_markdown_(self) -> str:
        text = f"**{self.heading}**\n\n```{self.language}\n{self.code}\n```"
        return text + (f"\n\n{self.after}" if self.after else "")


def show(item: object) -> None:
    if in_notebook():
        from IPython.display import display

        display(item)
    else:
        print(repr(item))


__all__ = ["CodeBlock", "Feedback", "show"]
