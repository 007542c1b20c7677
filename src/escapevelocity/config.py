"""Settings, read from the environment by one function, with safe defaults.

EV_DATABASE_URL   sqlite:///var/ev.db (the embedded default) or postgresql://…
EV_SECRET_KEY     signs session cookies; generated into var/secret.key when unset
EV_BUS            inline (default) or nats://127.0.0.1:4222 (scale-out: docs/deploy.md)
EV_MAX_BODY_BYTES largest accepted HTTP body (default 5 MB)
EV_TRUSTED_PROXIES  comma-separated addresses/networks of reverse proxies whose X-Forwarded-For
                  is believed (default: none; the socket's peer is the client)
EV_HSTS_SECONDS   send Strict-Transport-Security with this max-age (default 0: off; set it only
                  when every visitor reaches the app over HTTPS)
EV_AWAY_AFTER_MINUTES  auto-away: members idle this long are away for routing, six times as
                  long offline (default 10; 0 routes by declared presence only)
EV_MENTION_EARLIEST    mentions written before this date are refused (default 2006-01-01)
EV_MENTION_FUTURE_HOURS  nor more than this many hours ahead of now (default 24)
EV_METRICS_OPEN   1: /metrics answers anyone (only where nothing but Prometheus reaches it);
                  default: it asks for a bearer API token with the `metrics` scope
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from escapevelocity.services.parse import WINDOW, Window


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: str
    bus: str = "inline"
    max_body_bytes: int = 5_000_000
    max_batch: int = 1_000
    secure_cookies: bool = False
    away_after_minutes: float = 10.0  # auto-away in the running app (services/live_routing)
    trusted_proxies: tuple[str, ...] = ()
    hsts_seconds: int = 0
    mention_window: Window = field(default=WINDOW)  # when a mention may have been written
    metrics_open: bool = False  # /metrics without a token (EV_METRICS_OPEN=1)

    def masked(self) -> dict[str, str]:
        url = self.database_url
        if "@" in url:
            scheme, rest = url.split("://", 1)
            url = f"{scheme}://***@{rest.split('@', 1)[1]}"
        return {"database_url": url, "secret_key": "***", "bus": self.bus,
                "max_body_bytes": str(self.max_body_bytes), "max_batch": str(self.max_batch),
                "away_after_minutes": f"{self.away_after_minutes:g}",
                "secure_cookies": str(self.secure_cookies).lower(),
                "trusted_proxies": ",".join(self.trusted_proxies) or "none",
                "hsts_seconds": str(self.hsts_seconds),
                "metrics": "open" if self.metrics_open else "token (metrics scope)",
                "mention_window": f"{self.mention_window.earliest:%Y-%m-%d} to now + "
                                  f"{self.mention_window.future.total_seconds() / 3600:g} h"}


def _secret(var_dir: Path) -> str:
    path = var_dir / "secret.key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    path.write_text(key)
    path.chmod(0o600)
    return key


def load_settings(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    var_dir = Path(env.get("EV_VAR_DIR", "var"))
    url = env.get("EV_DATABASE_URL") or f"sqlite:///{var_dir / 'ev.db'}"
    if not url.startswith(("sqlite:///", "postgresql://", "postgresql+psycopg://")):
        raise ValueError(f"EV_DATABASE_URL must be sqlite:///PATH or postgresql://…, got {url!r}")
    try:
        max_body = int(env.get("EV_MAX_BODY_BYTES", "5000000"))
    except ValueError:
        raise ValueError("EV_MAX_BODY_BYTES must be a whole number of bytes") from None
    key = env.get("EV_SECRET_KEY") or _secret(var_dir)
    if len(key) < 16:
        raise ValueError("EV_SECRET_KEY is too short: use at least 16 random characters")
    try:
        away = float(env.get("EV_AWAY_AFTER_MINUTES", "10"))
    except ValueError:
        raise ValueError("EV_AWAY_AFTER_MINUTES must be a number of minutes") from None
    proxies = tuple(p.strip() for p in env.get("EV_TRUSTED_PROXIES", "").split(",") if p.strip())
    for proxy in proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise ValueError(f"EV_TRUSTED_PROXIES: {proxy!r} is not an address or network "
                             "(e.g. 10.0.0.5,10.1.0.0/16)") from None
    try:
        hsts = int(env.get("EV_HSTS_SECONDS", "0"))
    except ValueError:
        raise ValueError("EV_HSTS_SECONDS must be a whole number of seconds") from None
    try:
        earliest = datetime.fromisoformat(env.get("EV_MENTION_EARLIEST", "2006-01-01"))
        future = float(env.get("EV_MENTION_FUTURE_HOURS", "24"))
    except ValueError:
        raise ValueError("EV_MENTION_EARLIEST must be a date (2006-01-01) and "
                         "EV_MENTION_FUTURE_HOURS a number of hours") from None
    window = Window(earliest if earliest.tzinfo else earliest.replace(tzinfo=UTC),
                    timedelta(hours=max(future, 0.0)))
    return Settings(database_url=url, secret_key=key, bus=env.get("EV_BUS", "inline"),
                    max_body_bytes=max_body, away_after_minutes=max(away, 0.0),
                    secure_cookies=env.get("EV_SECURE_COOKIES", "") == "1",
                    trusted_proxies=proxies, hsts_seconds=max(hsts, 0),
                    mention_window=window, metrics_open=env.get("EV_METRICS_OPEN", "") == "1")
