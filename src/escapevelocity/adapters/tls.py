"""The one certificate-checking TLS context of the process, for every HTTP client it makes."""

from __future__ import annotations

import ssl
from functools import cache


@cache
def verify() -> ssl.SSLContext:
    """What to pass as httpx's `verify=`. An httpx client made without it builds a context of
    its own and loads the whole CA bundle into it, ~38 ms of CPU a client: once per connector
    opened, sender made, handle resolved, community feed read and sign-in request. A context is
    made to be shared (it holds no connection); this is the one httpx would make itself, as the
    environment (SSL_CERT_FILE, SSL_CERT_DIR) was when it was first asked for."""
    import httpx

    return httpx.create_ssl_context()
