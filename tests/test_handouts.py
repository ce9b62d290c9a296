"""The HTML handouts (make html): every chart carries its alternative text (for screen readers)."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_chart_carries_alternative_text_into_the_html_handout():
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "%matplotlib inline\nfrom pglab import charts\ncharts.use_lab_style()\n"
        "charts.line([1, 2], {'keyset': [1, 1], 'OFFSET': [1, 2]}, title='Time per page', xlabel='page', ylabel='ms')")]
    NotebookClient(nb, kernel_name="python3").execute()
    body, _ = HTMLExporter(extra_template_basedirs=[str(ROOT / "scripts" / "templates")],
                           template_name="lab_alt").from_notebook_node(nb)
    assert 'alt="Chart: Time per page (ms against page); series: keyset, OFFSET."' in body
