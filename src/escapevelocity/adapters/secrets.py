"""Sealing connection secrets (tokens, passwords, webhook keys) at rest.

Fernet (the `cryptography` package: AES-128-CBC with HMAC-SHA256, versioned tokens) with a key
kept outside the database: derived (HKDF-SHA256, its own purpose label) from the workspace
secret, EV_SECRET_KEY or var/secret.key (config.py). A copy of the database alone reveals no
token, and the cookie-signing key is never used as is. `Secret` keeps a value out of reprs,
logs and tracebacks; nothing here ever prints a secret.
"""

from __future__ import annotations

import base64
import json

PURPOSE = b"escapevelocity connection secrets v1"


class Secret(str):
    """A string that does not show itself in repr(), str() or f-strings."""

    def __repr__(self) -> str:
        return "Secret('•••')"

    __str__ = __repr__
    __format__ = lambda self, spec: "•••"  # noqa: E731

    def reveal(self) -> str:
        return str.__str__(self)


def reveal(value: object) -> str:
    return value.reveal() if isinstance(value, Secret) else str(value)


def _crypto():
    try:
        from cryptography.fernet import Fernet, InvalidToken
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    except ImportError as exc:  # pragma: no cover - the `channels` extra
        raise RuntimeError("connection secrets need the `channels` extra "
                           "(pip install 'escapevelocity[channels]')") from exc
    return Fernet, InvalidToken, hashes, HKDF


class Sealer:
    def __init__(self, workspace_secret: str) -> None:
        fernet, self._invalid, hashes, hkdf = _crypto()
        key = hkdf(algorithm=hashes.SHA256(), length=32, salt=None, info=PURPOSE).derive(
            workspace_secret.encode())
        self._fernet = fernet(base64.urlsafe_b64encode(key))

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Sealer:
        from escapevelocity.config import load_settings

        return cls(load_settings(env).secret_key)

    def seal(self, secrets: dict[str, str]) -> str:
        if not secrets:
            return ""
        plain = {k: reveal(v) for k, v in secrets.items()}
        return self._fernet.encrypt(json.dumps(plain, sort_keys=True).encode()).decode()

    def unseal(self, token: str) -> dict[str, Secret]:
        if not token:
            return {}
        try:
            raw = self._fernet.decrypt(token.encode())
        except self._invalid:
            raise RuntimeError("connection secrets cannot be read with this key "
                               "(EV_SECRET_KEY changed?)") from None
        return {k: Secret(v) for k, v in json.loads(raw).items()}
