"""The fast path of the ODM reader: ClinicalData read in one compiled pass over the file's bytes.

An ODM export is ~6 times the bytes of the same study as CSV forms, and an XML parser that hands every
ItemData to Python (lxml's iterparse) reads it ~20 times slower than Arrow reads the CSV forms. Here the
file is mapped into memory and read in chunks of ``CHUNK`` bytes, each cut before a ``<`` so that no tag
is split, and a numba loop (sdtmgen.readers.odm_kernel) walks each chunk once, checking the XML it reads.
It interns FormOIDs and ItemOIDs as it meets them and files each item under its column (a form's item, a
"slot"), with its row in the form and the span of its value; a second compiled pass, run by a second
thread while the loop scans the next chunk, then writes each cell of the chunk straight into its column's
final buffers (values with a reference, tab or line end normalised as an XML parser would), so each cell is
copied once and a column is an Arrow array when the file has been read. The keys of each group
(SubjectKey, StudyEventOID, repeat keys) are copied out per chunk.

Anything outside the subset the loop reads (a DOCTYPE, comment, CDATA section or processing
instruction, another encoding, an error of any kind) raises ``NeedsParser``, and the reader reads the
file again with lxml, which either reads it or names the line that is wrong: error messages have one
source. Both paths give the same forms, cells, lines and notes (tests/readers/test_odm_scan.py compares
them, with chunk cuts anywhere).
"""

from __future__ import annotations

import mmap
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sdtmgen.readers import odm_kernel as K

CHUNK = 1 << 23  # 8 MiB of XML at a time: memory stays bounded whatever the file's size

XML_DECL = re.compile(rb"""<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*["']1\.[0-9]+["']"""
                      rb"""(?:[ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*["'](?P<enc>[A-Za-z0-9._-]+)["'])?"""
                      rb"""(?:[ \t\r\n]+standalone[ \t\r\n]*=[ \t\r\n]*["'](?:yes|no)["'])?[ \t\r\n]*\?>""")
IGNORED = K.ELEMENTS[K.E_IGNORED_FIRST - 1:K.E_IGNORED_LAST]


class NeedsParser(Exception):
    """The file holds something the scanner does not read itself: the XML parser reads it instead."""


@dataclass
class Clinical:
    """ClinicalData as tables: one row per ItemGroupData (document order), one per ItemData read."""

    form: list = field(default_factory=list)  # FormOID of each group
    subject: list = field(default_factory=list)
    event: list = field(default_factory=list)  # StudyEventOID, "" for FormData under SubjectData
    repeat: list = field(default_factory=list)  # ItemGroupRepeatKey, else FormRepeatKey, else ""
    line: list = field(default_factory=list)  # line of the ItemGroupData start tag's end (as lxml counts)
    item_group: list = field(default_factory=list)  # index of each item's group
    item_oid: list = field(default_factory=list)
    item_value: list = field(default_factory=list)
    item_typed: list = field(default_factory=list)  # ItemDataString & co. (text content) rather than ItemData
    ignored: dict = field(default_factory=dict)  # audit/signature/annotation element -> count
    metadata: bytes = b""  # the root tag, the Study elements and the end tag: a small document for lxml


def _slices(view: np.ndarray, lo: np.ndarray, hi: np.ndarray, flags: np.ndarray) -> tuple[pa.Array, int]:
    """view[lo[i]:hi[i]] as one Arrow string array ("" where lo < 0), flagged values normalised as XML gives
    them, copied by the compiled loop; and what it saw of them (K.SUSPECT, K.EDGED bits)."""
    lo, hi, flags = np.ascontiguousarray(lo), np.ascontiguousarray(hi), np.ascontiguousarray(flags)
    offsets = np.empty(len(lo) + 1, dtype=np.int64)
    if K.spans(view, lo, hi, flags, np.empty(0, dtype=np.uint8), offsets) < 0:
        raise NeedsParser("a reference to a character XML does not allow")
    data = np.empty(int(offsets[-1]), dtype=np.uint8)
    seen = K.spans(view, lo, hi, flags, data, offsets)
    return pa.LargeStringArray.from_buffers(len(lo), pa.py_buffer(offsets), pa.py_buffer(data)), int(seen)


def _lengths(strings: pa.Array) -> np.ndarray:
    """The byte length of each value of a large-string array."""
    offsets = np.frombuffer(strings.buffers()[1], dtype=np.int64)[strings.offset:strings.offset + len(strings) + 1]
    return np.diff(offsets)


def take(strings: pa.Array, index: np.ndarray) -> pa.Array:
    """``strings.take(index)`` for a large-string array without nulls, by a compiled loop (Arrow's take costs
    ~2 times as much on the short values of the SUBJECT, VISIT and RECORDPOSITION columns)."""
    if strings.null_count or not len(index):
        return strings.take(pa.array(index))
    _, offsets, data = strings.buffers()
    offsets = np.frombuffer(offsets, dtype=np.int64)[strings.offset:strings.offset + len(strings) + 1]
    data = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(1, dtype=np.uint8)
    out_offsets = np.empty(len(index) + 1, dtype=np.int64)
    size = K.take_strings(offsets, data, index, out_offsets, np.empty(0, dtype=np.uint8))
    out_data = np.empty(size, dtype=np.uint8)
    if size:
        K.take_strings(offsets, data, index, out_offsets, out_data)
    return pa.LargeStringArray.from_buffers(len(index), pa.py_buffer(out_offsets), pa.py_buffer(out_data))


def _chunks(path: Path, size: int):
    """(file offset, bytes as a uint8 array) pieces of the file, each but the last ending just before a '<'.
    The file is mapped into memory (the loop reads the system's cached pages, no copy) and each piece's pages
    are released once it is read; where it cannot be mapped it is read into two buffers in turn. A piece is
    valid until the one after the next is asked for (its cells are written out while the next is scanned)."""
    try:
        with path.open("rb") as handle:
            mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):  # an empty file, a pipe, a system without mmap
        yield from _read_chunks(path, size)
        return
    whole = np.frombuffer(mapped, dtype=np.uint8)
    start, length, page = 0, len(whole), mmap.ALLOCATIONGRANULARITY
    done = 0  # the pieces before this one have been read
    while start < length:
        end = min(start + size, length)
        cut = 0
        while end < length and cut <= 0:  # a run of more than ``size`` bytes without a tag: a longer piece
            cut = K.last_tag(whole[start:end], end - start)
            if cut <= 0:
                end = min(end + size, length)
        if end < length:
            end = start + cut
        yield start, whole[start:end]
        if hasattr(mapped, "madvise"):  # the previous piece's pages leave the process (not the system's cache)
            mapped.madvise(mmap.MADV_DONTNEED, done // page * page, start // page * page - done // page * page)
        done, start = start, end


def _read_chunks(path: Path, size: int):
    """_chunks without mmap: the file read into two buffers in turn (no copy of a piece but the bytes after
    its last '<'), so that a piece stays as it is while the next one is read."""
    buffer, spare = (np.empty(2 * size + 1, dtype=np.uint8) for _ in range(2))
    have, offset = 0, 0
    with path.open("rb") as handle:
        while True:
            if len(buffer) - have < size:  # a run of more than ``size`` bytes without a tag
                buffer = np.concatenate([buffer[:have], np.empty(len(buffer), dtype=np.uint8)])
            got = handle.readinto(memoryview(buffer)[have:have + size])
            if not got:
                if have:
                    yield offset, buffer[:have]
                return
            have += got
            cut = K.last_tag(buffer, have)
            if cut <= 0:
                continue
            yield offset, buffer[:cut]
            offset += cut
            if len(spare) < len(buffer):
                spare = np.empty(len(buffer), dtype=np.uint8)
            spare[:have - cut] = buffer[cut:have]
            buffer, spare = spare, buffer
            have -= cut


class _Columns:
    """Each column's final buffers (value bytes, an offset per row of its form), written by K.gather through
    the table ``table`` (K.C_* fields) as the chunks are read, so that every cell is copied once, from the file
    to where it stays. A column's buffers are sized from how fast it grew so far, projected to the end of the
    file with a margin; one that fills up is moved to larger ones (rare once the first chunk has been read).
    Room never written costs address space only: the system gives a page to a process when it is written."""

    START = 1 << 12  # the first buffers of a column: 4 KiB of values, 512 offsets
    MARGIN = 1.25

    def __init__(self, size: int):
        self.size = max(size, 1)  # the file's bytes: how far a column's growth so far is projected
        self.table = np.zeros((K.MAX_SLOTS, K.COLUMN_FIELDS), dtype=np.int64)
        self.data: list[np.ndarray] = []
        self.offsets: list[np.ndarray] = []
        self.since: list[int] = []  # where in the file each column was first met
        self.suspect = np.zeros(K.MAX_SLOTS, dtype=bool)  # a value with a reference, tab, line end or DEL
        self.edged = np.zeros(K.MAX_SLOTS, dtype=bool)  # a value with a space at its start or end

    def write(self, view: np.ndarray, cells: np.ndarray, m: int, count: int, offset: int) -> None:
        """The chunk's cells (``cells[:m]``, the chunk at ``offset`` in the file) written into their columns
        (``count`` met so far), each where it stays; a column without room for the next is enlarged."""
        self.add(count, offset)
        at = 0
        while at < m:
            at = K.gather(view, cells, at, m, self.table, self.suspect, self.edged)
            if at < 0:
                raise NeedsParser("a reference to a character XML does not allow")
            if at < m:
                slot = int(cells[at, 0])
                self.grow(slot, offset + int(cells[at, 2]),
                          int(self.table[slot, K.C_BYTES] + cells[at, 3] - cells[at, 2]), int(cells[at, 1]) + 2)

    def add(self, count: int, position: int) -> None:
        """Buffers for the columns the loop met since the last call (up to ``count`` columns)."""
        while len(self.data) < count:
            self.since.append(position)
            self._put(len(self.data), np.empty(self.START, dtype=np.uint8), np.empty(self.START // 8, dtype=np.int64))

    def _put(self, slot: int, data: np.ndarray, offsets: np.ndarray) -> None:
        if slot == len(self.data):
            self.data.append(data)
            self.offsets.append(offsets)
        self.data[slot], self.offsets[slot] = data, offsets
        row = self.table[slot]
        row[K.C_DATA], row[K.C_DATA_SIZE] = data.ctypes.data, len(data)
        row[K.C_OFFSETS], row[K.C_OFFSETS_SIZE] = offsets.ctypes.data, len(offsets)

    def grow(self, slot: int, position: int, data_needed: int, rows_needed: int) -> None:
        """Larger buffers for ``slot``, which reached ``position`` in the file and needs room for
        ``data_needed`` value bytes and ``rows_needed`` offsets: its growth so far projected to the file's end."""
        since = self.since[slot]
        scale = self.MARGIN * (self.size - since) / max(position - since, 1)
        old_data, old_offsets = self.data[slot], self.offsets[slot]
        used, rows = int(self.table[slot, K.C_BYTES]), int(self.table[slot, K.C_ROWS])
        data, offsets = old_data, old_offsets
        if data_needed > len(old_data):
            data = np.empty(int(max(data_needed * scale, 2 * len(old_data), data_needed)), dtype=np.uint8)
            data[:used] = old_data[:used]
        if rows_needed > len(old_offsets):
            offsets = np.empty(int(max(rows_needed * scale, 2 * len(old_offsets), rows_needed)), dtype=np.int64)
            offsets[:rows] = old_offsets[:rows]
        self._put(slot, data, offsets)

    def array(self, slot: int, n: int) -> pa.Array:
        """Column ``slot`` as an Arrow large-string array of its form's ``n`` rows (rows after its last cell
        empty), on its own buffers."""
        used, rows = int(self.table[slot, K.C_BYTES]), int(self.table[slot, K.C_ROWS])
        offsets = self.offsets[slot]
        if n + 1 > len(offsets):  # rows after its last cell: room for their offsets
            offsets = np.empty(n + 1, dtype=np.int64)
            offsets[:rows] = self.offsets[slot][:rows]
        offsets = offsets[:n + 1]
        offsets[rows:] = used
        return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(self.data[slot][:used]))


@dataclass
class Scanned:
    """What the fast path read: each form's rows (one per ItemGroupData) and, per column (a form's item,
    a "slot"), its cells as an Arrow array, one per row of its form."""

    names: list  # interned FormOIDs and ItemOIDs (ids index it)
    group_form: np.ndarray  # form id of each group, document order
    subjects: pa.Array  # the SubjectKeys, and the one of each group
    group_subject: np.ndarray
    events: list  # the StudyEventOIDs ("" for none), and the one of each group
    group_event: np.ndarray
    repeat: pa.Array
    line: np.ndarray
    slots: np.ndarray  # per slot: K.SLOT_* columns
    cells: list  # per slot: its values, one per row of its form (Arrow large strings)
    suspect: np.ndarray  # per slot: some value may hold a control character, tab or line break
    edged: np.ndarray  # per slot: some value starts or ends with a space
    subject_seen: int  # K.SUSPECT, K.EDGED bits of the SubjectKeys, of the repeat keys
    repeat_seen: int
    ascii: bool = False  # no byte of the file is above 127
    item_count: int = 0
    ignored: dict = field(default_factory=dict)
    metadata: bytes = b""


def scan(path: Path, chunk: int = CHUNK) -> Scanned:
    """Read the ClinicalData of an ODM file, or raise NeedsParser."""
    path = Path(path)
    state = np.zeros(K.STATE_SIZE, dtype=np.int64)
    state[K.S_LINE] = 1
    stacks = [np.zeros(K.MAX_DEPTH, dtype=np.int64) for _ in range(4)]  # id, index, code, row
    stack_name = np.zeros((K.MAX_DEPTH, K.MAX_NAME + 1), dtype=np.uint8)
    stack_len = np.zeros(K.MAX_DEPTH, dtype=np.int64)
    ignored = np.zeros(len(IGNORED), dtype=np.int64)
    studies_out = np.zeros((64, 2), dtype=np.int64)
    names, name_off = np.zeros(K.NAME_BYTES, dtype=np.uint8), np.zeros(K.MAX_NAMES + 1, dtype=np.int64)
    name_hash, form_rows = np.zeros(K.HASH_SIZE, dtype=np.int64), np.zeros((K.MAX_NAMES, 2), dtype=np.int64)
    form_rows[:, 1] = -1  # no first column yet
    slots = np.zeros((K.MAX_SLOTS, K.SLOT_COLUMNS), dtype=np.int64)
    slot_hash = np.zeros(K.HASH_SIZE, dtype=np.int64)
    columns = _Columns(path.stat().st_size)
    subject_keys, event_oids, form_repeats, group_parts = [], [], [], []
    seen = {"subject": 0, "": 0, "repeat": 0}  # what the loop saw of the keys (K.SUSPECT, K.EDGED)
    root = b""
    study_start = None
    study_ranges: list[tuple[int, int]] = []
    tables: dict[str, np.ndarray] = {}
    items: list[np.ndarray] = []
    writing = None
    high = 0  # a byte above 127 in some chunk
    with ThreadPoolExecutor(max_workers=1) as writer:  # leaves once the thread has written the last cells
        for number, (offset, view) in enumerate(_chunks(path, chunk)):
            start = _head(bytes(view[:1 << 16])) if offset == 0 else 0
            if not tables or len(tables["forms"]) < len(view) // K.SHORTEST["forms"] + 2:  # kept for the next chunk
                if len(view) >= 1 << 31:  # the items' table holds positions in the chunk as 32-bit integers
                    raise NeedsParser("a run of 2 GiB without a tag")
                tables = {name: np.empty((len(view) // K.SHORTEST[name] + 2, width), dtype=np.int64) for name, width in
                          (("subjects", 3), ("events", 3), ("forms", 6), ("groups", 9))}
                items = [np.empty((len(view) // K.SHORTEST["items"] + 2, 5), dtype=np.int32) for _ in range(2)]  # 32 bits
            counts = np.zeros(6, dtype=np.int64)
            cells = items[number % 2]
            status = K.scan_chunk(view, start, state, *stacks, stack_name, stack_len, *K.ELEMENT_TABLE, *K.ATTR_TABLE,
                                  tables["subjects"], tables["events"], tables["forms"], tables["groups"], cells,
                                  studies_out, counts, ignored, names, name_off, name_hash, form_rows, slots, slot_hash)
            if status != K.OK:
                raise NeedsParser("outside the subset the scanner reads")
            high |= int(state[K.S_HIGH])
            if state[K.S_HIGH]:  # the loop saw a byte above 127: the chunk must be UTF-8
                try:
                    pa.LargeStringArray.from_buffers(1, pa.py_buffer(np.array([0, len(view)], dtype=np.int64)),
                                                     pa.py_buffer(view)).validate(full=True)
                except pa.ArrowInvalid:
                    raise NeedsParser("not UTF-8") from None
            if not root and state[K.S_ROOT] != 0:  # the chunk where the root element starts
                root = bytes(view[state[K.S_ROOT_START]:state[K.S_ROOT_END]])
            for kind, position in studies_out[:counts[5]]:
                if kind == 1:
                    study_start = offset + int(position)
                elif study_start is not None:
                    study_ranges.append((study_start, offset + int(position)))
                    study_start = None
            subjects, events, forms = (tables[t][:counts[i]] for i, t in enumerate(("subjects", "events", "forms")))
            for out, kind, (table, at) in ((subject_keys, "subject", (subjects, 0)), (event_oids, "", (events, 0)),
                                           (form_repeats, "repeat", (forms, 3))):
                strings, found = _slices(view, table[:, at], table[:, at + 1], table[:, at + 2])
                seen[kind] |= found
                out.append(strings)
            groups = tables["groups"][:counts[3]]
            strings, found = _slices(view, groups[:, 3], groups[:, 4], groups[:, 5])
            seen["repeat"] |= found
            group_parts.append(([groups[:, c].astype(np.int32) for c in (0, 1, 2, 7)], groups[:, 6].copy(), strings))
            # the chunk's cells are written out by a second thread while this one scans the next chunk (the
            # compiled functions release the GIL); the items' table alternates between two
            if writing is not None:
                writing.result()
            writing = writer.submit(columns.write, view, cells, int(counts[4]), int(state[K.S_SLOTS]), offset)
            del cells, view
        if writing is not None:
            writing.result()
    if state[K.S_ROOT] != 2 or state[K.S_DEPTH] != 0 or study_start is not None:
        raise NeedsParser("the root element is not closed")
    # each group's context from the tables of its ancestors (which may lie in earlier chunks)
    keys = pa.chunked_array(subject_keys, type=pa.large_string()).combine_chunks()
    event_table = pa.chunked_array(event_oids, type=pa.large_string()).combine_chunks()
    repeat_table = pa.chunked_array(form_repeats, type=pa.large_string()).combine_chunks()
    subject, event, form, group_form = (np.concatenate([g[0][c] for g in group_parts]) if group_parts else
                                        np.zeros(0, dtype=np.int32) for c in range(4))  # indices: 32 bits
    repeat = pa.chunked_array([g[2] for g in group_parts], type=pa.large_string()).combine_chunks()
    if (len(repeat) and _lengths(repeat_table).any()  # some FormRepeatKey, for a group without ItemGroupRepeatKey
            and (_lengths(repeat_table)[form[_lengths(repeat) == 0]] > 0).any()):
        repeat = pc.if_else(pc.equal(repeat, ""), repeat_table.take(pa.array(form)), repeat)  # the FormRepeatKey
    encoded = event_table.dictionary_encode()  # the StudyEventOIDs met, "" (no event) last
    events = encoded.dictionary.to_pylist() + [""]
    codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    group_event = np.where(event >= 0, codes[np.maximum(event, 0)] if len(codes) else 0, len(events) - 1)
    count = int(state[K.S_NAMES])
    out = Scanned(
        names=[bytes(names[name_off[i]:name_off[i + 1]]).decode("utf-8") for i in range(count)],
        group_form=group_form, subjects=keys, group_subject=subject, events=events, group_event=group_event,
        repeat=repeat,
        line=np.concatenate([g[1] for g in group_parts]) if group_parts else np.zeros(0, dtype=np.int64),
        slots=slots[:int(state[K.S_SLOTS])].copy(),
        cells=[columns.array(slot, int(form_rows[slots[slot, K.SLOT_FORM], 0])) for slot in range(int(state[K.S_SLOTS]))],
        suspect=columns.suspect[:int(state[K.S_SLOTS])].copy(), edged=columns.edged[:int(state[K.S_SLOTS])].copy(),
        subject_seen=seen["subject"], repeat_seen=seen["repeat"], ascii=not high,
        item_count=int(state[K.S_ITEMS]),
        ignored={name: int(n) for name, n in zip(IGNORED, ignored) if n})
    with path.open("rb") as handle:
        parts = [re.sub(rb"\r\n|[\r\n]", b" ", root)]
        for begin, end in study_ranges:
            handle.seek(begin)
            parts.append(handle.read(end - begin))
    name = re.match(rb"<([^ \t\r\n/>]+)", root)
    out.metadata = b"".join(parts) + b"</" + name.group(1) + b">"
    return out


def _head(data: bytes) -> int:
    """Where the tokens of the first chunk start: after a BOM and an XML declaration naming UTF-8 (or none)."""
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    skip = len(data) - len(body)
    stripped = body.lstrip(b" \t\r\n")
    skip += len(body) - len(stripped)
    if not stripped.startswith(b"<?xml"):
        return skip
    decl = XML_DECL.match(stripped)
    if decl is None:
        raise NeedsParser("XML declaration")
    if decl.group("enc") and decl.group("enc").lower() not in (b"utf-8", b"utf8"):
        raise NeedsParser("encoding other than UTF-8")
    return skip + decl.end()
