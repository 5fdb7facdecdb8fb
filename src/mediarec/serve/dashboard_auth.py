"""Who may use the dashboard.

On loopback the dashboard is open, as the API's reads are, but two browser attacks still reach a
loopback server: a page on another site posting to it (refused: every dashboard write needs a
token that only a page read from this server can know) and DNS rebinding, where another site's
name resolves to 127.0.0.1 and its scripts read our pages (refused: the Host header must name
loopback). When the server listens on any other address, the dashboard asks for the API key
once and then holds a session in an HttpOnly cookie; the key itself never reaches the page.
"""

from __future__ import annotations

import ipaddress
import secrets
import threading
import time
from dataclasses import dataclass

COOKIE = "mediarec_session"
CSRF_HEADER = "X-CSRF-Token"
SESSION_SECONDS = 12 * 3600
MAX_SESSIONS = 1000
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def is_loopback(host: str) -> bool:
    """Whether a listen address or Host-header name can only be reached from this machine."""
    name = host.strip().strip("[]").lower()
    if name in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str:
    """The name part of a Host header: ``[::1]:8000`` -> ``::1``, ``localhost:8000`` -> ``localhost``."""
    value = header.strip()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


@dataclass(frozen=True)
class Session:
    csrf: str
    expires: float


class Access:
    """The dashboard's access rule for one server: open on loopback, a login anywhere else."""

    def __init__(self, listen_host: str) -> None:
        self.login_required = not is_loopback(listen_host)
        # One token per server process guards writes when there is no login (see the module doc).
        self.local_csrf = secrets.token_urlsafe(32)
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def host_allowed(self, host_header: str | None) -> bool:
        return not self.login_required and is_loopback(host_name(host_header or ""))

    def open_session(self) -> str:
        token = secrets.token_urlsafe(32)
        now = time.time()
        with self._lock:
            self._sessions = {t: s for t, s in self._sessions.items() if s.expires > now}
            if len(self._sessions) >= MAX_SESSIONS:  # bound memory: the oldest login goes first
                oldest = min(self._sessions, key=lambda t: self._sessions[t].expires)
                del self._sessions[oldest]
            self._sessions[token] = Session(secrets.token_urlsafe(32), now + SESSION_SECONDS)
        return token

    def session(self, token: str | None) -> Session | None:
        if not token:
            return None
        with self._lock:
            found = self._sessions.get(token)
            if found is None or found.expires <= time.time():
                self._sessions.pop(token, None)
                return None
            return found

    def close_session(self, token: str | None) -> None:
        if token:
            with self._lock:
                self._sessions.pop(token, None)

    def csrf_for(self, token: str | None, host_header: str | None) -> str | None:
        """The write token of a request allowed to see pages, or None when it must log in first."""
        if not self.login_required:
            return self.local_csrf if self.host_allowed(host_header) else None
        found = self.session(token)
        return found.csrf if found else None

    @staticmethod
    def csrf_ok(expected: str, given: str | None) -> bool:
        return bool(given) and secrets.compare_digest(expected.encode(), (given or "").encode())


def safe_next(target: str | None) -> str:
    """Where to go after logging in: only a path on this server, never another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
