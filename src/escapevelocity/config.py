"""Settings, read from the environment by one function, with safe defaults.

EV_DATABASE_URL   sqlite:///var/ev.db (the embedded default) or postgresql://…
EV_SECRET_KEY     signs session cookies; generated into var/secret.key when unset
EV_BUS            inline (default) or nats://127.0.0.1:4222 (scale-out, later)
EV_MAX_BODY_BYTES largest accepted HTTP body (default 5 MB)
EV_AWAY_AFTER_MINUTES  auto-away: members idle this long are away for routing, six times as
                  long offline (default 10; 0 routes by declared presence only)
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: str
    bus: str = "inline"
    max_body_bytes: int = 5_000_000
    max_batch: int = 1_000
    secure_cookies: bool = False
    away_after_minutes: float = 10.0  # auto-away in the running app (services/live_routing)

    def masked(self) -> dict[str, str]:
        url = self.database_url
        if "@" in url:
            scheme, rest = url.split("://", 1)
            url = f"{scheme}://***@{rest.split('@', 1)[1]}"
        return {"database_url": url, "secret_key": "***", "bus": self.bus,
                "max_body_bytes": str(self.max_body_bytes), "max_batch": str(self.max_batch),
                "away_after_minutes": f"{self.away_after_minutes:g}",
                "secure_cookies": str(self.secure_cookies).lower()}


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
    return Settings(database_url=url, secret_key=key, bus=env.get("EV_BUS", "inline"),
                    max_body_bytes=max_body, away_after_minutes=max(away, 0.0),
                    secure_cookies=env.get("EV_SECURE_COOKIES", "") == "1")
