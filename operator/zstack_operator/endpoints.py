"""What a ZStack endpoint URL may look like, and the warning a plain-http one deserves.

Owned here: ``check_endpoint`` (one rule set for every place an endpoint comes from: the
operator's flags and environment today, connection objects later) and ``warn_if_insecure``.

Why so strict: the endpoint is the one place a login could hide in configuration
(``https://admin:pw@zstack``) and end up in logs and status, so userinfo is refused, and the
message never repeats any of it. A query or fragment would be silently dropped or mangled by the
client's path joining, so it is refused too. Plain http is an explicit opt-in: the SHA-512
password hash ZStack's login takes is as good as the password, and session ids ride in every
request header, both readable by anyone on the path.
"""

from __future__ import annotations

import logging
from urllib.parse import SplitResult, urlsplit

log = logging.getLogger(__name__)

#: Spelled out in messages so a user knows both ways to opt in.
HTTP_OPT_IN = "--allow-insecure-http (ZSTACK_ALLOW_INSECURE_HTTP=true)"


class EndpointError(ValueError):
    """The endpoint URL is unusable; the message says what to fix and never shows userinfo."""


class InsecureEndpointError(EndpointError):
    """A plain http endpoint without the opt-in."""


def _host(parts: SplitResult) -> str:
    host = parts.hostname or ""
    return f"[{host}]" if ":" in host else host


def _safe(parts: SplitResult) -> str:
    """``scheme://host[:port]``: all of a URL that may appear in a message."""
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{parts.scheme}://{_host(parts)}" + (f":{port}" if port is not None else "")


def check_endpoint(url: str, *, allow_http: bool, opt_in: str = HTTP_OPT_IN) -> str:
    """``url`` normalised (no trailing slash), or EndpointError saying what is wrong with it.

    ``opt_in`` names the way to allow plain http in the messages (a flag, or a spec field).
    """
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        # urlsplit silently drops tabs and newlines; a newline here is usually `echo`'s.
        raise EndpointError(
            "ZStack endpoint contains whitespace or a control character (a trailing newline?); "
            "remove it"
        )
    parts = urlsplit(url)
    scheme = parts.scheme
    if scheme not in ("http", "https"):
        # Not even the scheme is echoed from a URL with an '@': "user:pw@host" parses as
        # scheme "user".
        got = f"scheme {scheme!r}" if scheme and "@" not in url else "no http(s) scheme"
        raise EndpointError(
            "ZStack endpoint must be an https:// URL (or http:// with "
            f"{HTTP_OPT_IN}), e.g. https://zstack.example:8443; got {got}"
        )
    if not parts.hostname:
        raise EndpointError(
            f"ZStack endpoint must name a host, e.g. {scheme}://zstack.example:8080"
        )
    if "@" in parts.netloc:
        raise EndpointError(
            f"ZStack endpoint {_safe(parts)} must not carry a user name or password (the "
            "'user:password@' part); remove it and put the login in the credentials Secret"
        )
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise EndpointError(
            f"ZStack endpoint {scheme}://{_host(parts)} has a bad port: use a number from "
            "1 to 65535"
        )
    if "?" in url or "#" in url:
        raise EndpointError(
            f"ZStack endpoint {_safe(parts)} must not have a query string or fragment "
            "('?...' or '#...'); give only scheme://host:port and an optional path"
        )
    if scheme == "http" and not allow_http:
        raise InsecureEndpointError(
            f"ZStack endpoint {_safe(parts)} is plain http, which sends the password hash and "
            f"session ids unencrypted: use https, or set {opt_in} to accept that"
        )
    return f"{scheme}://{parts.netloc}{parts.path}".rstrip("/")


def warn_if_insecure(url: str, where: str) -> bool:
    """Log a WARNING when ``url`` is plain http; True if it did. ``where`` names the source.

    Called once at start-up for the operator's own endpoint; a connection built later from
    another source may call it for its own.
    """
    parts = urlsplit(url)
    if parts.scheme != "http":
        return False
    log.warning(
        "INSECURE: %s uses plain http ZStack endpoint %s: the SHA-512 password hash (which "
        "ZStack accepts in place of the password) and every session id cross the network in "
        "clear, readable by anyone on the path. Use https for anything but a local test.",
        where,
        _safe(parts),
    )
    return True
