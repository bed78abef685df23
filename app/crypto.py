"""Secrets at rest: platform credentials are stored as one Fernet token per shop."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken


class SecretKeyError(RuntimeError):
    """VAFA_SECRET_KEY is missing, malformed, or not the key the data was encrypted with."""


def new_secret_key() -> str:
    return Fernet.generate_key().decode()


class Vault:
    def __init__(self, key: str) -> None:
        if not key:
            raise SecretKeyError(
                "VAFA_SECRET_KEY is not set: generate one with `vafa secret-key` and export it"
            )
        try:
            self._fernet = Fernet(key.encode())
        except ValueError as exc:
            raise SecretKeyError(
                "VAFA_SECRET_KEY must be 32 url-safe base64-encoded bytes (see `vafa secret-key`)"
            ) from exc

    def seal(self, data: dict[str, Any]) -> str:
        return self._fernet.encrypt(orjson.dumps(data)).decode()

    def open(self, token: str) -> dict[str, Any]:
        try:
            value = orjson.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken as exc:
            raise SecretKeyError(
                "stored credentials cannot be decrypted with VAFA_SECRET_KEY (wrong key?)"
            ) from exc
        if not isinstance(value, dict):
            raise SecretKeyError("stored credentials are not an object")
        return value


def random_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def same_hash(value: str, expected_hex: str) -> bool:
    return hmac.compare_digest(sha256_hex(value), expected_hex)
