"""PostgreSQL URLs in every form asyncpg and libpq take: read for connecting, shown for logs.

The log line must never stop the server (docs/deploy.md's own multi-host URL once crashed it at
start) and must never show a password, even one that was not percent-encoded.
"""

from __future__ import annotations

import pytest

from ems.config import Settings, SettingsError
from ems.storage.database_url import HIDDEN, Host, shown, target

SECRET = "s3cr3t"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # docs/deploy.md's failover URL
        (f"postgresql://ems:{SECRET}@db1:5432,db2:5432/ems?target_session_attrs=read-write",
         "postgresql://db1:5432,db2:5432/ems?target_session_attrs=read-write"),
        ("postgresql://ems@db.internal:5432/ems", "postgresql://db.internal:5432/ems"),
        ("postgres://db/ems", "postgres://db/ems"),
        (f"postgresql://ems:{SECRET}@[2001:db8::1]:6432,[::1]/ems",
         "postgresql://[2001:db8::1]:6432,[::1]/ems"),
        (f"postgresql:///ems?host=/run/postgresql&user=ems&password={SECRET}",
         "postgresql:///ems?host=/run/postgresql"),
        (f"postgresql://%2Frun%2Fpostgresql/ems?sslpassword={SECRET}&port=5433",
         "postgresql://%2Frun%2Fpostgresql/ems?port=5433"),
        (f"postgresql://ems?host=db1,db2&port=5432,5433&password={SECRET}",
         "postgresql://ems?host=db1,db2&port=5432,5433"),
        (f"postgresql://u:{SECRET}@/ems?dbname=other", "postgresql:///ems?dbname=other"),
        ("postgresql://", "postgresql://"),
        # a password that was not percent-encoded: what could be a piece of it is left out
        (f"postgresql://u:pa/{SECRET}@db/ems", f"postgresql://{HIDDEN}/{HIDDEN}"),
        (f"postgresql://u:pa?{SECRET}@db/ems", f"postgresql://{HIDDEN}"),
        (f"postgresql://u:pa#{SECRET}@db/ems", f"postgresql://{HIDDEN}"),
        (f"postgresql://u:p@ss:{SECRET}@db/ems", "postgresql://db/ems"),
        ("not a url", HIDDEN),
        ("postgresql://db/ems\n2026-01-01 forged log line", "postgresql://db/ems?2026-01-01 forged log line"),
    ],
)  # fmt: skip
def test_the_log_shows_hosts_as_written_and_never_a_password(url: str, expected: str) -> None:
    assert shown(url) == expected
    assert SECRET not in shown(url)
    assert Settings(database_url=url).database_shown == expected


@pytest.mark.parametrize(
    ("url", "environ", "hosts"),
    [
        ("postgresql://ems@db1:5432,db2:5433/ems", {},
         (Host("db1", 5432), Host("db2", 5433))),
        ("postgresql://db1,db2:6000/ems", {"PGPORT": "5444"},
         (Host("db1", 5444), Host("db2", 6000))),
        ("postgresql://[::1]:5433,[fe80::1]/ems", {}, (Host("::1", 5433), Host("fe80::1", 5432))),
        ("postgresql://%2Frun%2Fpostgresql/ems", {}, (Host("/run/postgresql", 5432),)),
        ("postgresql:///ems?host=db1,db2&port=5432,5433", {},
         (Host("db1", 5432), Host("db2", 5433))),
        ("postgresql:///ems?host=/tmp,db2&port=6000", {}, (Host("/tmp", 6000), Host("db2", 6000))),
        ("postgresql:///ems", {"PGHOST": "a,b", "PGPORT": "1,2"}, (Host("a", 1), Host("b", 2))),
        ("postgresql:///ems", {}, ()),
    ],
)  # fmt: skip
def test_the_hosts_to_try_are_read_as_asyncpg_reads_them(
    url: str, environ: dict[str, str], hosts: tuple[Host, ...]
) -> None:
    assert target(url, environ).hosts == hosts


def test_session_attrs_and_libpq_connect_timeout_are_read() -> None:
    read = target(
        "postgresql://u:p%20w@db1,db2/ems?connect_timeout=3&target_session_attrs=read-write"
        "&application_name=ems%20node"
    )
    assert read.session_attrs == "read-write"
    assert read.connect_timeout == 3.0
    # asyncpg would send connect_timeout to the server as a setting, which PostgreSQL refuses
    assert "connect_timeout" not in read.dsn
    assert read.dsn.startswith("postgresql://u:p%20w@db1,db2/ems?target_session_attrs=read-write")
    assert target("postgresql://db/ems", {"PGTARGETSESSIONATTRS": "primary"}).session_attrs == (
        "primary"
    )
    assert target("postgresql://db/ems?connect_timeout=0").connect_timeout is None


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://u:{SECRET}@db1:5432,db2:port/ems",
        f"postgresql://u:{SECRET}@/ems?host=db1,db2&port=1,2,3",
        f"postgresql://u:{SECRET}@[::1/ems",
        f"postgresql://u:{SECRET}@db1,,db2/ems",
        f"postgresql://u:{SECRET}@db/ems?target_session_attrs=writable",
        f"postgresql://u:{SECRET}@db/ems?connect_timeout=soon",
    ],
)
def test_an_unreadable_url_is_refused_at_start_without_quoting_it(url: str) -> None:
    with pytest.raises(SettingsError, match="EMS_DATABASE_URL") as refused:
        Settings().with_values({"database_url": url})
    assert SECRET not in str(refused.value)
