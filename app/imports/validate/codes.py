"""Normalisers for the coded roster cells: unified social credit codes and region codes."""

from __future__ import annotations

import re
from typing import Final

from app.imports.validate.normalise import EXCEL_FLOAT_RE, CellError, fold

# GB 32100-2015: the 31 characters allowed (no I, O, S, V, Z) and their values, and the weights
# W_i = 3^(i-1) mod 31 for positions 1..17.
_CREDIT_ALPHABET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS: Final = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_CREDIT_RE: Final = re.compile(rf"[{_CREDIT_ALPHABET}]{{18}}")


def credit_check_char(first17: str) -> str:
    """The 18th character of a unified social credit code (GB 32100-2015, mod 31)."""
    total = sum(
        _CREDIT_ALPHABET.index(char) * weight for char, weight in zip(first17, _CREDIT_WEIGHTS, strict=True)
    )
    return _CREDIT_ALPHABET[(31 - total % 31) % 31]


def normalise_credit_code(raw: str) -> str:
    """An 18-character unified social credit code, upper-cased, with a valid check character."""
    code = re.sub(r"[\s\-]", "", fold(raw)).upper()
    if not _CREDIT_RE.fullmatch(code):
        raise CellError(
            "credit_code_invalid",
            f"统一社会信用代码“{raw.strip()}”格式错误：应为 18 位数字或大写字母（不含 I、O、S、V、Z）。",
            f'Credit code "{raw.strip()}" is malformed: expected 18 digits or capital letters '
            "(no I, O, S, V, Z).",
        )
    if credit_check_char(code[:17]) != code[17]:
        raise CellError(
            "credit_code_checksum",
            f"统一社会信用代码“{raw.strip()}”校验位错误，请核对。",
            f'Credit code "{raw.strip()}" fails its check character; please verify it.',
        )
    return code


# First two digits of the 34 provincial-level divisions (GB/T 2260).
_PROVINCE_PREFIXES: Final = frozenset(
    str(code) for code in (*range(11, 16), 21, 22, 23, *range(31, 38), *range(41, 47), *range(50, 55))
) | {"61", "62", "63", "64", "65", "71", "81", "82"}


def normalise_region_code(raw: str) -> tuple[str, str]:
    """(code as given, its 9-digit township) for a 9-digit township or 12-digit village code."""
    code = EXCEL_FLOAT_RE.sub("", re.sub(r"[\s\-]", "", fold(raw)))
    valid = (
        code.isascii()
        and code.isdigit()
        and len(code) in (9, 12)
        and code[:2] in _PROVINCE_PREFIXES
        and code[6:9] != "000"  # a county code padded with zeros is not a township
    )
    if not valid:
        raise CellError(
            "region_code_invalid",
            f"行政区划代码“{raw.strip()}”无效：应为 9 位乡镇代码或 12 位村级代码。",
            f'Region code "{raw.strip()}" is invalid: expected a 9-digit township or 12-digit village code.',
        )
    return code, code[:9]
