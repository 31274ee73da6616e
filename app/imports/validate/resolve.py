"""Region lookups for one import against the regions table, cached for the life of the import.

Codes are checked against every known division (the table stops at townships, so a 12-digit village
code is kept only when the village is known, else truncated to its township). Names resolve as the
template allows: exactly, or with the administrative suffix (省/市/县/区/镇/乡/街道 ...) stripped.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.imports.validate.rows import RegionResolution
from app.models import Region

# Longest first, so "自治县" is stripped before "县" and "街道办事处" before "街道".
_SUFFIXES: Final = tuple(
    sorted(
        (
            "特别行政区",
            "维吾尔自治区",
            "壮族自治区",
            "回族自治区",
            "自治区",
            "自治州",
            "自治县",
            "自治旗",
            "街道办事处",
            "街道",
            "地区",
            "民族乡",
            "林区",
            "省",
            "市",
            "县",
            "区",
            "旗",
            "盟",
            "镇",
            "乡",
        ),
        key=len,
        reverse=True,
    )
)
_TOWNSHIP_SUFFIXES: Final = ("镇", "乡", "街道", "民族乡", "街道办事处")
_MAX_CANDIDATES: Final = 10


def core_name(name: str) -> str:
    """A place name without its administrative suffix ("沭阳县" → "沭阳"); never empty."""
    name = name.strip()
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def names_match(given: str, official: str) -> bool:
    """Exact match, or equal once both lose their suffix ("曹县" and "曹", "江苏" and "江苏省")."""
    return given == official or core_name(given) == core_name(official)


class RegionResolver:
    """Answers code and name lookups for one import; every answer is cached.

    Each lookup runs in its own short session: on SQLite a long-lived one would hold the write lock
    (BEGIN IMMEDIATE) that the import's chunk transactions need.
    """

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._codes: frozenset[str] | None = None
        self._names: dict[str, str] = {}
        self._resolved: dict[tuple[str | None, ...], RegionResolution] = {}

    def _known(self) -> frozenset[str]:
        # ~42k short strings: one query per import beats one query per distinct code.
        if self._codes is None:
            with self._sessions() as session:
                self._codes = frozenset(session.scalars(select(Region.code)))
        return self._codes

    def locate(self, code: str) -> str | None:
        """The code to store for a row's 9/12-digit region code, or None when the township is unknown."""
        known = self._known()
        if code in known:
            return code
        if len(code) == 12 and code[:9] in known:
            return code[:9]
        return None

    def __call__(
        self, province: str | None, prefecture: str | None, county: str | None, township: str | None
    ) -> RegionResolution:
        """Resolve names to a township code (rows.ResolveRegion)."""
        key = (province, prefecture, county, township)
        if key not in self._resolved:
            self._resolved[key] = self._resolve(province, prefecture, county, township)
        return self._resolved[key]

    def _resolve(
        self, province: str | None, prefecture: str | None, county: str | None, township: str | None
    ) -> RegionResolution:
        if not township:
            return RegionResolution(not_found=True)
        core = core_name(township)
        variants = {township, core, *(core + suffix for suffix in _TOWNSHIP_SUFFIXES)}
        with self._sessions() as session:
            towns = session.execute(
                select(Region.code, Region.name).where(Region.level == "township", Region.name.in_(variants))
            ).all()
        self._load_names(code[:n] for code, _ in towns for n in (2, 4, 6))
        given = ((province, 2), (prefecture, 4), (county, 6))
        hits = [
            (code, name)
            for code, name in towns
            if names_match(township, name)
            and all(want is None or names_match(want, self._names.get(code[:n], "")) for want, n in given)
        ]
        if len(hits) == 1:
            return RegionResolution(code=hits[0][0])
        if hits:
            hits.sort()
            return RegionResolution(
                candidates=tuple((code, self.full_name(code, name)) for code, name in hits[:_MAX_CANDIDATES])
            )
        return RegionResolution(not_found=True)

    def _load_names(self, codes: Iterable[str]) -> None:
        missing = set(codes) - self._names.keys()
        if missing:
            with self._sessions() as session:
                rows = session.execute(select(Region.code, Region.name).where(Region.code.in_(missing)))
                # An unknown code is remembered as "" so that each is asked for once per import.
                self._names.update(dict.fromkeys(missing, ""))
                self._names.update({code: name for code, name in rows})

    def place(self, code: str) -> str:
        """省市县 + township for a township code, as an office reads it; the code when it is unknown."""
        self._load_names(code[:n] for n in (2, 4, 6, 9))
        name = self._names.get(code[:9])
        return self.full_name(code, name) if name else code

    def full_name(self, code: str, name: str) -> str:
        """省市县 + township, for listing ambiguous candidates to a person."""
        parts = [self._names.get(code[:n], "") for n in (2, 4, 6)]
        # Municipalities repeat the province name at the prefecture level ("北京市北京市").
        if parts[0] == parts[1]:
            parts[1] = ""
        return "".join(parts) + name
