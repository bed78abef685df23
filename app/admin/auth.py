"""Signing in to the admin, and the session that follows.

- With an e-mail and password (argon2id, ``vafa admin user add``), or with a one-time link
  (``vafa admin link``: 15 minutes, used once, only its hash stored). The link names its shop
  (``/admin/link/{shop_id}/{token}``) so that every lookup is one shop's; opening it shows a
  button, and only the POST it sends signs in (a link preview's GET uses nothing up). The
  request log writes that path without the token (app.logs).
- The session is a cookie signed with a key derived from VAFA_SECRET_KEY (itsdangerous),
  HttpOnly and SameSite=Lax, 12 hours; it carries the shop, who signed in, the CSRF token
  every form must send back and the session's random id. A signature alone cannot be taken
  back, so the session is also a row (``admin_sessions``, only the id's hash) checked on every
  request: signing out, a password change and ``vafa admin sign-out-all`` revoke it, and a
  copied cookie stops working with it.
- Sign-in attempts are rate-limited per client address and per e-mail.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.admin.models import AdminLink, AdminSessionRecord, AdminUser
from app.crypto import random_token, sha256_hex
from app.errors import AppError, Conflict, InvalidRequest, Unauthorized

COOKIE = "vafa_admin"
SESSION_SECONDS = 12 * 3600
LINK_LIFETIME = timedelta(minutes=15)
_hasher = PasswordHasher()
# Checked against when the e-mail is unknown, so both answers take the same time.
_DUMMY_HASH = _hasher.hash("not a password anyone has")


class CSRFRefused(AppError):
    status_code = 403
    code = "csrf_refused"
    example = "the form's CSRF token is missing or wrong; reload the page"


@dataclass(frozen=True, slots=True)
class AdminSession:
    shop_id: int
    who: str  # "user:<id>" or "link:<id>"
    csrf: str
    lang: str | None = None
    # The cookie's session id (its hash is the row in admin_sessions); "" for a session that
    # has no cookie (the embedded admin's, made afresh from each request's session token).
    sid: str = ""


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    key = hashlib.sha256(b"vafa admin sessions\x00" + secret_key.encode()).hexdigest()
    return URLSafeTimedSerializer(key, salt="vafa-admin")


async def start_session(
    session: AsyncSession, shop_id: int, who: str, now: datetime
) -> AdminSession:
    """A new session, recorded; the shop's sessions that have run out are cleared away."""
    await session.execute(
        delete(AdminSessionRecord).where(
            AdminSessionRecord.shop_id == shop_id, AdminSessionRecord.expires_at <= now
        )
    )
    sid = random_token(32)
    session.add(
        AdminSessionRecord(
            shop_id=shop_id,
            sid_hash=sha256_hex(sid),
            who=who,
            created_at=now,
            expires_at=now + timedelta(seconds=SESSION_SECONDS),
        )
    )
    await session.flush()
    return AdminSession(shop_id, who, secrets.token_urlsafe(24), sid=sid)


def dump(secret_key: str, session: AdminSession) -> str:
    return _serializer(secret_key).dumps(
        {
            "shop": session.shop_id,
            "who": session.who,
            "csrf": session.csrf,
            "lang": session.lang,
            "sid": session.sid,
        }
    )


def load(secret_key: str, cookie: str | None) -> AdminSession | None:
    """The cookie's session if its signature holds (whether it is still live is
    :func:`is_live`'s question)."""
    if not cookie:
        return None
    try:
        data = _serializer(secret_key).loads(cookie, max_age=SESSION_SECONDS)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("shop"), int):
        return None
    sid = data.get("sid")
    if not isinstance(sid, str) or not sid:  # a cookie from before sessions were recorded
        return None
    return AdminSession(
        data["shop"], str(data["who"]), str(data["csrf"]), data.get("lang"), sid=sid
    )


async def is_live(session: AsyncSession, admin: AdminSession, now: datetime) -> bool:
    """Whether the cookie's session is recorded for its shop, unexpired and not revoked."""
    found = await session.scalar(
        select(AdminSessionRecord.id).where(
            AdminSessionRecord.shop_id == admin.shop_id,
            AdminSessionRecord.sid_hash == sha256_hex(admin.sid),
            AdminSessionRecord.revoked_at.is_(None),
            AdminSessionRecord.expires_at > now,
        )
    )
    return found is not None


async def revoke(
    session: AsyncSession, shop_id: int, now: datetime, *, sid: str | None = None,
    who: str | None = None,
) -> int:  # fmt: skip
    """Revoke one session (``sid``), everyone's who signed in as ``who``, or (neither given)
    every session of the shop; how many were live."""
    record = AdminSessionRecord
    query = update(record).where(
        record.shop_id == shop_id, record.revoked_at.is_(None), record.expires_at > now
    )
    if sid is not None:
        query = query.where(record.sid_hash == sha256_hex(sid))
    if who is not None:
        query = query.where(record.who == who)
    result = await session.execute(query.values(revoked_at=now))
    return int(getattr(result, "rowcount", 0) or 0)


def same_token(expected: str, given: str | None) -> bool:
    """Every CSRF token and nonce the admin checks, compared in constant time. As bytes:
    ``compare_digest`` raises TypeError on a str that is not ASCII, and ``given`` is the
    sender's."""
    if not given:
        return False
    return secrets.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


def check_csrf(session: AdminSession, given: str | None) -> None:
    if not same_token(session.csrf, given):
        raise CSRFRefused("the form's CSRF token is missing or wrong; reload the page")


def _normal(email: str) -> str:
    return email.strip().lower()


def _check_password(password: str) -> None:
    if len(password) < 10:
        raise InvalidRequest("a password has at least 10 characters")


async def add_user(session: AsyncSession, shop_id: int, email: str, password: str) -> AdminUser:
    address = _normal(email)
    if "@" not in address or len(address) > 320:
        raise InvalidRequest(f"{email!r} is not an e-mail address")
    _check_password(password)
    found = await session.scalar(
        select(AdminUser.id).where(AdminUser.shop_id == shop_id, AdminUser.email == address)
    )
    if found is not None:
        raise Conflict("that e-mail can sign in to this shop already")
    user = AdminUser(shop_id=shop_id, email=address, password_hash=_hasher.hash(password))
    session.add(user)
    await session.flush()
    return user


async def sign_in(
    session: AsyncSession, shop_id: int, email: str, password: str, now: datetime
) -> AdminSession:
    user = await session.scalar(
        select(AdminUser).where(AdminUser.shop_id == shop_id, AdminUser.email == _normal(email))
    )
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        user = None
    if user is None:
        raise Unauthorized("the e-mail or the password is wrong")
    user.signed_in_at = now
    return await start_session(session, shop_id, f"user:{user.id}", now)


async def change_password(
    session: AsyncSession, shop_id: int, email: str, password: str, now: datetime
) -> int:
    """Give the user a new password and sign them out everywhere (someone who knew the old
    one may hold a session); how many sessions were revoked."""
    _check_password(password)
    user = await session.scalar(
        select(AdminUser).where(AdminUser.shop_id == shop_id, AdminUser.email == _normal(email))
    )
    if user is None:
        raise InvalidRequest(f"no admin user {email!r} in this shop")
    user.password_hash = _hasher.hash(password)
    return await revoke(session, shop_id, now, who=f"user:{user.id}")


async def make_link(session: AsyncSession, shop_id: int, now: datetime) -> str:
    token = random_token(32)
    session.add(
        AdminLink(
            shop_id=shop_id,
            token_hash=sha256_hex(token),
            created_at=now,
            expires_at=now + LINK_LIFETIME,
        )  # fmt: skip
    )
    await session.flush()
    return token


async def use_link(session: AsyncSession, shop_id: int, token: str, now: datetime) -> AdminSession:
    link = await session.scalar(
        select(AdminLink)
        .where(AdminLink.shop_id == shop_id, AdminLink.token_hash == sha256_hex(token))
        .with_for_update()
    )
    if link is None or link.used_at is not None or link.expires_at <= now:
        raise Unauthorized("this sign-in link is not valid (used, expired or mistyped)")
    link.used_at = now
    return await start_session(session, shop_id, f"link:{link.id}", now)
