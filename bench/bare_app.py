"""The floor for API latency: a bare FastAPI endpoint returning a similar-sized JSON body."""

from fastapi import FastAPI

app = FastAPI()
_ITEM = {
    "id": 1,
    "name": "沭阳花木合作社",
    "region_code": "321322115",
    "products": ["flowers.seedlings"],
    "story": "从一个大棚做到全镇联营" * 5,
    "phone": "139****5678",
    "capacity": 3,
}


@app.get("/healthz")
def healthz() -> dict[str, str]:
    """Readiness for the harness."""
    return {"status": "ok"}


@app.get("/page")
def page() -> dict[str, object]:
    """Fifty items, like one page of mentors."""
    return {"items": [_ITEM] * 50, "next_cursor": "WzUwXQ"}


@app.get("/one")
def one() -> dict[str, object]:
    """One item, like one profile."""
    return _ITEM
