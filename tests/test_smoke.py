from tests.conftest import SHUYANG


def test_healthz(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_reports_head(client):
    r = client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["migration"] == r.json()["head"]


def test_region_lookup(client, make_user):
    u = make_user("newcomer")
    r = client.get(f"/api/v1/regions/{SHUYANG}", headers=u.headers)
    assert r.status_code == 200, r.text
    assert r.json()["full_name"] == "江苏省宿迁市沭阳县"
