"""Server settings: defaults, overridden by ``EMS_*`` environment variables, overridden by flags."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal, cast

Synchronous = Literal["FULL", "NORMAL", "OFF"]
PREFIX = "EMS_"


_BOOLEANS = {"1": True, "true": True, "yes": True, "on": True,
             "0": False, "false": False, "no": False, "off": False}  # fmt: skip


class SettingsError(ValueError):
    """A setting has a value EMS cannot use; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("ems-data")
    # FULL: every acknowledged write is fsync'd. NORMAL survives a crash of EMS but may lose the
    # last transactions on power loss. OFF is for throwaway benchmarks only.
    sqlite_synchronous: Synchronous = "FULL"
    log_level: str = "info"
    # seconds to let in-flight requests finish after SIGTERM before closing connections
    shutdown_timeout: int = 30
    # webhooks reach only public addresses unless these say otherwise (see delivery/ssrf.py)
    webhook_allow_private: bool = False
    webhook_allow_nets: tuple[str, ...] = ()
    # trusted networks only: webhook subscriptions start confirmed
    webhook_skip_confirmation: bool = False
    # the URL clients use to reach this server (for confirmation links); default: as requested
    public_url: str | None = None

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "ems.sqlite3"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in fields(cls):
            raw = environ.get(PREFIX + field.name.upper())
            if raw is not None and raw != "":
                values[field.name] = raw
        return cls().with_values(values)

    def with_values(self, values: Mapping[str, Any]) -> Settings:
        """A copy with ``values`` (strings or typed) converted and checked."""
        converted: dict[str, Any] = {}
        for name, value in values.items():
            if value is None:
                continue
            converted[name] = _convert(name, value)
        return replace(self, **converted)


def _convert(name: str, value: Any) -> Any:
    env = PREFIX + name.upper()
    if name == "port":
        try:
            port = int(value)
        except ValueError:
            raise SettingsError(f"{env} must be a port number; got {value!r}") from None
        if not 0 <= port <= 65535:
            raise SettingsError(f"{env} must be from 0 to 65535; got {port}")
        return port
    if name == "shutdown_timeout":
        try:
            return int(value)
        except ValueError:
            raise SettingsError(f"{env} must be a number of seconds; got {value!r}") from None
    if name == "data_dir":
        return Path(value)
    if name in ("webhook_allow_private", "webhook_skip_confirmation"):
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text not in _BOOLEANS:
            raise SettingsError(f"{env} must be 1/0, true/false, yes/no or on/off; got {value!r}")
        return _BOOLEANS[text]
    if name == "webhook_allow_nets":
        items = value.split(",") if isinstance(value, str) else value
        nets = tuple(n.strip() for n in items if n.strip())
        for net in nets:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise SettingsError(f"{env}: {net!r} is not an IP network (CIDR)") from None
        return nets
    if name == "sqlite_synchronous":
        mode = str(value).upper()
        if mode not in ("FULL", "NORMAL", "OFF"):
            raise SettingsError(f"{env} must be FULL, NORMAL or OFF; got {value!r}")
        return cast(Synchronous, mode)
    return str(value)
