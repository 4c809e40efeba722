"""Portal accounts, sessions and the audit log (``portal_user``, ``portal_session``, ``portal_audit``).

- Passwords: argon2id (memory-hard, argon2-cffi's defaults: 64 MiB, 3 passes), never stored or logged in
  clear; an operator's password (``sgs user add`` / ``reset-password``) must be changed at the next login;
  :func:`password_problem` is the strength check (length, character classes, not the login or a common one).
- Lockout: :data:`MAX_FAILURES` consecutive failures lock the account for :data:`LOCK_MINUTES` minutes (a
  correct password does not open a locked account); an unknown login costs the same hash time as a known one.
- Sessions: a random token in an HttpOnly SameSite=Strict cookie; the store keeps only its SHA-256, the user and
  the session's CSRF token; idle sessions expire after :data:`SESSION_HOURS` hours.
- Audit: :func:`audit` writes who, when, what (never a password or hash) for logins, submissions, uploads,
  corrections, withdrawals and account changes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
import secrets
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.engine import Connection, Engine

from store.db import inserted_id
from store.schema import portal_audit, portal_session, portal_user

MAX_FAILURES = 5
LOCK_MINUTES = 15
SESSION_HOURS = 8
MIN_LENGTH = 10
LOGIN_RE = re.compile(r"^[A-Za-z0-9_.@-]{3,64}$")
DEPARTMENT_RE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
COMMON = {"password", "123456", "12345678", "123456789", "1234567890", "qwerty", "admin", "abc123", "111111",
          "password1", "iloveyou", "000000", "a1b2c3", "qwertyuiop", "1q2w3e4r", "p@ssw0rd", "passw0rd"}

_hasher = PasswordHasher()
#: A hash of nothing anyone types: verified against for unknown logins, so their answer takes as long.
_DUMMY = _hasher.hash(secrets.token_urlsafe(16))


class AccountError(Exception):
    """An account operation that cannot be done; the text is Chinese (operator or clerk)."""


@dataclasses.dataclass(frozen=True)
class User:
    id: int
    login: str
    department: str
    name: str
    must_change: bool
    disabled: bool


@dataclasses.dataclass(frozen=True)
class Session:
    user: User
    csrf: str
    token_hash: str


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(t: dt.datetime | None) -> dt.datetime | None:
    return t.replace(tzinfo=dt.UTC) if t is not None and t.tzinfo is None else t  # SQLite gives naive UTC


def password_problem(password: str, login: str = "") -> str | None:
    """Why ``password`` is too weak (Chinese), or None."""
    if len(password) < MIN_LENGTH:
        return f"密码至少 {MIN_LENGTH} 位"
    if len(password) > 128:
        return "密码不能超过 128 位"
    classes = sum(bool(re.search(p, password)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^A-Za-z0-9]"))
    if classes < 3:
        return "密码须包含大写字母、小写字母、数字、符号中的至少三类"
    lowered = password.lower()
    if login and login.lower() in lowered:
        return "密码不能包含登录名"
    if lowered in COMMON or any(lowered.startswith(c) and len(set(lowered[len(c):])) <= 2 for c in COMMON if len(c) >= 6):
        return "密码过于常见，请换一个"
    if len(set(password)) < 5:
        return "密码重复字符过多，请换一个"
    return None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _user(row: Any) -> User:
    m = row._mapping
    return User(m["id"], m["login"], m["department"], m["name"], bool(m["must_change"]), bool(m["disabled"]))


def audit(conn: Connection, login: str, department: str | None, action: str, detail: str = "", client: str | None = None) -> None:
    conn.execute(portal_audit.insert().values(at=_now(), login=login[:64], department=department, action=action,
                                              detail=detail[:4000] or None, client=(client or "")[:64] or None))


# --- operators (sgs user …) -------------------------------------------------------------------------------

def _has_department_file(department: str) -> None:
    """A portal unit needs its department file (``departments/<code>.yaml``: name, 统一社会信用代码, level/region; no
    ``source`` when it has no database): the portal sets 数据来源单位 and its code from it, so a clerk can report
    only for the own unit (a typed code could update another unit's records, whose business key starts with it)."""
    from pipeline.config import ConfigError, find_department

    try:
        find_department(department)
    except ConfigError as exc:
        raise AccountError(
            f"单位“{department}”还没有部门配置文件：请先建立 departments/{department}.yaml（sgs dept new {department} --name 单位全称；"
            f"写明 uscc 和 level/region，只用在线报送的单位不写 source 和 datasets）。{exc}"
        ) from None


def add_user(engine: Engine, department: str, login: str, name: str, password: str) -> User:
    if not DEPARTMENT_RE.match(department):
        raise AccountError(f"部门代码“{department}”不合规：小写字母开头，由小写字母、数字和下划线组成")
    _has_department_file(department)
    if not LOGIN_RE.match(login):
        raise AccountError("登录名须为 3–64 位字母、数字或 _ . @ -")
    name = " ".join(name.split())
    if not name or len(name) > 100:
        raise AccountError("请填写姓名（--name，100 字以内）")
    problem = password_problem(password, login)
    if problem:
        raise AccountError(f"初始密码不符合要求：{problem}")
    now = _now()
    with engine.begin() as conn:
        if conn.execute(sa.select(portal_user.c.id).where(portal_user.c.login == login)).first():
            raise AccountError(f"登录名“{login}”已存在")
        uid = inserted_id(conn.execute(portal_user.insert().values(
            login=login, department=department, name=name, password_hash=hash_password(password), must_change=True,
            disabled=False, failed_logins=0, created_at=now, password_changed_at=now)))
        audit(conn, "operator", department, "account_add", f"新建账号 {login}（{name}）")
    return User(uid, login, department, name, True, False)


def list_users(engine: Engine, department: str | None = None) -> list[dict[str, Any]]:
    stmt = sa.select(portal_user.c.login, portal_user.c.department, portal_user.c.name, portal_user.c.must_change,
                     portal_user.c.disabled, portal_user.c.locked_until, portal_user.c.created_at).order_by(
        portal_user.c.department, portal_user.c.login)
    if department:
        stmt = stmt.where(portal_user.c.department == department)
    now = _now()
    with engine.connect() as conn:
        out = []
        for r in conn.execute(stmt).mappings():
            d = dict(r)
            locked = _aware(d.pop("locked_until"))
            d["locked"] = bool(locked and locked > now)
            d["must_change"], d["disabled"] = bool(d["must_change"]), bool(d["disabled"])
            d["created_at"] = _aware(d["created_at"]).isoformat()  # type: ignore[union-attr]
            out.append(d)
        return out


def _set(engine: Engine, login: str, action: str, detail: str, **values: Any) -> None:
    with engine.begin() as conn:
        row = conn.execute(sa.select(portal_user).where(portal_user.c.login == login)).first()
        if row is None:
            raise AccountError(f"没有登录名为“{login}”的账号")
        conn.execute(portal_user.update().where(portal_user.c.id == row.id).values(**values))
        conn.execute(portal_session.delete().where(portal_session.c.user_id == row.id))  # signed out everywhere
        audit(conn, "operator", row.department, action, detail)


def disable_user(engine: Engine, login: str) -> None:
    _set(engine, login, "account_disable", f"停用账号 {login}", disabled=True)


def reset_password(engine: Engine, login: str, password: str) -> None:
    problem = password_problem(password, login)
    if problem:
        raise AccountError(f"临时密码不符合要求：{problem}")
    _set(engine, login, "account_reset", f"重置账号 {login} 的密码（首次登录须修改）", password_hash=hash_password(password),
         must_change=True, disabled=False, failed_logins=0, locked_until=None, password_changed_at=_now())


# --- clerks (the portal) -----------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class LoginResult:
    session_token: str | None
    message: str | None  # Chinese, for the login page, when it failed


def login(engine: Engine, login_name: str, password: str, client: str | None) -> LoginResult:
    """Check a login; on success a new session (its token for the cookie). Failures count towards the lockout."""
    login_name = login_name.strip()[:64]
    now = _now()
    wrong = LoginResult(None, "登录名或密码不正确")
    with engine.begin() as conn:
        row = conn.execute(sa.select(portal_user).where(portal_user.c.login == login_name)).first()
        if row is None:
            _verify(_DUMMY, password)
            audit(conn, login_name or "-", None, "login_failed", "未知登录名", client)
            return wrong
        locked = _aware(row.locked_until)
        if locked and locked > now:
            _verify(_DUMMY, password)
            audit(conn, row.login, row.department, "login_refused", "账号锁定中", client)
            return LoginResult(None, f"连续登录失败次数过多，账号已锁定，请 {LOCK_MINUTES} 分钟后再试或联系平台管理员")
        if row.disabled:
            _verify(_DUMMY, password)
            audit(conn, row.login, row.department, "login_refused", "账号已停用", client)
            return wrong
        if not _verify(row.password_hash, password):
            failures = int(row.failed_logins) + 1
            values: dict[str, Any] = {"failed_logins": failures}
            if failures >= MAX_FAILURES:
                values = {"failed_logins": 0, "locked_until": now + dt.timedelta(minutes=LOCK_MINUTES)}
                audit(conn, row.login, row.department, "locked", f"连续 {failures} 次密码错误，锁定 {LOCK_MINUTES} 分钟", client)
            else:
                audit(conn, row.login, row.department, "login_failed", f"密码错误（连续第 {failures} 次）", client)
            conn.execute(portal_user.update().where(portal_user.c.id == row.id).values(**values))
            if failures >= MAX_FAILURES:
                return LoginResult(None, f"连续登录失败次数过多，账号已锁定，请 {LOCK_MINUTES} 分钟后再试或联系平台管理员")
            return wrong
        conn.execute(portal_user.update().where(portal_user.c.id == row.id).values(failed_logins=0, locked_until=None))
        token = secrets.token_urlsafe(32)
        conn.execute(portal_session.insert().values(
            token_hash=_token_hash(token), user_id=row.id, csrf=secrets.token_urlsafe(32), created_at=now,
            expires_at=now + dt.timedelta(hours=SESSION_HOURS)))
        conn.execute(portal_session.delete().where(portal_session.c.expires_at < now))
        audit(conn, row.login, row.department, "login", "登录成功", client)
    return LoginResult(token, None)


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def session_of(engine: Engine, token: str | None) -> Session | None:
    """The live session of a cookie's token (sliding expiry), or None."""
    if not token or len(token) > 200:
        return None
    h = _token_hash(token)
    now = _now()
    with engine.begin() as conn:
        row = conn.execute(
            sa.select(portal_session.c.csrf, portal_session.c.expires_at, portal_user)
            .join(portal_user, portal_user.c.id == portal_session.c.user_id)
            .where(portal_session.c.token_hash == h)
        ).first()
        if row is None:
            return None
        if _aware(row.expires_at) <= now or row.disabled:  # type: ignore[operator]
            conn.execute(portal_session.delete().where(portal_session.c.token_hash == h))
            return None
        conn.execute(portal_session.update().where(portal_session.c.token_hash == h).values(
            expires_at=now + dt.timedelta(hours=SESSION_HOURS)))
    return Session(_user(row), row.csrf, h)


def logout(engine: Engine, session: Session, client: str | None) -> None:
    with engine.begin() as conn:
        conn.execute(portal_session.delete().where(portal_session.c.token_hash == session.token_hash))
        audit(conn, session.user.login, session.user.department, "logout", "退出登录", client)


def change_password(engine: Engine, session: Session, old: str, new: str, repeat: str, client: str | None) -> str | None:
    """A clerk's own password change; Chinese problem text or None. Other sessions of the account end."""
    if new != repeat:
        return "两次输入的新密码不一致"
    problem = password_problem(new, session.user.login)
    if problem:
        return problem
    with engine.begin() as conn:
        row = conn.execute(sa.select(portal_user).where(portal_user.c.id == session.user.id)).one()
        if not _verify(row.password_hash, old):
            audit(conn, row.login, row.department, "password_failed", "修改密码：原密码不正确", client)
            return "原密码不正确"
        if _verify(row.password_hash, new):
            return "新密码不能与原密码相同"
        conn.execute(portal_user.update().where(portal_user.c.id == row.id).values(
            password_hash=hash_password(new), must_change=False, password_changed_at=_now()))
        conn.execute(portal_session.delete().where(portal_session.c.user_id == row.id,
                                                   portal_session.c.token_hash != session.token_hash))
        audit(conn, row.login, row.department, "password", "修改密码", client)
    return None


def audit_trail(engine: Engine, department: str, limit: int = 100) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(portal_audit).where(portal_audit.c.department == department)
                            .order_by(portal_audit.c.at.desc(), portal_audit.c.id.desc()).limit(limit)).mappings()
        return [dict(r) for r in rows]
