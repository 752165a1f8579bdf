"""Signed checkpoints on both stores: a log that only grew extends an earlier checkpoint;
a rewritten, truncated or re-signed one does not."""

from __future__ import annotations

import os
import stat
import uuid

import msgspec
import pytest
import rawsql
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from support import applied, sale, setup_company

from ledger.replay import checkpoint as cps
from ledger.replay import merkle
from ledger.replay.chain import event_hash, verify


@pytest.fixture
def key_file(tmp_path):
    path = tmp_path / "signing.pem"
    cps.keygen(path)
    return path


def signed(ledger, key_file):
    return cps.sign(verify(ledger.app.recorder), cps.load_private_key(key_file))


def test_keygen_writes_a_private_ed25519_pem_once(tmp_path):
    path = tmp_path / "k.pem"
    public = cps.keygen(path)
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert cps.raw_public(cps.load_private_key(path).public_key()) == cps.raw_public(public)
    with pytest.raises(cps.CheckpointError, match="exists: keygen does not overwrite"):
        cps.keygen(path)
    (tmp_path / "bad.pem").write_text("not a key")
    with pytest.raises(cps.CheckpointError, match="not an unencrypted PEM private key"):
        cps.load_private_key(tmp_path / "bad.pem")


def test_the_signature_covers_the_documented_bytes(ledger, key_file, tmp_path):
    setup_company(ledger)
    cp = signed(ledger, key_file)
    v = verify(ledger.app.recorder)
    assert (cp.position, cp.head, cp.tree_size, cp.root) == (v.position, v.head.hex(), v.events, v.root.hex())
    message = (f"ledger-checkpoint/1\nposition {cp.position}\nhead {cp.head}\ntree_size {cp.tree_size}\n"
               f"root {cp.root}\nsigned_at {cp.signed_at}\n").encode()
    Ed25519PublicKey.from_public_bytes(bytes.fromhex(cp.public_key)).verify(bytes.fromhex(cp.signature), message)
    cps.write(cp, tmp_path / "cp.json")
    assert cps.read(tmp_path / "cp.json") == cp
    assert cps.signature_valid(cp)
    assert not cps.signature_valid(msgspec.structs.replace(cp, tree_size=cp.tree_size + 1))


def test_a_log_that_only_grew_extends_the_checkpoint(ledger, key_file):
    setup_company(ledger)
    cp = signed(ledger, key_file)
    for i in range(5):
        applied(ledger, sale(f"S{i}"))
    company_key = cps.raw_public(cps.load_private_key(key_file).public_key())
    result = cps.check(ledger.app.recorder, cp, company_key)
    assert (result.ok, result.signature, result.key_trusted, result.head, result.consistency) == (
        True, True, True, True, True)
    v = result.verification
    assert v.events > cp.tree_size and result.problems == []
    # the proof stands alone: a third party with both roots checks it
    assert merkle.verify_consistency(cp.tree_size, v.tree_size, bytes.fromhex(cp.root), v.root, result.proof)


def test_a_rewritten_log_does_not_extend_the_checkpoint_even_when_rechained(ledger, fresh_database, key_file):
    setup_company(ledger)
    applied(ledger, sale("S1"))
    cp = signed(ledger, key_file)
    applied(ledger, sale("S2"))
    # the tamperer changes an early payload and recomputes the whole chain, so the chain
    # alone verifies; only the checkpoint shows it
    oid, version, topic, state = rawsql.event(fresh_database, 3)
    rawsql.run(fresh_database, "UPDATE {events} SET state = ? WHERE {pos} = ?", (state + b" ", 3))
    rows = rawsql.run(fresh_database, "SELECT position, prev_position FROM {chain} ORDER BY position")
    prev = bytes(32)
    for position, prev_position in rows:
        oid, version, topic, state = rawsql.event(fresh_database, position)
        prev = event_hash(prev, position, uuid.UUID(str(oid)), version, topic, state)
        rawsql.run(fresh_database, "UPDATE {chain} SET hash = ? WHERE position = ?", (prev, position))
    assert verify(ledger.app.recorder).ok
    result = cps.check(ledger.app.recorder, cp)
    assert result.signature and not result.head and not result.consistency and not result.ok
    assert any("the log was rewritten" in p for p in result.problems)


def test_a_truncated_log_does_not_extend_the_checkpoint(ledger, fresh_database, key_file):
    setup_company(ledger)
    applied(ledger, sale("S1"))
    cp = signed(ledger, key_file)
    rawsql.run(fresh_database, "DELETE FROM {events} WHERE {pos} = ?", (cp.position,))
    rawsql.run(fresh_database, "DELETE FROM {chain} WHERE position = ?", (cp.position,))
    assert verify(ledger.app.recorder).ok  # the chain alone cannot see a cut tail
    result = cps.check(ledger.app.recorder, cp)
    assert not result.ok and not result.head and not result.consistency
    assert f"no event is stored at the checkpoint's position {cp.position} now" in result.problems
    assert any("fewer than the checkpoint's" in p for p in result.problems)


def test_a_forged_or_foreign_checkpoint_is_refused(ledger, key_file, tmp_path):
    setup_company(ledger)
    cp = signed(ledger, key_file)
    forged = msgspec.structs.replace(cp, head="00" * 32)
    assert not cps.check(ledger.app.recorder, forged).signature
    # signed by someone else's key: the signature holds, but the key is not the company's
    other = tmp_path / "other.pem"
    cps.keygen(other)
    foreign = cps.sign(verify(ledger.app.recorder), cps.load_private_key(other))
    company_key = cps.raw_public(cps.load_private_key(key_file).public_key())
    result = cps.check(ledger.app.recorder, foreign, company_key)
    assert result.signature and result.key_trusted is False and not result.ok


def test_no_checkpoint_is_signed_over_a_broken_log(ledger, fresh_database, key_file):
    setup_company(ledger)
    rawsql.run(fresh_database, "DELETE FROM {events} WHERE {pos} = ?", (2,))
    with pytest.raises(cps.CheckpointError, match="the log has a break"):
        signed(ledger, key_file)


def test_inclusion_proofs_of_events_check_against_a_signed_checkpoint(ledger, key_file):
    from ledger.replay.chain import inclusion_proofs

    setup_company(ledger)
    for i in range(3):
        applied(ledger, sale(f"S{i}"))
    cp = signed(ledger, key_file)
    applied(ledger, sale("S-later"))  # the proofs are for the checkpoint's tree, not today's
    positions = [1, 2, cp.position // 2, cp.position]
    v, proofs = inclusion_proofs(ledger.app.recorder, positions, stop=cp.position)
    assert (v.tree_size, v.root.hex()) == (cp.tree_size, cp.root)
    assert sorted(proofs) == sorted(set(positions))
    root = bytes.fromhex(cp.root)
    for p, inc in proofs.items():
        assert merkle.verify_inclusion(inc.index, cp.tree_size, merkle.leaf_hash(inc.event_hash), inc.proof, root)
        # the entry is the chain hash at that position: another event's does not check
        other = proofs[1] if p != 1 else proofs[2]
        assert not merkle.verify_inclusion(inc.index, cp.tree_size, merkle.leaf_hash(other.event_hash),
                                           inc.proof, root)
    assert proofs[cp.position].event_hash.hex() == cp.head
