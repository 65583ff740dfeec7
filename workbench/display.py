"""Small formatting helpers shared by everything that draws HTML: widgets, demos, progress bars."""

from __future__ import annotations

import html
import math
from typing import Any


def escape(value: Any) -> str:
    """Any value as text that is safe inside HTML, attributes included."""
    return html.escape(str(value), quote=True)


def clock(seconds: float | None, unknown: str = "--:--") -> str:
    """Seconds as ``mm:ss``, or ``h:mm:ss`` from an hour on; ``unknown`` when there is no finite value."""
    if seconds is None or not math.isfinite(seconds):
        return unknown
    hours, rest = divmod(int(round(seconds)), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"
