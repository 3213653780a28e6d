"""Connection strings shown to a user: the password never reaches a log or an error.

libpq accepts two forms, a URL (``postgresql://user:pw@host/db``, the password possibly
also in ``?password=``) and keywords (``host=db password=pw``); both are redacted, and
what libpq's own parser would take for the password is checked to be hidden.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote, urlencode

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

HIDDEN = "***"
# A keyword pair: password=value or password='quoted value with \\' escapes'.
_PASSWORD_PAIR = re.compile(r"password\s*=\s*(?:'(?:[^'\\]|\\.)*'?|\S+)")


def _split_url(url: str) -> tuple[str, str, str, str]:
    """``scheme://userinfo@host/rest`` into its four parts; userinfo may be empty.

    The userinfo ends at the LAST ``@`` before the path: libpq itself stops at the first
    one, but a password with a raw ``@`` must still be hidden whole.
    """
    scheme, rest = url.split("://", 1)
    head, query_sep, query = rest.partition("?")
    at = head.rfind("@")
    slash = head.find("/", at + 1)
    authority, tail = (head, "") if slash < 0 else (head[:slash], head[slash:])
    userinfo, _, hostport = authority.rpartition("@")
    return scheme, userinfo, hostport, tail + query_sep + query


def _redact_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    if not any(key == "password" for key, _ in pairs):
        return query
    return urlencode([(k, HIDDEN if k == "password" else v) for k, v in pairs], safe="*/:@")


def _libpq_form(conninfo: str) -> str:
    # libpq knows postgres:// and postgresql://, not SQLAlchemy's postgresql+psycopg2://.
    return "postgresql://" + conninfo.split("://", 1)[1] if "://" in conninfo else conninfo


def _passwords(conninfo: str) -> set[str]:
    """Every spelling of the password of ``conninfo`` that an error message could echo."""
    try:
        params = conninfo_to_dict(_libpq_form(conninfo))
    except psycopg.ProgrammingError:
        params = {}
    if "://" not in conninfo:
        return {str(params["password"])} if params.get("password") else set()
    _, userinfo, _, rest = _split_url(conninfo)
    raw = userinfo.partition(":")[2]
    found = {raw, unquote(raw)}
    found |= {
        v for k, v in parse_qsl(rest.partition("?")[2], keep_blank_values=True) if k == "password"
    }
    # A raw "@" in the password: libpq splits at the first one and takes the rest of the
    # password for part of the host name, which its errors then quote.
    if "@" in str(params.get("host", "")):
        found.add(str(params["host"]))
    return {p for p in found if p}


def redact(conninfo: str) -> str:
    """Hide the password of a connection string so it never reaches a log or an error.

    Both forms libpq accepts: a URL (``postgresql://user:pw@host/db``, password also
    possible as ``?password=``) and keywords (``host=db password=pw``). A string that
    cannot be parsed is not echoed at all: its password could be anywhere in it.
    """
    if "://" in conninfo:
        scheme, userinfo, hostport, rest = _split_url(conninfo)
        if userinfo:
            user, colon, _ = userinfo.partition(":")
            hostport = f"{user}:{HIDDEN}@{hostport}" if colon else f"{user}@{hostport}"
        path, query_sep, query = rest.partition("?")
        shown = f"{scheme}://{hostport}{path}{query_sep}{_redact_query(query)}"
    else:
        try:
            params = conninfo_to_dict(conninfo)
        except psycopg.ProgrammingError:
            return "<a connection string that does not parse>"
        if "password" in params:
            params["password"] = HIDDEN
        shown = make_conninfo("", **params)
    # Checked with libpq's own parser: whatever it would take for the password is hidden.
    try:
        leaked = conninfo_to_dict(_libpq_form(shown)).get("password") not in (None, HIDDEN)
    except psycopg.ProgrammingError:
        leaked = False  # e.g. a URL libpq rejects: the split above already hid its userinfo
    return "<a connection string with its password hidden>" if leaked else shown


def scrub(text: str, conninfo: str) -> str:
    """``text`` (e.g. a driver's error) with any spelling of the password replaced.

    ``password=...`` pairs are hidden too, for a keyword string too malformed to parse.
    """
    for password in sorted(_passwords(conninfo), key=len, reverse=True):
        text = text.replace(password, HIDDEN)
    return _PASSWORD_PAIR.sub(f"password={HIDDEN}", text)
