"""Bodies of the learned ranker's versions."""

from __future__ import annotations

from datetime import datetime

from app.schemas import Output


class ModelRead(Output):
    """A trained ranker version and its held-out metrics."""

    id: int
    version: str
    metrics: dict[str, float]
    n_samples: int
    trained_at: datetime
