"""NMIs as CORE keys them: 10 characters. A meter data provider sometimes sends the 11-character
form (the NMI followed by its checksum digit, as printed on bills); the digit is checked with
AEMO's NMI checksum algorithm (AEMO, "National Metering Identifier" procedure, appendix: the
Luhn-style sum over the characters' ASCII codes, every second one doubled from the right) and
stripped. An 11-character NMI whose last digit is not its checksum is left as it is, and the
ingestion quarantines its register-days (``interval_reads.sql``)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

NMI_LENGTH = 10


def nmi_checksum(nmi: str) -> int:
    """AEMO's checksum digit of a 10-character NMI."""
    total, double = 0, True
    for ch in reversed(nmi.upper()):
        v = ord(ch) * 2 if double else ord(ch)
        double = not double
        while v:
            total, v = total + v % 10, v // 10
    return (10 - total % 10) % 10


def normalised(nmi: str) -> str:
    """``nmi`` in CORE's 10 characters when it is the 11-character form with a valid checksum digit;
    unchanged otherwise."""
    if len(nmi) == NMI_LENGTH + 1 and nmi[-1].isdigit() and nmi_checksum(nmi[:NMI_LENGTH]) == int(nmi[-1]):
        return nmi[:NMI_LENGTH]
    return nmi


def normalise_column(nmis: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """``normalised`` over a column, one Python call per distinct 11-character NMI (none usually)."""
    long = pc.equal(pc.utf8_length(nmis), NMI_LENGTH + 1)
    if not pc.any(long).as_py():
        return nmis
    distinct = pc.unique(nmis.filter(long)).to_pylist()
    mapping = {n: normalised(n) for n in distinct}
    keys = pa.array(list(mapping), pa.string())
    values = pa.array(list(mapping.values()), pa.string())
    at = pc.index_in(nmis, value_set=keys)
    return pc.if_else(pc.is_valid(at), pc.take(values, pc.fill_null(at, 0)), nmis)
