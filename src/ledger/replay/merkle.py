"""RFC 9162 Merkle trees (Certificate Transparency v2, section 2.1), as pure functions.

The log's event hashes, in log order, are the tree's entries (SPEC 4). Hashing:

- leaf hash  = SHA-256(0x00 || entry)
- node hash  = SHA-256(0x01 || left || right)
- MTH({})    = SHA-256("")
- MTH(D[n])  = node(MTH(D[0:k]), MTH(D[k:n])) with k the largest power of two < n.

Proof *generation* is expressed as the list of ranges ``(start, end)`` whose MTH the proof
holds, in proof order (``inclusion_ranges``, ``consistency_ranges``): the shape of a proof
depends only on the sizes, so a caller that cannot hold the whole log in memory computes
those few subtree hashes in one streaming pass (``RangeHasher``, ``TreeBuilder``), and a
caller holding a list uses ``inclusion_proof`` / ``consistency_proof``. Verification follows
RFC 9162 2.1.3.2 and 2.1.4.2. Nothing here does I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly less than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(entries: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of a list of entries."""
    return _mth([leaf_hash(e) for e in entries])


def _mth(leaves: Sequence[bytes]) -> bytes:
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[0]
    k = _split(n)
    return node_hash(_mth(leaves[:k]), _mth(leaves[k:]))


# --- proof shapes ------------------------------------------------------------------------


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The ranges whose MTH form PATH(index, D[size]) (RFC 9162 2.1.3.1), bottom up."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of size {size}")
    ranges: list[tuple[int, int]] = []

    def path(m: int, lo: int, hi: int) -> None:
        n = hi - lo
        if n == 1:
            return
        k = _split(n)
        if m < k:
            path(m, lo, lo + k)
            ranges.append((lo + k, hi))
        else:
            path(m - k, lo + k, hi)
            ranges.append((lo, lo + k))

    path(index, 0, size)
    return ranges


def consistency_ranges(old_size: int, size: int) -> list[tuple[int, int]]:
    """The ranges whose MTH form PROOF(m, D[n]) (RFC 9162 2.1.4.1), in proof order."""
    if not 0 <= old_size <= size:
        raise ValueError(f"no consistency proof from size {old_size} to size {size}")
    ranges: list[tuple[int, int]] = []
    if old_size == 0 or old_size == size:
        return ranges

    def subproof(m: int, lo: int, hi: int, complete: bool) -> None:
        n = hi - lo
        if m == n:
            if not complete:
                ranges.append((lo, hi))
            return
        k = _split(n)
        if m <= k:
            subproof(m, lo, lo + k, complete)
            ranges.append((lo + k, hi))
        else:
            subproof(m - k, lo + k, hi, False)
            ranges.append((lo, lo + k))

    subproof(old_size, 0, size, True)
    return ranges


def inclusion_proof(index: int, entries: Sequence[bytes]) -> list[bytes]:
    leaves = [leaf_hash(e) for e in entries]
    return [_mth(leaves[a:b]) for a, b in inclusion_ranges(index, len(leaves))]


def consistency_proof(old_size: int, entries: Sequence[bytes]) -> list[bytes]:
    leaves = [leaf_hash(e) for e in entries]
    return [_mth(leaves[a:b]) for a, b in consistency_ranges(old_size, len(leaves))]


# --- verification (RFC 9162 2.1.3.2 and 2.1.4.2) ---------------------------------------


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes | None:
    """The root an inclusion proof of ``leaf`` (a leaf hash) implies, or None if the proof
    does not fit the sizes."""
    if not 0 <= index < size or any(len(p) != HASH_SIZE for p in proof):
        return None
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root_hash: bytes) -> bool:
    """Does ``proof`` show that the leaf hash ``leaf`` is entry ``index`` of the tree of
    ``size`` whose root is ``root_hash``?"""
    return root_from_inclusion(index, size, leaf, proof) == root_hash


def verify_consistency(old_size: int, size: int, old_root: bytes, new_root: bytes,
                       proof: Sequence[bytes]) -> bool:
    """Does ``proof`` show that the tree (old_size, old_root) is a prefix of the tree
    (size, new_root)?"""
    if not 0 <= old_size <= size or any(len(p) != HASH_SIZE for p in proof):
        return False
    if old_size == size:
        return not proof and old_root == new_root
    if old_size == 0:  # the empty tree is a prefix of every tree
        return not proof and old_root == EMPTY_ROOT
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old_size - 1, size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


# --- streaming: roots and proof nodes in one pass, O(log n) memory ----------------------


class TreeBuilder:
    """MTH of entries fed one at a time: a stack of perfect subtrees (sizes are the binary
    digits of the count), so memory is O(log n)."""

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[tuple[int, bytes]] = []  # (subtree size, hash), sizes decreasing

    def add_leaf(self, leaf: bytes) -> None:
        size, h = 1, leaf
        while self._stack and self._stack[-1][0] == size:
            left_size, left = self._stack.pop()
            h = node_hash(left, h)
            size += left_size
        self._stack.append((size, h))
        self.size += 1

    def add(self, entry: bytes) -> None:
        self.add_leaf(leaf_hash(entry))

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        h = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            h = node_hash(left, h)
        return h


class RangeHasher:
    """The MTH of each of a few ranges of leaf indices, computed while the leaves stream by
    in order (feed every leaf with its index)."""

    def __init__(self, ranges: Iterable[tuple[int, int]]) -> None:
        self.ranges = list(ranges)
        self._builders = [TreeBuilder() for _ in self.ranges]
        self._order = sorted(range(len(self.ranges)), key=lambda i: self.ranges[i][0])
        self._next = 0
        self._active: list[int] = []

    def add_leaf(self, index: int, leaf: bytes) -> None:
        while self._next < len(self._order) and self.ranges[self._order[self._next]][0] <= index:
            self._active.append(self._order[self._next])
            self._next += 1
        if not self._active:
            return
        still = []
        for i in self._active:
            start, end = self.ranges[i]
            if start <= index < end:
                self._builders[i].add_leaf(leaf)
            if index + 1 < end:
                still.append(i)
        self._active = still

    def hashes(self) -> list[bytes]:
        """The ranges' hashes, in the order the ranges were given."""
        for (start, end), b in zip(self.ranges, self._builders, strict=True):
            if b.size != end - start:
                raise ValueError(f"range [{start}, {end}) saw {b.size} leaves")
        return [b.root() for b in self._builders]
