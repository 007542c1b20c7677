"""/metrics (Prometheus) is not for anyone who reaches the port: it asks for a bearer API
token with the `metrics` scope, unless the settings open it (EV_METRICS_OPEN=1)."""

from __future__ import annotations

import importlib.util

import pytest
from fastapi.testclient import TestClient

from escapevelocity.config import Settings, load_settings
from escapevelocity.services import tokens
from escapevelocity.web.app import create_app

HAS_PROM = importlib.util.find_spec("prometheus_client") is not None


def _token(workspace, clock, **kw) -> str:
    secret, _ = tokens.create(workspace.store, clock, by="sam", name="prometheus", **kw)
    return secret


def test_metrics_ask_for_a_token_with_the_metrics_scope(app, workspace, clock):
    anon = TestClient(app)
    r = anon.get("/metrics", headers={"Accept": "text/plain"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert "ev_queue_lag_messages" not in r.text and "ev_sla_at_risk" not in r.text
    assert anon.get("/metrics", headers={"Authorization": "Bearer ev_nope"}).status_code == 401
    ingest = _token(workspace, clock, kind="service", scopes=["ingest"])
    r = anon.get("/metrics", headers={"Authorization": f"Bearer {ingest}"})
    assert r.status_code == 403 and "metrics" in r.text
    scraper = _token(workspace, clock, kind="service", scopes=["metrics"])  # acts as nobody
    r = anon.get("/metrics", headers={"Authorization": f"Bearer {scraper}"})
    if HAS_PROM:
        assert r.status_code == 200 and "ev_sla_at_risk" in r.text
    else:  # a base install: the scrape is allowed, the exporter is missing
        assert r.status_code == 404 and "scale extra" in r.text
    with pytest.raises(tokens.TokenError, match="service tokens"):
        _token(workspace, clock, scopes=["metrics"])  # a personal token: not for scraping


def test_the_settings_may_open_metrics(workspace):
    assert load_settings({"EV_SECRET_KEY": "k" * 32, "EV_VAR_DIR": "/tmp"}).metrics_open is False
    assert load_settings({"EV_SECRET_KEY": "k" * 32, "EV_VAR_DIR": "/tmp",
                          "EV_METRICS_OPEN": "1"}).metrics_open is True
    app = create_app(workspace, Settings(database_url="unused", secret_key="s" * 32,
                                         metrics_open=True), tick_seconds=None)
    r = TestClient(app).get("/metrics")
    assert r.status_code == (200 if HAS_PROM else 404)


@pytest.mark.skipif(not HAS_PROM, reason="prometheus-client (the scale extra) is not installed")
def test_the_workers_metrics_port_listens_on_loopback_unless_told():
    """`ev worker`'s own metrics server has no sign-in, so by default nothing but this machine
    reaches it; EV_METRICS_HOST names the private address a remote Prometheus scrapes."""
    import socket
    import urllib.request

    from escapevelocity.services import metrics

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = metrics.serve(port)
    try:
        assert server.server_address[0] == "127.0.0.1"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            assert r.status == 200 and b"python_info" in r.read()
    finally:
        server.shutdown()
        server.server_close()
