"""Drives sealflowd through hvac, the Python Vault client, unchanged.

Run by tests/daemon_hvac_test.sh with SFD_ADDR and SFD_TOKEN set (a
running sealflowd and its root token). Every check compares exact values;
the script exits non-zero on the first failure.
"""

import base64
import os
import sys

import hvac
from hvac import exceptions

ADDR = os.environ["SFD_ADDR"]
TOKEN = os.environ["SFD_TOKEN"]


def b64(data):
    return base64.b64encode(data).decode()


def unb64(text):
    return base64.b64decode(text)


def expect_error(kind, fn, *args, needle=None, **kwargs):
    """Calls fn and checks it raises the hvac exception kind."""
    try:
        fn(*args, **kwargs)
    except kind as err:
        if needle is not None and needle not in str(err):
            raise AssertionError(f"{kind.__name__} without '{needle}': {err}")
        return err
    raise AssertionError(f"expected {kind.__name__} from {fn.__name__}")


def test_authentication(client):
    assert client.is_authenticated() is True
    stranger = hvac.Client(url=ADDR, token="sfs.not-a-token")
    assert stranger.is_authenticated() is False
    info = client.lookup_token()["data"]
    assert info["policies"] == ["root"]
    assert len(info["accessor"]) == 24


def test_key_lifecycle(transit):
    created = transit.create_key("orders")
    assert created["data"]["name"] == "orders"
    assert created["data"]["type"] == "aes256-gcm96"
    transit.create_key("chacha", key_type="chacha20-poly1305")
    key = transit.read_key("orders")["data"]
    assert key["latest_version"] == 1
    assert key["min_decryption_version"] == 1
    assert key["min_encryption_version"] == 0
    assert key["deletion_allowed"] is False
    assert key["supports_encryption"] is True
    assert list(key["keys"].keys()) == ["1"]
    assert transit.read_key("chacha")["data"]["type"] == "chacha20-poly1305"
    names = transit.list_keys()["data"]["keys"]
    assert names == ["chacha", "orders"], names
    expect_error(exceptions.InvalidPath, transit.read_key, "missing")


def test_encrypt_decrypt(transit):
    for key in ("orders", "chacha"):
        for plain in (b"hello, sealflow", b"", bytes(range(256)) * 40):
            ct = transit.encrypt_data(key, b64(plain))["data"]
            assert ct["ciphertext"].startswith("vault:v1:")
            assert ct["key_version"] == 1
            out = transit.decrypt_data(key, ct["ciphertext"])["data"]
            assert unb64(out["plaintext"]) == plain
    ctx = b64(b"tenant=acme")
    ct = transit.encrypt_data("orders", b64(b"bound"), context=ctx)
    ct = ct["data"]["ciphertext"]
    plain = transit.decrypt_data("orders", ct, context=ctx)["data"]
    assert unb64(plain["plaintext"]) == b"bound"
    expect_error(exceptions.InvalidRequest, transit.decrypt_data, "orders",
                 ct, context=b64(b"tenant=other"),
                 needle="message authentication failed")
    expect_error(exceptions.InvalidRequest, transit.decrypt_data, "orders",
                 ct, needle="message authentication failed")
    body = ct[len("vault:v1:"):]
    raw = bytearray(unb64(body))
    raw[5] ^= 1
    expect_error(exceptions.InvalidRequest, transit.decrypt_data, "orders",
                 "vault:v1:" + b64(bytes(raw)), context=ctx,
                 needle="message authentication failed")


def test_batch(transit):
    items = [
        {"plaintext": b64(b"one"), "reference": "a"},
        {"plaintext": ""},
        {"plaintext": b64(b"three"), "context": b64(b"c3"),
         "reference": "c"},
    ]
    res = transit.encrypt_data("orders", "", batch_input=items)
    results = res["data"]["batch_results"]
    assert len(results) == 3
    assert [r.get("reference") for r in results] == ["a", None, "c"]
    dec_in = [
        {"ciphertext": results[0]["ciphertext"], "reference": "x"},
        {"ciphertext": results[1]["ciphertext"]},
        {"ciphertext": results[2]["ciphertext"], "context": b64(b"c3")},
    ]
    dec = transit.decrypt_data("orders", "", batch_input=dec_in)
    dec = dec["data"]["batch_results"]
    assert [unb64(r["plaintext"]) for r in dec] == [b"one", b"", b"three"]
    assert dec[0]["reference"] == "x"
    # One bad item fails alone; the others still succeed, in order.
    mixed = [dec_in[0], {"ciphertext": "vault:v1:AAAA"}, dec_in[1]]
    expect_error(exceptions.InvalidRequest, transit.decrypt_data, "orders",
                 "", batch_input=mixed)
    for code, extra in ((400, {}), (207, {"partial_failure_response_code":
                                          207})):
        resp = transit._adapter.request(
            "post", "/v1/transit/decrypt/orders",
            json=dict(batch_input=mixed, **extra), raise_exception=False)
        assert resp.status_code == code, resp.status_code
        got = resp.json()["data"]["batch_results"]
        assert unb64(got[0]["plaintext"]) == b"one"
        assert got[0]["reference"] == "x"
        assert "message authentication failed" in got[1]["error"]
        assert "plaintext" not in got[1]
        assert unb64(got[2]["plaintext"]) == b""


def test_rewrap_rotate_and_min_version(transit):
    old = transit.encrypt_data("orders", b64(b"old data"))["data"]
    assert old["key_version"] == 1
    rotated = transit.rotate_key("orders")
    assert rotated["data"]["latest_version"] == 2
    key = transit.read_key("orders")["data"]
    assert sorted(key["keys"].keys()) == ["1", "2"]
    new = transit.encrypt_data("orders", b64(b"new data"))["data"]
    assert new["ciphertext"].startswith("vault:v2:")
    re = transit.rewrap_data("orders", old["ciphertext"])["data"]
    assert re["ciphertext"].startswith("vault:v2:")
    assert re["key_version"] == 2
    out = transit.decrypt_data("orders", re["ciphertext"])["data"]
    assert unb64(out["plaintext"]) == b"old data"
    pinned = transit.encrypt_data("orders", b64(b"v1"), key_version=1)
    assert pinned["data"]["key_version"] == 1

    transit.update_key_configuration("orders", min_decryption_version=2)
    key = transit.read_key("orders")["data"]
    assert key["min_decryption_version"] == 2
    expect_error(exceptions.InvalidRequest, transit.decrypt_data, "orders",
                 old["ciphertext"], needle="disallowed by policy")
    out = transit.decrypt_data("orders", new["ciphertext"])["data"]
    assert unb64(out["plaintext"]) == b"new data"
    expect_error(exceptions.InvalidRequest, transit.encrypt_data, "orders",
                 b64(b"x"), key_version=1)
    trimmed = transit.trim_key("orders", 2)["data"]
    assert trimmed["min_available_version"] == 2
    assert list(trimmed["keys"].keys()) == ["2"]


def test_datakey(transit):
    for bits in (128, 256, 512):
        dk = transit.generate_data_key("orders", "plaintext", bits=bits)
        dk = dk["data"]
        assert len(unb64(dk["plaintext"])) == bits // 8
        out = transit.decrypt_data("orders", dk["ciphertext"])["data"]
        assert out["plaintext"] == dk["plaintext"]
    wrapped = transit.generate_data_key("orders", "wrapped")["data"]
    assert "plaintext" not in wrapped
    out = transit.decrypt_data("orders", wrapped["ciphertext"])["data"]
    assert len(unb64(out["plaintext"])) == 32


def test_delete(transit):
    transit.create_key("doomed")
    expect_error(exceptions.InvalidRequest, transit.delete_key, "doomed",
                 needle="deletion is not allowed")
    assert transit.read_key("doomed")["data"]["name"] == "doomed"
    transit.update_key_configuration("doomed", deletion_allowed=True)
    resp = transit.delete_key("doomed")
    assert resp.status_code == 204
    expect_error(exceptions.InvalidPath, transit.read_key, "doomed")


def test_sys(client):
    mounts = client.sys.list_mounted_secrets_engines()
    assert mounts["data"]["transit/"]["type"] == "transit"
    client.sys.enable_secrets_engine("transit")
    health = client.sys.read_health_status(method="GET")
    assert health["initialized"] is True and health["sealed"] is False


def main():
    client = hvac.Client(url=ADDR, token=TOKEN)
    transit = client.secrets.transit
    tests = [
        lambda: test_authentication(client),
        lambda: test_key_lifecycle(transit),
        lambda: test_encrypt_decrypt(transit),
        lambda: test_batch(transit),
        lambda: test_rewrap_rotate_and_min_version(transit),
        lambda: test_datakey(transit),
        lambda: test_delete(transit),
        lambda: test_sys(client),
    ]
    names = ["authentication", "key_lifecycle", "encrypt_decrypt", "batch",
             "rewrap_rotate_and_min_version", "datakey", "delete", "sys"]
    for name, test in zip(names, tests):
        test()
        print(f"ok: hvac {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
