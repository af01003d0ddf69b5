"""design rules (see ../shared/review-rules.md)."""

from __future__ import annotations
