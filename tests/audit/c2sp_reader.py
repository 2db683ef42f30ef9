"""An independent reader of C2SP tlog-tiles, written only from the C2SP texts (signed-note,
tlog-checkpoint, tlog-tiles, tlog-cosignature); it shares no code with residency. Python's
standard library and python3-cryptography (Ed25519)."""
import base64
import hashlib
import struct

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

EM_DASH = "\u2014 "


def parse_vkey(vkey):
    """`name+hash+base64(type || key)` -> (name, key id bytes, type, public key)."""
    name, keyhash, blob = vkey.strip().split("+", 2)
    raw = base64.b64decode(blob, validate=True)
    return name, bytes.fromhex(keyhash), raw[0], raw[1:]


def key_id(name, sig_type, pub):
    return hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + pub).digest()[:4]


def parse_note(text):
    """-> (body including its final newline, [(name, key id, signature bytes)])."""
    body, sep, sigs = text.rpartition("\n\n")
    assert sep, "no blank line before the signatures"
    body += "\n"
    out = []
    for line in sigs.rstrip("\n").split("\n"):
        assert line.startswith(EM_DASH), line
        name, b64 = line[len(EM_DASH):].split(" ")
        blob = base64.b64decode(b64, validate=True)
        out.append((name, blob[:4], blob[4:]))
    return body, out


def parse_checkpoint(body):
    lines = body.split("\n")
    return lines[0], int(lines[1]), base64.b64decode(lines[2], validate=True)


def verify_log_signature(text, vkey):
    name, kid, sig_type, pub = parse_vkey(vkey)
    assert sig_type == 0x01 and key_id(name, 0x01, pub) == kid
    body, sigs = parse_note(text)
    for n, k, sig in sigs:
        if n == name and k == kid:
            Ed25519PublicKey.from_public_bytes(pub).verify(sig, body.encode())
            return parse_checkpoint(body)
    raise AssertionError("no signature by " + name)


def verify_cosignature(text, vkey):
    """cosignature/v1: Ed25519 over "cosignature/v1\\ntime <t>\\n" + body; returns the time."""
    name, kid, sig_type, pub = parse_vkey(vkey)
    assert sig_type == 0x04 and key_id(name, 0x04, pub) == kid
    body, sigs = parse_note(text)
    for n, k, sig in sigs:
        if n == name and k == kid:
            (ts,) = struct.unpack(">Q", sig[:8])
            msg = b"cosignature/v1\ntime %d\n" % ts + body.encode()
            Ed25519PublicKey.from_public_bytes(pub).verify(sig[8:], msg)
            return ts
    raise AssertionError("no cosignature by " + name)


def index_path(n):
    parts = ["%03d" % (n % 1000)]
    n //= 1000
    while n > 0:
        parts.insert(0, "x%03d" % (n % 1000))
        n //= 1000
    return "/".join(parts)


def tile_path(level, n, width):
    p = "tile/%s/%s" % (level, index_path(n))
    return p if width == 256 else p + ".p/%d" % width


def entries_path(n, width):
    p = "tile/entries/" + index_path(n)
    return p if width == 256 else p + ".p/%d" % width


def leaf_hash(entry):
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def mth(hashes):
    """RFC 6962 MTH over already-hashed leaves."""
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return node_hash(mth(hashes[:k]), mth(hashes[k:]))


def read_tree(fetch, size):
    """Reads every entry bundle and level-0 tile of a tree of `size`; checks that entries hash to
    the tile and that each level's tiles hash to the level above. Returns (entries, root)."""
    entries, leaves = [], []
    for n in range((size + 255) // 256):
        width = min(256, size - n * 256)
        tile = fetch(tile_path(0, n, width))
        assert len(tile) == 32 * width, tile_path(0, n, width)
        bundle = fetch(entries_path(n, width))
        pos = 0
        for i in range(width):
            (length,) = struct.unpack(">H", bundle[pos:pos + 2])
            entry = bundle[pos + 2:pos + 2 + length]
            assert len(entry) == length
            pos += 2 + length
            assert leaf_hash(entry) == tile[32 * i:32 * i + 32], "entry %d" % (n * 256 + i)
            entries.append(entry)
            leaves.append(tile[32 * i:32 * i + 32])
    assert len(leaves) == size
    # Level l > 0: MTH of each full tile of the level below.
    level, below = 1, leaves
    while size >> (8 * level):
        count = size >> (8 * level)
        above = []
        for n in range((count + 255) // 256):
            width = min(256, count - n * 256)
            tile = fetch(tile_path(level, n, width))
            for i in range(width):
                j = n * 256 + i
                assert mth(below[256 * j:256 * j + 256]) == tile[32 * i:32 * i + 32]
                above.append(tile[32 * i:32 * i + 32])
        level, below = level + 1, above
    return entries, mth(leaves)


def write_tree(put, entries):
    """Writes the tiles of a tree of `entries` (used to build a forked log in the tests)."""
    leaves = [leaf_hash(e) for e in entries]
    size = len(entries)
    for n in range((size + 255) // 256):
        width = min(256, size - n * 256)
        put(tile_path(0, n, width), b"".join(leaves[n * 256:n * 256 + width]))
        put(entries_path(n, width),
            b"".join(struct.pack(">H", len(e)) + e for e in entries[n * 256:n * 256 + width]))
    level, below = 1, leaves
    while size >> (8 * level):
        count = size >> (8 * level)
        above = [mth(below[256 * j:256 * j + 256]) for j in range(count)]
        for n in range((count + 255) // 256):
            width = min(256, count - n * 256)
            put(tile_path(level, n, width), b"".join(above[n * 256:n * 256 + width]))
        level, below = level + 1, above
    return mth(leaves)
