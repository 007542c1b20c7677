"""A workspace: its organisation, vocabulary, active playbook, passwords and API tokens.

`Workspace` is the composition root for one database: it builds the store, compiles the
active playbook and the enricher, and hands out a Triager. Nothing is built at import time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache

from escapevelocity.adapters.store import SqlStore, Tx, signin
from escapevelocity.domain import enrich, governance, yamlsafe
from escapevelocity.domain.brand import BrandProfile
from escapevelocity.domain.brand import parse_yaml as parse_brand
from escapevelocity.domain.clock import Clock
from escapevelocity.domain.enrich import Enricher
from escapevelocity.domain.org import Organisation, load_org
from escapevelocity.domain.playbook import Playbook, compile_playbook
from escapevelocity.domain.triage import Triager
from escapevelocity.domain.vocabulary import Vocabulary

# scrypt's work factor for new hashes. The test suite lowers it (tests/conftest.py) so a seed
# or a login costs microseconds, not 50 ms; nothing else sets it. A hash other than the default
# records its factor ("scrypt:N$salt$digest") and is checked at that factor, so a hash keeps
# working whatever this is; the default keeps the original form ("scrypt$salt$digest").
SCRYPT_N = 2**14


def hash_password(password: str, salt: bytes | None = None, n: int | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    n = n or SCRYPT_N
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=8, p=1)
    scheme = "scrypt" if n == 2**14 else f"scrypt:{n}"
    return f"{scheme}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str | None) -> bool:
    scheme, _, rest = (stored or "").partition("$")
    n = 2**14 if scheme == "scrypt" else _factor(scheme)
    if n is None or rest.count("$") != 1:
        hashlib.scrypt(b"x", salt=b"0" * 16, n=SCRYPT_N, r=8, p=1)  # same cost either way
        return False
    salt = rest.split("$")[0]
    return hmac.compare_digest(hash_password(password, bytes.fromhex(salt), n), stored or "")


def _factor(scheme: str) -> int | None:
    """N from "scrypt:N" (a power of two above 1), else None."""
    name, _, n = scheme.partition(":")
    ok = name == "scrypt" and n.isdigit() and int(n) > 1 and int(n) & (int(n) - 1) == 0
    return int(n) if ok else None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class Workspace:
    store: SqlStore
    clock: Clock
    # Auto-away for routing: idle this long is away, six times as long offline (None: declared
    # presence only). The running web app switches it on (EV_AWAY_AFTER_MINUTES, default 10).
    away_after: timedelta | None = None
    _triager: Triager | None = field(default=None, repr=False)
    _playbook_version: tuple | None = field(default=None, repr=False)

    @classmethod
    def open(cls, url: str, clock: Clock, *, migrate: bool = True) -> Workspace:
        store = SqlStore(url)
        if migrate:
            store.migrate()
        return cls(store, clock)

    # --- setup ---------------------------------------------------------------------------------

    def apply_org(self, org_yaml: str) -> Organisation:
        """Replace the organisation; members removed or given another role are signed out."""
        org = load_org(yamlsafe.load(org_yaml))
        with self.store.begin() as tx:
            before = {m.id: m.role for m in tx.org.load().members}
            now = self.clock.now()
            for member, role in before.items():
                changed = org.member(member)
                if changed is None or changed.role != role:
                    tx.signin.revoke_member_sessions(member, now)
            tx.org.save(org)
            tx.documents.put("org", org_yaml, self.clock.now())
        self._triager = None
        return org

    def set_vocabulary(self, vocabulary_yaml: str) -> None:
        Vocabulary.from_dict(yamlsafe.load(vocabulary_yaml) or {})  # validate before saving
        with self.store.begin() as tx:
            tx.documents.put("vocabulary", vocabulary_yaml, self.clock.now())
        self._triager = None

    def save_playbook(self, source: str, *, author: str, note: str = "",
                      activate: bool = True) -> int:
        """The setup path (seed, drills, tests): no member check, no approval. Members go
        through services/playbooks (save, activate, approve). A broken playbook raises
        PlaybookError and never replaces the active one."""
        from escapevelocity.services import playbooks

        version = playbooks.install(self.store, self.clock, source, author=author, note=note,
                                    activate=activate)
        self._triager = None
        return version

    def set_password(self, member: str, password: str) -> None:
        """Set it and sign the member out everywhere (a copied cookie dies with the old one)."""
        with self.store.begin() as tx:
            tx.auth.set_password(member, hash_password(password))
            tx.signin.revoke_member_sessions(member, self.clock.now())

    def authenticate(self, member: str, password: str) -> bool:
        with self.store.begin() as tx:
            return check_password(password, tx.auth.password_hash(member))

    def new_api_token(self, name: str, scopes: str = "ingest") -> str:
        token = "ev_" + secrets.token_urlsafe(24)
        with self.store.begin() as tx:
            tx.signin.add_token(token_hash(token), name, self.clock.now(), scopes=scopes)
        return token

    def api_token_name(self, token: str) -> str | None:
        """The name of a live (not revoked, not expired) token; its last use is noted. A cut
        connection is retried, not taken for a refusal."""
        from escapevelocity.services.retry import retrying

        def use() -> str | None:  # the mentions API: tokens with the ingest scope
            with self.store.begin() as tx:
                info = tx.signin.use_token_info(token_hash(token), self.clock.now())
            return info.name if info and "ingest" in (info.scopes.split() or ["ingest"]) else None
        return retrying(use, what="token check")

    def api_tokens(self) -> list[signin.TokenInfo]:
        with self.store.begin() as tx:
            return tx.signin.list_tokens()

    def revoke_api_token(self, name_or_id: str) -> int:
        with self.store.begin() as tx:
            return tx.signin.revoke_tokens(name_or_id, self.clock.now())

    def set_presence(self, member: str, presence: str, at: datetime | None = None) -> None:
        with self.store.begin() as tx:
            tx.org.set_presence(member, presence, at or self.clock.now())

    # --- the pipeline --------------------------------------------------------------------------

    def triager(self) -> Triager:
        """Compiled once per active playbook version; recompiled when a new one is activated."""
        with self.store.begin() as tx:
            active = tx.playbooks.active()
            if active is None:
                raise RuntimeError("this workspace has no active playbook: run `ev workspace init`")
            # a spoke's mode changes routing; the organisation's text: an admin page or
            # `ev org apply` in another process
            # (the governance text too: under a drill's or a test's clock two versions may
            # carry the same time)
            program = tx.documents.get(governance.DOCUMENT) or ""
            stamp = (active[0], self._models_stamp(tx), tx.brand_versions.stamp(),
                     hash(program), hash(tx.documents.get("org") or ""))
            if self._triager is None or self._playbook_version != stamp:
                vocab_yaml = tx.documents.get("vocabulary") or ""
                playbook = _compiled_playbook(active[1], f"v{active[0]}")
                org = tx.org.load()
                # a unit's own connection, once live, takes what the playbook gives a hub
                owned = governance.owners(governance.decode(program))
                found = tx.brand_versions.latest()
                brand = parse_brand(found.yaml) if found else BrandProfile()
        if self._triager is None or self._playbook_version != stamp:
            from escapevelocity.services.learning import load_models

            # Models learned from this workspace's corrections refine the shipped rules; a
            # model's sentence vectors are read off the hot path (services/refine.py).
            models = load_models(self.store)
            enricher = (_enricher(vocab_yaml) if not models else
                        Enricher(_vocabulary(vocab_yaml), models=models, defer_vectors=True))
            self._triager = Triager(enricher, playbook, org, brand, owned)
            self._playbook_version = stamp
        return self._triager

    def _models_stamp(self, tx: Tx) -> tuple:
        """Changes when a learned model is promoted, so the next batch uses it."""
        return tx.documents.stamps("model:")


# A Playbook and a model-less Enricher are functions of their texts alone and are not changed
# once built (a Playbook's memos are of its own decisions): every workspace of a process shares
# one per text. Each new Workspace (every web worker's, CLI command's and drill's, and every
# test's) compiled both again, ~35 ms of CPU to reach the same objects; the YAML parse of the
# playbook alone was 1.5% of the unit+integration suite's CPU. Bounded: a long-lived process
# sees a few playbook versions and vocabularies, not thousands.
@lru_cache(maxsize=16)
def _compiled_playbook(source: str, version: str) -> Playbook:
    return compile_playbook(source, version=version, stored=True)


def _vocabulary(vocabulary_yaml: str) -> Vocabulary:
    return Vocabulary.from_dict(yamlsafe.load(vocabulary_yaml) or {})


_ENRICHERS: dict[str, tuple[object, object, Enricher]] = {}


def _enricher(vocabulary_yaml: str) -> Enricher:
    """The Enricher for this vocabulary with no learned models. Also made anew when the word
    tables or the kernels' module an Enricher reads when it is made have changed since (their
    caches emptied: scripts/sentiment_audit.py, tests/unit/test_hotpath.py)."""
    tables, hotpath = enrich._word_tables(), enrich._hotpath()
    found = _ENRICHERS.get(vocabulary_yaml)
    if found is not None and found[0] is tables and found[1] is hotpath:
        return found[2]
    enricher = Enricher(_vocabulary(vocabulary_yaml), defer_vectors=True)
    if len(_ENRICHERS) >= 8:
        _ENRICHERS.clear()
    _ENRICHERS[vocabulary_yaml] = (tables, hotpath, enricher)
    return enricher
