"""API keys: recognisable prefix, checksum that refuses typos, only hashes stored."""

from shared import apikeys


def test_generated_keys_are_well_formed_and_distinct() -> None:
    keys = {apikeys.generate() for _ in range(100)}
    assert len(keys) == 100
    assert all(apikeys.well_formed(k) and k.startswith("evcs_") for k in keys)


def test_a_single_typo_fails_the_checksum() -> None:
    key = apikeys.generate()
    i = len(apikeys.PREFIX) + 10
    typo = key[:i] + ("A" if key[i] != "A" else "B") + key[i + 1 :]
    assert not apikeys.well_formed(typo)


def test_foreign_shapes_are_refused() -> None:
    for bad in ("", "evcs_", "x" * apikeys.KEY_LEN, apikeys.generate() + "x", "evcs_" + "!" * 49):
        assert not apikeys.well_formed(bad)


def test_digest_is_sha256_and_prefix_is_short() -> None:
    key = apikeys.generate()
    assert len(apikeys.digest(key)) == 32
    assert key.startswith(apikeys.display_prefix(key)) and len(apikeys.display_prefix(key)) < 16
