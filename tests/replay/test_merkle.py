"""RFC 9162 Merkle trees: the Certificate Transparency test vectors (the CT reference
suite's leaves, roots, inclusion and consistency proofs, as transparency-dev/merkle's
testonly constants carry them), and properties over random trees."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.replay import merkle

LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f")]

ROOTS = [bytes.fromhex(h) for h in (
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")]


def h(*hexes: str) -> list[bytes]:
    return [bytes.fromhex(x) for x in hexes]


INCLUSION = [  # (index, size, proof): CT reference vectors, 0-based leaf index
    (0, 1, []),
    (0, 2, h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7")),
    (1, 2, h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")),
    (2, 3, h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")),
    (1, 5, h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")),
    (0, 8, h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")),
    (5, 8, h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")),
]

CONSISTENCY = [  # (old size, size, proof): CT reference vectors
    (1, 1, []),
    (1, 8, h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")),
    (6, 8, h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")),
    (2, 5, h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")),
]


def test_rfc9162_hashes_of_leaves_and_nodes():
    # transparency-dev/merkle rfc6962_test.go: the empty leaf, "L123456", node("N123","N456")
    assert merkle.leaf_hash(b"").hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    assert merkle.leaf_hash(b"L123456").hex() == "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    assert merkle.node_hash(b"N123", b"N456").hex() == "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"


@pytest.mark.parametrize("size", range(9))
def test_roots_of_the_ct_vectors_list_and_streaming(size):
    assert merkle.root(LEAVES[:size]) == ROOTS[size]
    tree = merkle.TreeBuilder()
    for entry in LEAVES[:size]:
        tree.add(entry)
    assert (tree.size, tree.root()) == (size, ROOTS[size])


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_inclusion_proofs_of_the_ct_vectors(index, size, proof):
    assert merkle.inclusion_proof(index, LEAVES[:size]) == proof
    assert merkle.verify_inclusion(index, size, merkle.leaf_hash(LEAVES[index]), proof, ROOTS[size])
    if size > 1:
        assert not merkle.verify_inclusion(index, size, merkle.leaf_hash(b"WrongLeaf"), proof, ROOTS[size])
        assert not merkle.verify_inclusion(index, size, merkle.leaf_hash(LEAVES[index]), proof, ROOTS[size - 1])
        assert not merkle.verify_inclusion(index, size, merkle.leaf_hash(LEAVES[index]), proof[:-1], ROOTS[size])
        assert not merkle.verify_inclusion(index, size, merkle.leaf_hash(LEAVES[index]),
                                           proof + [ROOTS[size]], ROOTS[size])


@pytest.mark.parametrize(("old", "size", "proof"), CONSISTENCY)
def test_consistency_proofs_of_the_ct_vectors(old, size, proof):
    assert merkle.consistency_proof(old, LEAVES[:size]) == proof
    assert merkle.verify_consistency(old, size, ROOTS[old], ROOTS[size], proof)
    if old < size:
        assert not merkle.verify_consistency(old, size, ROOTS[old - 1] if old > 1 else ROOTS[2],
                                             ROOTS[size], proof)
        assert not merkle.verify_consistency(old, size, ROOTS[old], ROOTS[size - 1], proof)
        assert not merkle.verify_consistency(old, size, ROOTS[old], ROOTS[size], proof[:-1])


def test_proofs_refuse_sizes_that_do_not_fit():
    with pytest.raises(ValueError, match="outside a tree of size 3"):
        merkle.inclusion_ranges(3, 3)
    with pytest.raises(ValueError, match="from size 4 to size 3"):
        merkle.consistency_ranges(4, 3)
    assert not merkle.verify_consistency(4, 3, ROOTS[4], ROOTS[3], [])
    assert not merkle.verify_inclusion(0, 0, ROOTS[1], [], ROOTS[0])
    assert merkle.verify_consistency(0, 5, merkle.EMPTY_ROOT, ROOTS[5], [])


entries = st.lists(st.binary(max_size=8), min_size=1, max_size=70, unique=True)


@given(entries, st.data())
def test_every_inclusion_proof_verifies_and_a_tampered_one_fails(items, data):
    size = len(items)
    index = data.draw(st.integers(0, size - 1))
    root = merkle.root(items)
    proof = merkle.inclusion_proof(index, items)
    leaf = merkle.leaf_hash(items[index])
    assert merkle.verify_inclusion(index, size, leaf, proof, root)
    if proof:
        i = data.draw(st.integers(0, len(proof) - 1))
        bad = list(proof)
        bad[i] = bytes([bad[i][0] ^ 1]) + bad[i][1:]
        assert not merkle.verify_inclusion(index, size, leaf, bad, root)
        other = data.draw(st.integers(0, size - 1).filter(lambda j: j != index))
        assert not merkle.verify_inclusion(other, size, leaf, proof, root)
    assert not merkle.verify_inclusion(index, size, merkle.leaf_hash(items[index] + b"x"), proof, root)


@given(entries, st.data())
def test_every_consistency_proof_verifies_and_a_tampered_one_fails(items, data):
    size = len(items)
    old = data.draw(st.integers(1, size))
    old_root, root = merkle.root(items[:old]), merkle.root(items)
    proof = merkle.consistency_proof(old, items)
    assert merkle.verify_consistency(old, size, old_root, root, proof)
    # the streaming range hasher gives the same proof nodes in one pass
    hasher = merkle.RangeHasher(merkle.consistency_ranges(old, size))
    for i, e in enumerate(items):
        hasher.add_leaf(i, merkle.leaf_hash(e))
    assert hasher.hashes() == proof
    if proof:
        i = data.draw(st.integers(0, len(proof) - 1))
        bad = list(proof)
        bad[i] = bytes([bad[i][0] ^ 1]) + bad[i][1:]
        assert not merkle.verify_consistency(old, size, old_root, root, bad)
    # a rewritten prefix is not consistent with the old root
    j = data.draw(st.integers(0, old - 1))
    rewritten = list(items)
    rewritten[j] += b"!"
    assert not merkle.verify_consistency(old, size, old_root, merkle.root(rewritten),
                                         merkle.consistency_proof(old, rewritten))


@given(entries, st.data())
def test_streaming_inclusion_nodes_match_the_list_proof(items, data):
    index = data.draw(st.integers(0, len(items) - 1))
    ranges = merkle.inclusion_ranges(index, len(items))
    hasher = merkle.RangeHasher(ranges)
    for i, e in enumerate(items):
        hasher.add_leaf(i, merkle.leaf_hash(e))
    assert hasher.hashes() == merkle.inclusion_proof(index, items)
