"""Building columnar tables from the app's records."""

import numpy as np
import pytest

from matching import MentorTable, NewcomerTable, Policy
from tests.matching.conftest import mentor, newcomer


def test_from_records_fills_columns_and_county_seat_coordinates() -> None:
    m = MentorTable.from_records(
        [mentor(7, "350524", ["红茶", "tea.growing"], fulfilment_rate=None, lat=None)]
    )
    assert m.ids.tolist() == [7] and m.county.tolist() == [350524]
    assert m.primary_category[0] == 1 and m.categories.nnz == 2
    assert np.isnan(m.track_record[0]) and abs(m.lat[0] - 25.056) < 1e-3
    assert m.level_codes("prefecture")[0] == 3505 and m.level_codes("province")[0] == 35
    assert m.rows_of([7]).tolist() == [0]
    with pytest.raises(KeyError):
        m.rows_of([8])


@pytest.mark.parametrize(
    "bad",
    [
        {"channels": ["myspace"]},
        {"products": ["unobtainium"]},
        {"languages": ["klingon"]},
        {"county_code": "999999"},
    ],
)
def test_from_records_rejects_unknown_values(bad: dict) -> None:
    with pytest.raises(ValueError):
        NewcomerTable.from_records([{**newcomer(1, "350524", ["tea"]), **bad}])


def test_duplicate_ids_rejected() -> None:
    with pytest.raises(ValueError):
        NewcomerTable.from_records([newcomer(1, "350524", ["tea"]), newcomer(1, "350525", ["tea"])])


def test_policy_validation() -> None:
    with pytest.raises(ValueError):
        Policy(separation="village")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Policy(k=0)
    assert Policy(k=5).pool_size == 10
