"""Names for the files a charger pretends to move: the firmware it downloads (UpdateFirmware)
and the logs it uploads (GetDiagnostics, GetLog). Nothing is transferred; only the names and
the status notifications of a transfer are simulated. No I/O here."""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

# firmwareVersion in a BootNotification (both versions) and a log file name (2.0.1 filename,
# 1.6 fileName) have these maximum lengths.
MAX_VERSION = 50
MAX_FILE_NAME = 255


def firmware_version(location: str, fallback: str) -> str:
    """The version a charger runs after installing the firmware at `location`: the file's name
    (the last segment of the URI's path), else `fallback`."""
    name = urlsplit(location).path.rstrip("/").rsplit("/", 1)[-1]
    return (name or fallback)[:MAX_VERSION]


def log_file_name(kind: str, charger_id: str, now: float) -> str:
    """The name of an uploaded log: its kind, the charger and when it was taken."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    safe_id = re.sub(r"[^A-Za-z0-9._-]", "_", charger_id)
    return f"{kind}-{safe_id}-{stamp}.log"[:MAX_FILE_NAME]
