"""AttentionVisualizer: see where every head of every layer looks, with no network and no CDN.

    from workbench import AutoModel, AutoTokenizer
    from workbench.widgets import AttentionVisualizer

    viz = AttentionVisualizer(model, tokenizer, "The cat sat on the mat.", "It was happy.")
    viz                      # head view; switch to the model view (layers x heads) or a heatmap
    viz.layer, viz.head = 2, 5
    viz.to_html()            # a standalone page of the current view

Everything is drawn here as inline SVG/HTML with a little CSS (hover a token to focus its lines,
click a thumbnail to zoom): nothing is fetched, so it works offline, in JupyterLab, Notebook 7,
VS Code and Colab, and in the standalone page from ``to_html()``. When the notebook is saved, a
static PNG image of the current view is stored next to the widget, so a static notebook page
(GitHub, nbviewer, a saved notebook opened without a kernel) still shows it; ``snapshot()`` /
``to_svg()`` / ``to_png()`` give static images on demand.

Long inputs (up to 512 tokens and more) stay responsive: the head view shows a window of
``max_tokens`` tokens and at most ``max_lines`` lines, heatmaps and thumbnails become raster
images pooled to a fixed size, and the note under the view says what was hidden.

``bertviz_html(...)`` / ``AttentionVisualizer.to_bertviz()`` feed the same attentions to bertviz's
``head_view``/``model_view`` for those who have bertviz and a network (its views load require.js,
d3 and jQuery from CDNs).

The package: ``widget`` (the AttentionVisualizer), one module per view (``head_view``, ``model_view``,
``heatmap``: each draws SVG for the page and a matplotlib PNG side by side), ``shared`` (what every view is
given and draws with), ``statistics`` (``head_statistics``) and ``bertviz_bridge`` (``bertviz_html``).
A new view is a ``shared.View`` subclass in a new module, listed in ``widget.VIEW_RENDERERS``.
"""

from .bertviz_bridge import bertviz_html
from .head_view import render_head_view
from .heatmap import render_heatmap
from .model_view import render_model_view
from .statistics import head_statistics
from .widget import VIEWS, AttentionVisualizer

__all__ = [
    "AttentionVisualizer",
    "head_statistics",
    "bertviz_html",
    "render_head_view",
    "render_heatmap",
    "render_model_view",
    "VIEWS",
]
