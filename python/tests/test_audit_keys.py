"""Key files are never echoed: a private key where a verifier key goes (and the reverse) is named,
and no exception carries any byte of the key (issue 13)."""
import base64
import pathlib
from typing import Any, Set, Tuple

import pytest

import residency


def _key_material(pem_text: str) -> Tuple[Set[str], bytes]:
    """Windows of the private key as it could leak: PEM base64, raw seed, seed hex and base64."""
    body = "".join(l for l in pem_text.splitlines() if not l.startswith("-----"))
    seed = base64.b64decode(body)[-32:]
    assert len(seed) == 32
    texts = [body[22:], seed.hex(), seed.hex().upper(), base64.b64encode(seed).decode()]
    windows = {t[i:i + 8] for t in texts for i in range(len(t) - 7)}
    return windows, seed


def _assert_no_leak(message: str, pem_text: str) -> None:
    windows, seed = _key_material(pem_text)
    for w in windows:
        assert w not in message, f"key material {w!r} in {message!r}"
    raw = message.encode("utf-8", "surrogateescape")
    for i in range(len(seed) - 5):
        assert seed[i:i + 6] not in raw


@pytest.fixture
def keys(tmp_path: pathlib.Path) -> Any:
    residency.audit_keygen("ops", str(tmp_path / "keys"))
    pem = tmp_path / "keys" / "ops.pem"
    vkey = tmp_path / "keys" / "ops.vkey"
    audit_dir = tmp_path / "audit"
    with residency.AuditLog(str(audit_dir), str(pem)):
        pass
    return pem, vkey, audit_dir


def test_private_key_as_verifier_key_is_named_not_echoed(keys: Any) -> None:
    pem, vkey, audit_dir = keys
    pem_text = pem.read_text()
    with pytest.raises(ValueError) as e:
        residency.audit_verify(str(audit_dir), [str(pem)])
    assert str(e.value) == f"`{pem}`: a private key; pass the `.vkey`"
    _assert_no_leak(str(e.value), pem_text)
    # The key's text itself, passed where a vkey string goes.
    with pytest.raises(ValueError) as e:
        residency.audit_verify(str(audit_dir), pem_text.strip())
    _assert_no_leak(str(e.value), pem_text)
    # The raw seed as a file: the position of the first non-UTF-8 byte, never the bytes.
    _, seed = _key_material(pem_text)
    raw = pem.parent / "seed.bin"
    raw.write_bytes(seed)
    with pytest.raises(ValueError) as e:
        residency.audit_verify(str(audit_dir), [str(raw)])
    _assert_no_leak(str(e.value), pem_text)
    assert str(e.value).startswith(f"`{raw}`: ")


def test_verifier_key_as_audit_key_is_named(keys: Any, tmp_path: pathlib.Path) -> None:
    pem, vkey, audit_dir = keys
    with pytest.raises(RuntimeError) as e:
        residency.AuditLog(str(tmp_path / "audit2"), str(vkey))
    assert f"`{vkey}`: a verifier key (public); pass the private `.pem`" in str(e.value)
    # A good vkey still verifies.
    assert residency.audit_verify(str(audit_dir), [str(vkey)])["ok"]
