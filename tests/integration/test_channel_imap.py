"""IMAP end to end: imap-tools against a small fake IMAP4rev1 server on 127.0.0.1 holding the
recorded message shapes (channels/imap/fixtures), which drops the connection mid-fetch, stalls,
refuses a password and renumbers the folder (a new UIDVALIDITY)."""

from __future__ import annotations

import re
import socketserver
import threading
import time
from collections import deque
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from channel_kit import POLL_S, add_connection, connection, runner_for, stored

pytest.importorskip("imap_tools")

FIXTURES = Path(__file__).resolve().parents[2] / "src/escapevelocity/channels/imap/fixtures"


class FakeImap:
    def __init__(self, now) -> None:
        self.template = (FIXTURES / "complaint.eml").read_bytes()
        self.reply = (FIXTURES / "reply.eml").read_bytes()
        self.messages: list[tuple[int, bytes]] = []
        self.uidvalidity = 42
        self.next_uid = 1
        self.now = now
        self.password = "pw-good"
        self.faults: deque[str] = deque()
        self.server = None
        self.port = 0

    def add(self, n: int, subject: str = "Router reboots every hour") -> list[str]:
        ids = []
        for _ in range(n):
            uid = self.next_uid
            self.next_uid += 1
            raw = self.template.replace(b"CAF=q8Kp2x9w@mail.example.com",
                                        f"m{uid}.{self.uidvalidity}@mail.example.com".encode())
            raw = raw.replace(b"Router reboots every hour since the update",
                              f"{subject} ({uid})".encode())
            raw = raw.replace(b"Sat, 05 Dec 2026 11:01:09 +0100",
                              format_datetime(self.now - timedelta(minutes=3)).encode())
            self.messages.append((uid, raw))
            ids.append(f"m{uid}.{self.uidvalidity}@mail.example.com")
        return ids

    def renumber(self) -> None:
        """The server rebuilt the folder: new UIDs, new UIDVALIDITY, same messages."""
        self.uidvalidity += 1
        self.messages = [(i + 1000, raw) for i, (_, raw) in enumerate(self.messages)]
        self.next_uid = 1000 + len(self.messages)

    def start(self) -> None:
        fake = self

        class Handler(socketserver.StreamRequestHandler):
            def send(self, line: bytes) -> None:
                self.wfile.write(line + b"\r\n")

            def handle(self) -> None:
                self.send(b"* OK [CAPABILITY IMAP4rev1] fake ready")
                while True:
                    line = self.rfile.readline()
                    if not line:
                        return
                    tag, _, rest = line.rstrip(b"\r\n").partition(b" ")
                    command, _, args = rest.partition(b" ")
                    command = command.upper()
                    if command == b"UID":
                        sub, _, args = args.partition(b" ")
                        command = b"UID " + sub.upper()
                    if not self.answer(tag, command, args):
                        return

            def answer(self, tag: bytes, command: bytes, args: bytes) -> bool:
                if command == b"CAPABILITY":
                    self.send(b"* CAPABILITY IMAP4rev1 UIDPLUS")
                elif command == b"LOGIN":
                    if fake.password.encode() not in args:
                        self.send(tag + b" NO [AUTHENTICATIONFAILED] Invalid credentials")
                        return True
                elif command in (b"SELECT", b"EXAMINE"):
                    if fake.faults and fake.faults[0] == "stall":
                        fake.faults.popleft()
                        time.sleep(1.5)  # longer than the client waits
                        return False
                    self.send(b"* %d EXISTS" % len(fake.messages))
                    self.send(b"* OK [UIDVALIDITY %d] UIDs valid" % fake.uidvalidity)
                    self.send(b"* OK [UIDNEXT %d] next" % fake.next_uid)
                    self.send(tag + b" OK [READ-ONLY] done")
                    return True
                elif command == b"UID SEARCH":
                    low = int(re.search(rb"UID (\d+):\*", args).group(1))
                    uids = [u for u, _ in fake.messages if u >= low] or (
                        [fake.messages[-1][0]] if fake.messages else [])  # n:* has the last
                    self.send(b"* SEARCH " + b" ".join(b"%d" % u for u in uids))
                elif command == b"UID FETCH":
                    wanted = {int(u) for u in args.split(b" ")[0].split(b",")}
                    sent = 0
                    for seq, (uid, raw) in enumerate(fake.messages, 1):
                        if uid not in wanted:
                            continue
                        if fake.faults and fake.faults[0] == "drop" and sent == 2:
                            fake.faults.popleft()
                            self.send(b"* BYE server restarting")
                            return False
                        self.wfile.write(b"* %d FETCH (UID %d FLAGS () RFC822.SIZE %d BODY[] "
                                         b"{%d}\r\n" % (seq, uid, len(raw), len(raw)) + raw
                                         + b")\r\n")
                        sent += 1
                elif command == b"LOGOUT":
                    self.send(b"* BYE bye")
                    self.send(tag + b" OK done")
                    return False
                elif command == b"NOOP":
                    pass
                else:
                    self.send(tag + b" BAD unknown " + command)
                    return True
                self.send(tag + b" OK done")
                return True

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": POLL_S},
                         daemon=True).start()

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def fake(workspace):
    f = FakeImap(workspace.clock.now())
    f.start()
    yield f
    f.stop()


def test_imap_pages_resumes_and_survives_drops(workspace, fake):
    runner, _, sealer = runner_for(workspace, attempts=5)
    first = fake.add(25)
    fake.add(2, subject="Newsletter: our winter offers")
    add_connection(workspace, sealer, "support-mail", "imap",
                   {"host": "127.0.0.1", "port": fake.port, "ssl": False,
                    "username": "support", "timeout": 0.5, "page": 10},
                   {"password": "pw-good"}, query="-newsletter")
    fake.faults.extend(["stall", "drop"])
    r = runner.poll("support-mail")
    assert r.error == "" and r.health == "degraded" and r.retries == 2
    assert r.pages == 3 and (r.read, r.kept, r.accepted, r.duplicates) == (27, 25, 25, 0)
    assert stored(workspace, "email") == sorted(first)

    fake.stop()
    later = fake.add(7)
    assert runner.poll("support-mail").health == "failing"
    fake.start()
    r = runner.poll("support-mail")
    assert r.health == "connected" and (r.accepted, r.duplicates) == (7, 0)

    # The folder is renumbered: everything is read again, nothing is ingested twice.
    fake.renumber()
    r = runner.poll("support-mail")
    assert (r.accepted, r.duplicates) == (0, 32)
    assert stored(workspace, "email") == sorted(first + later)
    assert '"uidvalidity": "43"' in connection(workspace, "support-mail").cursor

    fake.password = "changed"
    r = runner.poll("support-mail")
    assert r.health == "credentials_expired" and r.retries == 0
