"""Credentials from a Kubernetes Secret's ``data``: decoding, checking, registering for masking.

Owned here: ``credentials_from_secret`` and its ``CredentialsError``. Every value is decoded
strictly (base64, then UTF-8) and refused, not repaired, when it is not exactly the credential:
a stripped newline would make a Secret "work" here while the same bytes fail in every other
client, and a login that works by accident is a trap. Errors name the Secret and the key, never
any byte or character of a value, and carry no chained exception (a ``UnicodeDecodeError``
holds the raw bytes). The secret values are registered with ``zstack.known_secrets`` so that
every message the operator writes masks them.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

from pydantic import SecretStr

from .zstack import known_secrets
from .zstack.credentials import AccessKeyCredentials, AccountCredentials, Credentials

#: The keys read, in the order they are checked; other keys in the Secret are left alone.
ACCOUNT_KEYS = ("accountName", "password")
ACCESS_KEY_KEYS = ("accessKeyId", "accessKeySecret")

_HOW_TO_WRITE = (
    "`echo` adds a newline: write the value with printf '%s' ... | base64, or create the "
    "Secret with kubectl create secret generic NAME --from-literal=KEY=VALUE"
)


class CredentialsError(Exception):
    """The credentials Secret is unreadable or incomplete; the message says which key and why."""


def _decode(data: Mapping[object, object], key: str, where: str) -> str | None:
    """The text of ``data[key]``, None when absent or empty; CredentialsError when unusable."""
    raw = data.get(key)
    if raw is None or raw == "":
        return None
    problem = None
    text = ""
    if not isinstance(raw, str):
        problem = "is not a base64 string"
    else:
        # The problem is recorded and raised below, outside the except blocks, so the error has
        # no __context__ holding the value.
        try:
            blob = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            problem = "is not valid base64 (the Secret's data must be base64-encoded)"
        else:
            try:
                text = blob.decode("utf-8")
            except UnicodeDecodeError:
                problem = "is not UTF-8 text once decoded"
    if problem is not None:
        raise CredentialsError(f"Secret {where}: the value of key {key} {problem}")
    if text != text.strip():
        raise CredentialsError(
            f"Secret {where}: the value of key {key} starts or ends with whitespace or a "
            f"newline, which the operator does not strip; {_HOW_TO_WRITE}"
        )
    return text or None


def credentials_from_secret(secret: Mapping[str, object], where: str) -> Credentials:
    """Account or AccessKey credentials from a Secret (as the API returns it); ``where`` names it.

    An account name with a password wins over an AccessKey when both are present. Raises
    CredentialsError when a value is malformed or neither pair is complete.
    """
    data = secret.get("data") or {}
    if not isinstance(data, Mapping):
        raise CredentialsError(f"Secret {where}: data is not a map of keys to base64 values")
    values = {key: _decode(data, key, where) for key in (*ACCOUNT_KEYS, *ACCESS_KEY_KEYS)}
    account, password = (values[k] for k in ACCOUNT_KEYS)
    key_id, key_secret = (values[k] for k in ACCESS_KEY_KEYS)
    if account and password:
        credentials = AccountCredentials(account_name=account, password=SecretStr(password))
        known_secrets.register(password)
        # The hash is what ZStack's login takes, so it is as good as the password itself.
        known_secrets.register(credentials.password_hash())
        return credentials
    if key_id and key_secret:
        known_secrets.register(key_secret)
        return AccessKeyCredentials(access_key_id=key_id, access_key_secret=SecretStr(key_secret))
    present = sorted(str(k) for k, v in values.items() if v)
    has = f" (it has {', '.join(present)})" if present else " (it has none of them)"
    raise CredentialsError(
        f"Secret {where} must hold accountName and password, or accessKeyId and "
        f"accessKeySecret{has}"
    )
