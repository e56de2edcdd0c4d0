"""The crypto service: Fernet keys, encryption and decryption, interoperable both ways."""

from __future__ import annotations

import base64

import httpx
import pytest
from cryptography.fernet import Fernet

from tests.api.conftest import assert_problem


async def new_key(client: httpx.AsyncClient) -> str:
    response = await client.get("/ems/crypto/random-key")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["cache-control"] == "no-store"
    return response.text


async def test_random_keys_are_fernet_keys(client: httpx.AsyncClient) -> None:
    key = await new_key(client)
    assert len(base64.urlsafe_b64decode(key)) == 32
    assert key != await new_key(client)
    as_json = await client.get("/ems/crypto/random-key", headers={"Accept": "application/json"})
    assert len(base64.urlsafe_b64decode(as_json.json()["key"])) == 32


async def test_the_service_encrypts_what_fernet_decrypts(client: httpx.AsyncClient) -> None:
    key = await new_key(client)
    plaintext = bytes(range(256)) * 3
    token = await client.post(
        "/ems/crypto/encryption", content=plaintext, headers={"Crypto-Key": key}
    )
    assert token.status_code == 200
    assert token.content.isascii()
    assert Fernet(key).decrypt(token.content) == plaintext


async def test_the_service_decrypts_what_fernet_encrypts(client: httpx.AsyncClient) -> None:
    key = Fernet.generate_key()
    token = Fernet(key).encrypt(b"Encrypt This")
    plain = await client.post(
        "/ems/crypto/decryption", content=token, headers={"Crypto-Key": key.decode()}
    )
    assert plain.status_code == 200
    assert plain.content == b"Encrypt This"


async def test_the_seed_recipe_round_trip(client: httpx.AsyncClient) -> None:
    """Key, encrypt with curl-style requests, decrypt: the seed's four steps."""
    key = await new_key(client)
    encrypted = await client.post(
        "/ems/crypto/encryption", content=b"Encrypt This", headers={"Crypto-Key": key}
    )
    decrypted = await client.post(
        "/ems/crypto/decryption", content=encrypted.content, headers={"Crypto-Key": key}
    )
    assert decrypted.content == b"Encrypt This"


@pytest.mark.parametrize(
    "key", [None, "", "not-a-key", base64.urlsafe_b64encode(b"short").decode(), "é" * 44]
)
async def test_missing_or_malformed_keys_are_400(
    client: httpx.AsyncClient, key: str | None
) -> None:
    headers = {} if key is None else {"Crypto-Key": key.encode("utf-8")}
    for path in ("/ems/crypto/encryption", "/ems/crypto/decryption"):
        response = await client.post(path, content=b"x", headers=headers)  # type: ignore[arg-type]
        problem = assert_problem(response, 400, "invalid-key")
        assert "Crypto-Key" in problem["detail"]


async def test_wrong_keys_and_tampered_tokens_are_400(client: httpx.AsyncClient) -> None:
    key, other = await new_key(client), await new_key(client)
    token = (
        await client.post("/ems/crypto/encryption", content=b"secret", headers={"Crypto-Key": key})
    ).content
    wrong = await client.post(
        "/ems/crypto/decryption", content=token, headers={"Crypto-Key": other}
    )
    assert_problem(wrong, 400, "decryption-failed")
    tampered = bytearray(base64.urlsafe_b64decode(token))
    tampered[-40] ^= 1
    altered = await client.post(
        "/ems/crypto/decryption",
        content=base64.urlsafe_b64encode(bytes(tampered)),
        headers={"Crypto-Key": key},
    )
    assert_problem(altered, 400, "decryption-failed")
    garbage = await client.post(
        "/ems/crypto/decryption", content=b"\x00\xff garbage", headers={"Crypto-Key": key}
    )
    assert_problem(garbage, 400, "decryption-failed")


async def test_crypto_routes(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/ems/crypto/encryption"), 405, "method-not-allowed")
    assert_problem(await client.get("/ems/crypto/nothing"), 404, "not-found")
    huge = b"x" * 1_048_577
    response = await client.post(
        "/ems/crypto/encryption",
        content=huge,
        headers={"Crypto-Key": Fernet.generate_key().decode()},
    )
    assert_problem(response, 413, "request-too-large")
