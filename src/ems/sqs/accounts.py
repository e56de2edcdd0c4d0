"""Who may use the SQS API, and which account each access key is.

``EMS_SQS_CREDENTIALS="KEY_ID:SECRET,..."``: each access key is an account of its own (a 12-digit
id derived from the key id), and requests must be SigV4-signed with its secret. With no
credentials, a server bound to loopback (without API keys, and not behind a proxy: no
``EMS_FORWARDED_ALLOW_IPS``) is in development mode: any signature is accepted and every key is
the one account ``000000000000``, as with the emulators. Otherwise the SQS API is off.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from typing import Final

from ems.config import parse_credentials
from ems.sqs.errors import error
from ems.sqs.sigv4 import Signed

DEV_ACCOUNT: Final = "000000000000"


def account_of(access_key: str) -> str:
    digest = hashlib.sha256(b"ems/sqs/account/" + access_key.encode()).digest()
    return f"{int.from_bytes(digest[:8]) % 10**12:012d}"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class Accounts:
    credentials: dict[str, str]
    # development mode: no credentials, loopback only; any signature passes
    open: bool

    @classmethod
    def configure(
        cls, credentials: str | None, host: str, *, api_keys: bool, behind_proxy: bool = False
    ) -> Accounts | None:
        """The SQS API's access rules, or None when the API is off.

        ``behind_proxy`` (forwarded_allow_ips is set): a local proxy may expose the loopback
        bind to the network, so there is no development mode.
        """
        keys = parse_credentials(credentials)
        if keys:
            return cls(keys, open=False)
        if is_loopback(host) and not api_keys and not behind_proxy:
            return cls({}, open=True)
        return None

    def secret_of(self, signed: Signed) -> str | None:
        """The secret to check the signature with; None in development mode (no check)."""
        if self.open:
            return None
        secret = self.credentials.get(signed.access_key)
        if secret is None:
            raise error(
                "InvalidClientTokenId",
                "The security token included in the request is invalid.",
            )
        return secret

    def account(self, signed: Signed) -> str:
        return DEV_ACCOUNT if self.open else account_of(signed.access_key)
