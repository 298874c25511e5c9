"""Read the record structure of an XPT v5 file (headers, namestrs, observation bytes).

For inspecting and comparing files byte by byte (tests, debugging); it does not decode
values. Written independently of the writer, straight from the v5 layout.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

_LIBRARY = b"HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!"
_MEMBER = b"HEADER RECORD*******MEMBER  HEADER RECORD!!!!!!!"
_DSCRPTR = b"HEADER RECORD*******DSCRPTR HEADER RECORD!!!!!!!"
_NAMESTR = b"HEADER RECORD*******NAMESTR HEADER RECORD!!!!!!!"
_OBS = b"HEADER RECORD*******OBS     HEADER RECORD!!!!!!!"


@dataclass(frozen=True)
class Namestr:
    raw: bytes
    ntype: int
    nhfun: int
    nlng: int
    nvar0: int
    nname: str
    nlabel: str
    nform: str
    nfl: int
    nfd: int
    nfj: int
    nfill: bytes
    niform: str
    nifl: int
    nifd: int
    npos: int
    rest: bytes


@dataclass(frozen=True)
class XptLayout:
    raw: bytes
    library: bytes  # the 3 library header records (240 bytes)
    member: bytes  # member header record
    descriptor: bytes  # DSCRPTR header record + its 2 records (240 bytes)
    namestr_header: bytes
    namestrs: list[Namestr]
    namestr_block: bytes  # the namestr records including their blank padding
    obs_header: bytes
    data_offset: int
    data: bytes  # observations plus the final blank padding

    @property
    def dataset_name(self) -> str:
        return self.descriptor[88:96].decode("ascii").rstrip()

    @property
    def dataset_label(self) -> str:
        return self.descriptor[192:232].decode("ascii").rstrip()

    @property
    def created(self) -> bytes:
        return self.descriptor[144:160]

    @property
    def record_length(self) -> int:
        return sum(n.nlng for n in self.namestrs)


def _text(raw: bytes) -> str:
    return raw.decode("latin-1").rstrip()


def parse_namestr(raw: bytes) -> Namestr:
    ntype, nhfun, nlng, nvar0 = struct.unpack(">hhhh", raw[0:8])
    nfl, nfd, nfj = struct.unpack(">hhh", raw[64:70])
    nifl, nifd = struct.unpack(">hh", raw[80:84])
    (npos,) = struct.unpack(">i", raw[84:88])
    return Namestr(
        raw=raw,
        ntype=ntype,
        nhfun=nhfun,
        nlng=nlng,
        nvar0=nvar0,
        nname=_text(raw[8:16]),
        nlabel=_text(raw[16:56]),
        nform=_text(raw[56:64]),
        nfl=nfl,
        nfd=nfd,
        nfj=nfj,
        nfill=raw[70:72],
        niform=_text(raw[72:80]),
        nifl=nifl,
        nifd=nifd,
        npos=npos,
        rest=raw[88:140],
    )


def parse_layout(source: bytes | str | Path) -> XptLayout:
    raw = source if isinstance(source, bytes) else Path(source).read_bytes()
    if not raw.startswith(_LIBRARY):
        raise ValueError("not a SAS transport v5 file (no LIBRARY header record)")
    member = raw[240:320]
    if not member.startswith(_MEMBER):
        raise ValueError("MEMBER header record not found at offset 240")
    namestr_size = int(member[74:78])
    descriptor = raw[320:560]
    if not descriptor.startswith(_DSCRPTR):
        raise ValueError("DSCRPTR header record not found at offset 320")
    namestr_header = raw[560:640]
    if not namestr_header.startswith(_NAMESTR):
        raise ValueError("NAMESTR header record not found at offset 560")
    nvar = int(namestr_header[54:58])
    start = 640
    namestrs = [
        parse_namestr(raw[start + i * namestr_size : start + (i + 1) * namestr_size])
        for i in range(nvar)
    ]
    end = start + nvar * namestr_size
    end += -end % 80
    obs_header = raw[end : end + 80]
    if not obs_header.startswith(_OBS):
        raise ValueError(f"OBS header record not found at offset {end}")
    return XptLayout(
        raw=raw,
        library=raw[0:240],
        member=member,
        descriptor=descriptor,
        namestr_header=namestr_header,
        namestrs=namestrs,
        namestr_block=raw[start:end],
        obs_header=obs_header,
        data_offset=end + 80,
        data=raw[end + 80 :],
    )
