"""The names of the files a simulated charger pretends to download and upload."""

from __future__ import annotations

import pytest

from simulators.transfers import firmware_version, log_file_name


@pytest.mark.parametrize(
    ("location", "version"),
    [
        ("https://fw.example.com/evcs/evcs-sim-2.0.bin", "evcs-sim-2.0.bin"),
        ("ftp://fw.example.com/evcs/v3/?token=abc", "v3"),
        ("https://fw.example.com/", "old"),
        ("https://fw.example.com/" + "x" * 80, "x" * 50),
    ],
)
def test_the_new_firmware_version_is_the_file_s_name(location: str, version: str) -> None:
    assert firmware_version(location, "old") == version


def test_a_log_file_name_says_what_whose_and_when() -> None:
    assert (
        log_file_name("DiagnosticsLog", "CP 1/a", 0.0)
        == "DiagnosticsLog-CP_1_a-19700101T000000Z.log"
    )
