"""The byte loop of the ODM fast path, compiled with numba: one pass over a chunk of the file.

It reads the subset of XML that EDC exports write (elements, single- or double-quoted attributes, text,
the five predefined entities and character references, UTF-8) and checks it as it goes: names, quoting,
matching end tags, one root, no text outside it, no control characters, no bare CR. Anything else -
a comment, CDATA section, DOCTYPE or processing instruction, a repeated attribute, an ItemData without
ItemOID or Value, an ItemGroupData outside SubjectData/[StudyEventData/]FormData, a SubjectData without
SubjectKey or FormData without FormOID holding rows - returns NEEDS_PARSER, and the reader reads the file
with lxml instead (which names the line of an error).

Output: spans (start, end) of attribute values and texts in the chunk, per SubjectData, StudyEventData,
FormData and ItemGroupData, with global indices linking them; per item its column (slot) and row in its
form and the span of its value; state (open elements, interned OIDs, columns) carried between chunks.
``gather`` then writes a chunk's values into their columns' final buffers. The usual ``<ItemData ItemOID=".."
Value=".."/>`` takes a short path, and the column of an item is first checked against the one that
followed the previous item last time (inline: a numba call passing every table costs more than the check).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

OK, NEEDS_PARSER = 0, 1
MAX_DEPTH, MAX_NAME, MAX_ATTRS = 256, 96, 64
#: element local names the loop knows (id = position + 1); an ItemData... other than ItemData is TYPED
ELEMENTS = ("ItemData", "ItemGroupData", "FormData", "StudyEventData", "SubjectData", "Study",
            "AuditRecord", "Signature", "Annotation", "AuditRecords", "Signatures", "Annotations")
E_ITEM, E_GROUP, E_FORM, E_EVENT, E_SUBJECT, E_STUDY = 1, 2, 3, 4, 5, 6
E_IGNORED_FIRST, E_IGNORED_LAST, E_TYPED = 7, 12, 13
ATTRS = ("SubjectKey", "StudyEventOID", "FormOID", "FormRepeatKey", "ItemGroupRepeatKey", "ItemOID", "Value",
         "IsNull")
A_SUBJECT, A_EVENT, A_FORM, A_FORM_REPEAT, A_GROUP_REPEAT, A_OID, A_VALUE, A_NULL = range(8)
# state slots
S_DEPTH, S_LINE, S_ROOT, S_SUBJECTS, S_EVENTS, S_FORMS, S_GROUPS, S_ROOT_START, S_ROOT_END, S_STUDIES = range(10)
S_NAMES, S_SLOTS, S_ITEMS, S_PREVIOUS = 10, 11, 12, 13
S_HIGH = 14  # the chunk holds a byte above 127 (then the reader checks it is UTF-8)
STATE_SIZE = 15
#: FormOIDs and ItemOIDs are interned as the loop meets them (a few hundred in an export; more, or more
#: bytes, is read by the parser); each (form, item) pair is a column, a "slot"
MAX_NAMES, NAME_BYTES, MAX_SLOTS, HASH_SIZE = 1 << 15, 1 << 21, 1 << 15, 1 << 16
#: columns of the slot table: form id, item id, last row holding it, first row, first cell typed, first cell,
#: and the slot that followed it in the last row that held it (the next item is most often that one again)
SLOT_FORM, SLOT_ITEM, SLOT_LAST, SLOT_FIRST_ROW, SLOT_FIRST_TYPED, SLOT_FIRST_CELL, SLOT_NEXT = range(7)
SLOT_COLUMNS = 7
# flag bits of a span: the value is normalised as XML gives it (a reference, tab or line end; DEL is kept
# as it is but flagged too: such a value is looked at by the checks every reader shares)
FIX = 1
#: what the loop tells of a column: a value may hold a control character, tab or line end; one has an edge space
SUSPECT, EDGED = 1, 2
#: (for the reader) a value may hold a character outside ASCII: the file holds a byte above 127
WIDE = 4
TYPED_FLAG = 2


def _compiled(function):
    """``function`` compiled by numba, the machine code kept in numba's cache (``__pycache__`` beside this
    file, else the user's cache folder, else NUMBA_CACHE_DIR) so that only the first run of an install
    compiles it (~5 s); where no cache folder is writable numba refuses to cache, and it is compiled
    once per process instead."""
    try:
        return njit(cache=True, nogil=True)(function)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return njit(nogil=True)(function)


@intrinsic
def _word(typingctx, buf, i):
    """The 8 bytes at buf[i:i + 8] as one little-endian uint64, read unaligned (the caller checks the bounds):
    fixed parts of a tag compared 8 bytes at a time."""
    def codegen(context, builder, signature, args):
        array = context.make_array(signature.args[0])(context, builder, args[0])
        at = context.cast(builder, args[1], signature.args[1], types.intp)
        pointer = builder.bitcast(builder.gep(array.data, [at]), ir.IntType(64).as_pointer())
        return builder.load(pointer, align=1)
    return types.uint64(buf, i), codegen


def _bytes_word(text: bytes) -> np.uint64:
    return np.uint64(int.from_bytes(text, "little"))


W_ITEM_1, W_ITEM_2, W_ITEM_3 = _bytes_word(b"<ItemDat"), _bytes_word(b"a ItemOI"), _bytes_word(b'D="')
W_VALUE = _bytes_word(b'" Value=')
W_GROUP_END_1, W_GROUP_END_2 = _bytes_word(b"</ItemGr"), _bytes_word(b"oupData>")
W_GROUP_1, W_GROUP_2, W_GROUP_3, W_GROUP_4 = (_bytes_word(b"<ItemGro"), _bytes_word(b"upData I"),
                                              _bytes_word(b"temGroup"), _bytes_word(b'OID="'))
W_LOW, W_HIGH, W_QUOTES = (np.uint64(0x0101010101010101), np.uint64(0x8080808080808080),
                           np.uint64(0x2222222222222222))
#: the low ``i`` bytes of a word
W_MASKS = np.array([(1 << (8 * i)) - 1 for i in range(9)], dtype=np.uint64)


@_compiled
def _high(buf, s, e):
    """1 if a byte of buf[s:e] is above 127 (8 at a time), else 0."""
    n = len(buf)
    m = s
    while m < e:
        if m + 8 <= n:
            if _word(buf, m) & W_HIGH & W_MASKS[min(e - m, 8)]:
                return 1
            m += 8
        else:
            if buf[m] >= 128:
                return 1
            m += 1
    return 0


def _table(names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    data = "".join(names).encode()
    offsets = np.zeros(len(names) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(n) for n in names])
    return np.frombuffer(data, dtype=np.uint8).copy(), offsets


ELEMENT_TABLE = _table(ELEMENTS)
ATTR_TABLE = _table(ATTRS)


@_compiled
def _name_start(c):
    return (65 <= c <= 90) or (97 <= c <= 122) or c == 95 or c >= 128


@_compiled
def _name_char(c):
    return _name_start(c) or (48 <= c <= 57) or c == 46 or c == 45


@_compiled
def _qname(buf, j, n):
    """End of the (prefixed) name at j and where its local part starts; (-1, -1) if none."""
    if j >= n or not _name_start(buf[j]):
        return -1, -1
    local = j
    k = j + 1
    while k < n and _name_char(buf[k]):
        k += 1
    if k < n and buf[k] == 58:  # prefix:
        if k + 1 >= n or not _name_start(buf[k + 1]):
            return -1, -1
        local = k + 1
        k += 2
        while k < n and _name_char(buf[k]):
            k += 1
    return k, local


@_compiled
def _lookup(buf, s, e, table, offsets):
    size = e - s
    for t in range(len(offsets) - 1):
        if offsets[t + 1] - offsets[t] != size:
            continue
        same = True
        for m in range(size):
            if buf[s + m] != table[offsets[t] + m]:
                same = False
                break
        if same:
            return t
    return -1


@_compiled
def _entity(buf, i, n):
    """Index after the reference starting at buf[i] == '&', or -1 when it is not one XML predefines."""
    k = i + 1
    if k < n and buf[k] == 35:  # &#
        k += 1
        hexa = k < n and buf[k] == 120
        if hexa:
            k += 1
        first = k
        while k < n and ((48 <= buf[k] <= 57) or (hexa and ((97 <= buf[k] <= 102) or (65 <= buf[k] <= 70)))):
            k += 1
        if k == first or k >= n or buf[k] != 59:
            return -1
        return k + 1
    first = k
    while k < n and 97 <= buf[k] <= 122:
        k += 1
    if k >= n or buf[k] != 59:
        return -1
    size = k - first
    if size < 2:
        return -1
    a = buf[first]
    b = buf[first + 1]
    if size == 2 and (a == 108 or a == 103) and b == 116:  # lt gt
        return k + 1
    if size == 3 and a == 97 and b == 109 and buf[first + 2] == 112:  # amp
        return k + 1
    if size == 4 and ((a == 113 and b == 117 and buf[first + 2] == 111 and buf[first + 3] == 116)  # quot
                      or (a == 97 and b == 112 and buf[first + 2] == 111 and buf[first + 3] == 115)):  # apos
        return k + 1
    return -1


@_compiled
def _intern(buf, s, e, names, name_off, name_hash, state):
    """The id of the name buf[s:e], added to the table when new; -1 when the table is full."""
    h = 2166136261
    for m in range(s, e):
        h = ((h ^ np.int64(buf[m])) * 16777619) & 0xFFFFFFFF
    mask = len(name_hash) - 1
    p = h & mask
    size = e - s
    while name_hash[p] != 0:
        t = name_hash[p] - 1
        if name_off[t + 1] - name_off[t] == size:
            at = name_off[t]
            same = True
            for m in range(size):
                if names[at + m] != buf[s + m]:
                    same = False
                    break
            if same:
                return t
        p = (p + 1) & mask
    t = state[S_NAMES]
    if t + 1 >= len(name_off) or name_off[t] + size > len(names):
        return -1
    at = name_off[t]
    for m in range(size):
        names[at + m] = buf[s + m]
    name_off[t + 1] = at + size
    name_hash[p] = t + 1
    state[S_NAMES] = t + 1
    return t


@_compiled
def _slot(form, item, slots, slot_hash, state):
    """The column of item ``item`` in form ``form``, added when new; -1 when the table is full."""
    key = form * MAX_NAMES + item
    mask = len(slot_hash) - 1
    p = ((key * 2654435761) >> 16) & mask
    while slot_hash[p] != 0:
        t = slot_hash[p] - 1
        if slots[t, SLOT_FORM] == form and slots[t, SLOT_ITEM] == item:
            return t
        p = (p + 1) & mask
    t = state[S_SLOTS]
    if t >= len(slots):
        return -1
    slots[t, SLOT_FORM] = form
    slots[t, SLOT_ITEM] = item
    slots[t, SLOT_LAST] = -1
    slots[t, SLOT_NEXT] = -1
    slot_hash[p] = t + 1
    state[S_SLOTS] = t + 1
    return t


#: bytes a double-quoted attribute value holds as they are (no quote, '<', reference, tab, line end or DEL)
PLAIN = np.array([c >= 32 and c not in (34, 38, 60, 127) for c in range(256)], dtype=np.uint8)


@_compiled
def _simple_item(buf, k, n):
    """The attributes of an ItemData start tag whose name ends at k, when they take the form EDC exports
    mostly write: `` ItemOID="..." Value="..."/>`` (either order, one space apart, no reference, tab or
    line end in the values). Returns (end of the tag, ItemOID start, end, Value start, end); end -1 when
    the tag is anything else (the general path reads it)."""
    oid_s = oid_e = value_s = value_e = -1
    while True:
        if k + 10 >= n or buf[k] != 32:
            return -1, oid_s, oid_e, value_s, value_e
        k += 1
        if (buf[k] == 73 and buf[k + 1] == 116 and buf[k + 2] == 101 and buf[k + 3] == 109 and buf[k + 4] == 79
                and buf[k + 5] == 73 and buf[k + 6] == 68 and buf[k + 7] == 61 and buf[k + 8] == 34):  # ItemOID="
            if oid_s >= 0:
                return -1, oid_s, oid_e, value_s, value_e
            k += 9
            oid_s = k
            while k < n and PLAIN[buf[k]]:
                k += 1
            if k >= n or buf[k] != 34:
                return -1, oid_s, oid_e, value_s, value_e
            oid_e = k
        elif (buf[k] == 86 and buf[k + 1] == 97 and buf[k + 2] == 108 and buf[k + 3] == 117 and buf[k + 4] == 101
              and buf[k + 5] == 61 and buf[k + 6] == 34):  # Value="
            if value_s >= 0:
                return -1, oid_s, oid_e, value_s, value_e
            k += 7
            value_s = k
            while k < n and PLAIN[buf[k]]:
                k += 1
            if k >= n or buf[k] != 34:
                return -1, oid_s, oid_e, value_s, value_e
            value_e = k
        else:
            return -1, oid_s, oid_e, value_s, value_e
        k += 1
        if k + 1 < n and buf[k] == 47 and buf[k + 1] == 62 and oid_s >= 0 and value_s >= 0:
            return k + 2, oid_s, oid_e, value_s, value_e


@_compiled
def _cell(buf, s, e, typed, depth, state, stack_code, stack_row, names, name_off, name_hash, form_rows, slots,
          slot_hash, items, counts):
    """Files the item whose ItemOID is buf[s:e] (in the group on top of the stack) under its column: writes
    its slot and row to the next row of ``items`` and returns that row; -1 when the parser must read the
    file (tables full, an item given twice in a row)."""
    form = stack_code[depth - 1]
    previous = state[S_PREVIOUS]
    slot = form_rows[form, 1] if previous < 0 else slots[previous, SLOT_NEXT]
    if slot >= 0:  # the item that followed the previous one last time, if this is it
        item = slots[slot, SLOT_ITEM]
        at = name_off[item]
        if name_off[item + 1] - at != e - s:
            slot = -1
        else:
            for m in range(e - s):
                if names[at + m] != buf[s + m]:
                    slot = -1
                    break
    if slot < 0:
        item = _intern(buf, s, e, names, name_off, name_hash, state)
        if item < 0:
            return -1
        slot = _slot(form, item, slots, slot_hash, state)
        if slot < 0:
            return -1
        if previous < 0:
            form_rows[form, 1] = slot
        else:
            slots[previous, SLOT_NEXT] = slot
    state[S_PREVIOUS] = slot
    form_row = stack_row[depth - 1]
    last = slots[slot, SLOT_LAST]
    if last >= form_row:
        return -1
    if last < 0:
        slots[slot, SLOT_FIRST_ROW] = form_row
        slots[slot, SLOT_FIRST_TYPED] = typed
        slots[slot, SLOT_FIRST_CELL] = state[S_ITEMS] + counts[4]
    slots[slot, SLOT_LAST] = form_row
    row = counts[4]
    if row >= len(items):
        return -1
    items[row, 0] = slot
    items[row, 1] = form_row
    return row


#: the shortest start tag that writes a row of each table (<SubjectData>, <StudyEventData>, <FormData>,
#: <ItemGroupData>, <ItemData ItemOID=""/>): a chunk of n bytes writes at most n // that rows to it
SHORTEST = {"subjects": 13, "events": 16, "forms": 10, "groups": 15, "items": 22}


@_compiled
def take_strings(offsets, data, index, out_offsets, out_data):
    """Strings ``index`` of a large-string array (offsets, data) as a new one: writes out_offsets and, unless
    out_data is empty, the bytes to out_data; returns the bytes they take."""
    write = len(out_data) > 0
    q = 0
    out_offsets[0] = 0
    for i in range(len(index)):
        j = index[i]
        start = offsets[j]
        size = offsets[j + 1] - start
        if write:
            for k in range(size):
                out_data[q + k] = data[start + k]
        q += size
        out_offsets[i + 1] = q
    return q


@_compiled
def last_tag(buf, end):
    """Position of the last '<' in buf[1:end], 0 if none."""
    for i in range(end - 1, 0, -1):
        if buf[i] == 60:
            return i
    return 0


@_compiled
def _reference(buf, k):
    """The character of the reference at buf[k] == '&' (its form checked by the loop) and the index after it;
    the character is -1 when XML does not allow it."""
    k += 1
    if buf[k] == 35:  # &#
        k += 1
        base = 10
        if buf[k] == 120:
            base = 16
            k += 1
        value = 0
        while buf[k] != 59:
            c = np.int64(buf[k])
            digit = c - 48 if c <= 57 else (c - 87 if c >= 97 else c - 55)
            if value <= 0x10FFFF:
                value = value * base + digit
            k += 1
        if not (value == 9 or value == 10 or value == 13 or 0x20 <= value <= 0xD7FF or 0xE000 <= value <= 0xFFFD
                or 0x10000 <= value <= 0x10FFFF):
            value = -1
        return value, k + 1
    a = buf[k]
    if a == 108:  # lt;
        return 60, k + 3
    if a == 103:  # gt;
        return 62, k + 3
    if a == 113:  # quot;
        return 34, k + 5
    if buf[k + 1] == 109:  # amp;
        return 38, k + 4
    return 39, k + 5  # apos;


@_compiled
def _normalise(buf, s, e, text, out, q, write):
    """buf[s:e] as XML gives it - an attribute value (``text`` False: tab, line end and CR LF become a space)
    or a text (CR LF and CR become LF), then references replaced - written at out[q:] when ``write``.
    Returns the index after it (its length from q), or -1 for a reference to a character XML does not allow."""
    k = s
    while k < e:
        c = buf[k]
        if c == 38:
            code, k = _reference(buf, k)
            if code < 0:
                return -1
            size = 1 if code < 0x80 else (2 if code < 0x800 else (3 if code < 0x10000 else 4))
            if write:
                if size == 1:
                    out[q] = code
                elif size == 2:
                    out[q] = 0xC0 | (code >> 6)
                    out[q + 1] = 0x80 | (code & 0x3F)
                elif size == 3:
                    out[q] = 0xE0 | (code >> 12)
                    out[q + 1] = 0x80 | ((code >> 6) & 0x3F)
                    out[q + 2] = 0x80 | (code & 0x3F)
                else:
                    out[q] = 0xF0 | (code >> 18)
                    out[q + 1] = 0x80 | ((code >> 12) & 0x3F)
                    out[q + 2] = 0x80 | ((code >> 6) & 0x3F)
                    out[q + 3] = 0x80 | (code & 0x3F)
            q += size
            continue
        if c == 13:
            if k + 1 < e and buf[k + 1] == 10:
                k += 1
            c = 10
        if not text and (c == 9 or c == 10):
            c = 32
        if write:
            out[q] = c
        q += 1
        k += 1
    return q


@_compiled
def spans(buf, lo, hi, flags, data, offsets):
    """buf[lo[i]:hi[i]] as string i of an Arrow large-string array (data, offsets); empty where lo[i] < 0;
    attribute values whose flag says so normalised. With data empty, only writes the offsets (then data
    needs offsets[-1] bytes). Returns -1 for a reference to a character XML does not allow, else SUSPECT if
    some value was normalised (or holds DEL) plus EDGED if some other value starts or ends with a space."""
    q = 0
    offsets[0] = 0
    write = len(data) > 0
    seen = 0
    for i in range(len(lo)):
        start = lo[i]
        if start >= 0:
            if flags[i] & FIX:
                q = _normalise(buf, start, hi[i], False, data, q, write)
                if q < 0:
                    return -1
                seen |= SUSPECT
            else:
                size = hi[i] - start
                if write:
                    for k in range(size):
                        data[q + k] = buf[start + k]
                if size and (buf[start] == 32 or buf[hi[i] - 1] == 32):
                    seen |= EDGED
                q += size
        offsets[i + 1] = q
    return seen


#: columns of the column table ``gather`` writes through: where a column's value bytes and its offsets (one
#: per row of its form, 64 bits) are kept, how many each holds, bytes written, rows given an offset
C_DATA, C_DATA_SIZE, C_OFFSETS, C_OFFSETS_SIZE, C_BYTES, C_ROWS = range(6)
COLUMN_FIELDS = 6


@intrinsic
def _bytes_at(typingctx, address):
    """The uint8 array at a memory address (a column's value buffer, held alive by the reader)."""
    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], ir.IntType(8).as_pointer())
    return types.CPointer(types.uint8)(types.int64), codegen


@intrinsic
def _int64s_at(typingctx, address):
    """The int64 array at a memory address (a column's offsets, held alive by the reader)."""
    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], ir.IntType(64).as_pointer())
    return types.CPointer(types.int64)(types.int64), codegen


@_compiled
def gather(buf, items, first, m, columns, suspect, edged):
    """Writes the values of items[first:m] straight into their columns' final buffers (``columns``: one row
    per slot, C_* fields; values normalised as XML gives them where flagged), each row of a column given its
    offset - a row the item skips an empty value - so that a column is an Arrow large-string array once its
    form's last offset is written. Marks the slots of flagged values ``suspect``, those of values with a
    space at an edge ``edged``. Returns m when done; the item reached when its column's buffers are too
    small (the caller enlarges them and calls again from there); -1 for a reference to a character XML
    does not allow."""
    for r in range(first, m):
        s = items[r, 0]
        row = items[r, 1]
        start = items[r, 2]
        end = items[r, 3]
        q = columns[s, C_BYTES]
        # the value is at most its bytes in the file (normalising only shortens it); one offset after the row
        if q + (end - start) > columns[s, C_DATA_SIZE] or row + 2 > columns[s, C_OFFSETS_SIZE]:
            return r
        offsets = _int64s_at(columns[s, C_OFFSETS])
        for k in range(columns[s, C_ROWS], row + 1):
            offsets[k] = q
        data = _bytes_at(columns[s, C_DATA])
        if items[r, 4] & FIX:
            suspect[s] = True
            q = _normalise(buf, start, end, items[r, 4] & TYPED_FLAG, data, q, True)
            if q < 0:
                return -1
        else:
            for k in range(end - start):
                data[q + k] = buf[start + k]
            if end > start and (buf[start] == 32 or buf[end - 1] == 32):
                edged[s] = True
            q += end - start
        columns[s, C_BYTES] = q
        columns[s, C_ROWS] = row + 1
    return m


@_compiled
def scan_chunk(buf, start, state, stack_id, stack_index, stack_code, stack_row, stack_name, stack_len, elements,
               element_offsets, attrs, attr_offsets, subjects, events, forms, groups, items, studies, counts, ignored,
               names, name_off, name_hash, form_rows, slots, slot_hash):
    """Scan buf[start:]; returns OK or NEEDS_PARSER. Tables are int64 [rows, columns]:
    subjects (key s, e, flag), events (oid s, e, flag), forms (oid s, e, flag, repeat s, e, flag),
    groups (subject, event, form, repeat s, e, flag, line, form id, row in its form),
    items (slot, row in its form, value s, e, flag); studies: (file position kind 1 start / 2 end, position).
    counts: rows written to each table. FormOIDs and ItemOIDs are interned (names, name_off, name_hash),
    form_rows counts the rows of each form id (and names its first column), slots describes each (form, item) column met so far."""
    n = len(buf)
    depth = state[S_DEPTH]
    line = state[S_LINE]
    a_start = np.empty(len(attr_offsets) - 1, dtype=np.int64)
    a_end = np.empty(len(attr_offsets) - 1, dtype=np.int64)
    a_flag = np.empty(len(attr_offsets) - 1, dtype=np.int64)
    names_s = np.empty(MAX_ATTRS, dtype=np.int64)
    names_e = np.empty(MAX_ATTRS, dtype=np.int64)
    capture = -1  # the item whose text is being read
    high = 0
    i = start
    while i < n:
        c = buf[i]
        if c != 60:  # text
            if c < 32:
                if c == 10:
                    line += 1
                elif c == 13:
                    if i + 1 >= n or buf[i + 1] != 10:
                        return NEEDS_PARSER
                    if capture >= 0:
                        items[capture, 4] |= FIX
                elif c != 9:
                    return NEEDS_PARSER
                if capture >= 0:  # a tab or line end in a typed value
                    items[capture, 4] |= FIX
            elif c == 127 and capture >= 0:
                items[capture, 4] |= FIX
            elif c >= 128:
                high = 1
            elif c == 38:
                k = _entity(buf, i, n)
                if k < 0:
                    return NEEDS_PARSER
                if capture >= 0:
                    items[capture, 4] |= FIX
                if depth == 0:
                    return NEEDS_PARSER
                i = k
                continue
            if depth == 0 and c != 32 and c != 9 and c != 10 and c != 13:
                return NEEDS_PARSER
            i += 1
            continue
        if capture >= 0:
            items[capture, 3] = i
            capture = -1
        if (depth > 0 and stack_id[depth - 1] == E_GROUP and i + 64 < n and _word(buf, i) == W_ITEM_1
                and _word(buf, i + 8) == W_ITEM_2 and (_word(buf, i + 16) & W_MASKS[3]) == W_ITEM_3):
            # shortest path: <ItemData ItemOID="<the item that followed the previous one last time>" Value="..."/>,
            # the fixed parts compared 8 bytes at a time, the ItemOID compared with the expected name only (a
            # name the loop interned holds no '&', '<', tab, line end or DEL; a '"' is refused here), not
            # scanned first; anything else (or too near the chunk's end) is left to the paths below
            previous = state[S_PREVIOUS]
            slot = form_rows[stack_code[depth - 1], 1] if previous < 0 else slots[previous, SLOT_NEXT]
            form_row = stack_row[depth - 1]
            if slot >= 0 and slots[slot, SLOT_LAST] < form_row and counts[4] < len(items):
                item = slots[slot, SLOT_ITEM]
                at = name_off[item]
                size = name_off[item + 1] - at
                k = i + 19
                if k + size + 32 < n and at + size + 8 <= len(names):
                    for m in range(0, size, 8):
                        word = _word(buf, k + m)
                        mask = W_MASKS[min(size - m, 8)]
                        quotes = word ^ W_QUOTES  # a zero byte where a '"' is
                        if ((word ^ _word(names, at + m)) & mask) != 0 or ((quotes - W_LOW) & ~quotes & W_HIGH
                                                                         & mask) != 0:
                            size = -1
                            break
                    if size >= 0:
                        k += size
                        if _word(buf, k) == W_VALUE and buf[k + 8] == 34:
                            k += 9
                            value_s = k
                            while k < n and PLAIN[buf[k]]:
                                k += 1
                            if k + 2 < n and buf[k] == 34 and buf[k + 1] == 47 and buf[k + 2] == 62:  # "/>
                                high |= _high(buf, value_s, k)
                                row = counts[4]
                                state[S_PREVIOUS] = slot
                                slots[slot, SLOT_LAST] = form_row
                                items[row, 0] = slot
                                items[row, 1] = form_row
                                items[row, 2] = value_s
                                items[row, 3] = k
                                items[row, 4] = 0
                                counts[4] += 1
                                i = k + 3
                                if i < n and buf[i] == 10:  # the line end that follows it, as the text path would
                                    line += 1
                                    i += 1
                                continue
        if (depth > 0 and stack_id[depth - 1] == E_GROUP and i + 10 < n and buf[i + 1] == 73 and buf[i + 2] == 116
                and buf[i + 3] == 101 and buf[i + 4] == 109 and buf[i + 5] == 68 and buf[i + 6] == 97
                and buf[i + 7] == 116 and buf[i + 8] == 97 and buf[i + 9] == 32):  # <ItemData in a group
            end, oid_s, oid_e, value_s, value_e = _simple_item(buf, i + 9, n)
            if end >= 0:  # the usual form, read here; any other the general path below reads
                high |= _high(buf, i, end)
                # most often the item that followed the previous one last time: checked here, as a call
                # passing every table costs more than the check (numba does not inline it)
                if counts[4] >= len(items):  # the tables are sized from the chunk: never, but never overrun
                    return NEEDS_PARSER
                previous = state[S_PREVIOUS]
                slot = form_rows[stack_code[depth - 1], 1] if previous < 0 else slots[previous, SLOT_NEXT]
                form_row = stack_row[depth - 1]
                row = -1
                if slot >= 0 and slots[slot, SLOT_LAST] < form_row:
                    item = slots[slot, SLOT_ITEM]
                    at = name_off[item]
                    if name_off[item + 1] - at == oid_e - oid_s:
                        row = counts[4]
                        for m in range(oid_e - oid_s):
                            if names[at + m] != buf[oid_s + m]:
                                row = -1
                                break
                if row >= 0:
                    state[S_PREVIOUS] = slot
                    slots[slot, SLOT_LAST] = form_row
                    items[row, 0] = slot
                    items[row, 1] = form_row
                else:
                    row = _cell(buf, oid_s, oid_e, False, depth, state, stack_code, stack_row, names, name_off,
                                name_hash, form_rows, slots, slot_hash, items, counts)
                    if row < 0:
                        return NEEDS_PARSER
                items[row, 2] = value_s
                items[row, 3] = value_e
                items[row, 4] = 0
                counts[4] += 1
                i = end
                continue
        if (depth > 1 and stack_id[depth - 1] == E_GROUP and stack_len[depth - 1] == 13 and i + 16 < n
                and _word(buf, i) == W_GROUP_END_1 and _word(buf, i + 8) == W_GROUP_END_2):
            # </ItemGroupData> closing an unprefixed ItemGroupData (13 bytes, the one name of that length
            # the element can have), and its line end
            depth -= 1
            i += 16
            if buf[i] == 10:
                line += 1
                i += 1
            continue
        if i + 1 >= n:
            return NEEDS_PARSER
        c = buf[i + 1]
        if c == 47:  # end tag
            end, local = _qname(buf, i + 2, n)
            if end < 0 or depth == 0:
                return NEEDS_PARSER
            size = end - (i + 2)
            if size != stack_len[depth - 1]:
                return NEEDS_PARSER
            for m in range(size):
                if buf[i + 2 + m] != stack_name[depth - 1, m]:
                    return NEEDS_PARSER
            k = end
            while k < n and (buf[k] == 32 or buf[k] == 9 or buf[k] == 10 or buf[k] == 13):
                if buf[k] == 10:
                    line += 1
                k += 1
            if k >= n or buf[k] != 62:
                return NEEDS_PARSER
            high |= _high(buf, i, k)
            depth -= 1
            if stack_id[depth] == E_STUDY:
                if counts[5] >= len(studies):
                    return NEEDS_PARSER
                studies[counts[5], 0] = 2
                studies[counts[5], 1] = k + 1
                counts[5] += 1
            if depth == 0:
                state[S_ROOT] = 2
            i = k + 1
            continue
        if c == 33 or c == 63:  # comment, CDATA, DOCTYPE, processing instruction
            return NEEDS_PARSER
        quick = -1  # the end of the usual <ItemGroupData ItemGroupOID="..."> in a form, its attributes read here
        if (depth > 0 and stack_id[depth - 1] == E_FORM and i + 64 < n and _word(buf, i) == W_GROUP_1
                and _word(buf, i + 8) == W_GROUP_2 and _word(buf, i + 16) == W_GROUP_3
                and (_word(buf, i + 24) & W_MASKS[5]) == W_GROUP_4):
            k = i + 29
            while k < n and PLAIN[buf[k]]:
                k += 1
            if k + 1 < n and buf[k] == 34 and buf[k + 1] == 62:
                quick = k + 2
                high |= _high(buf, i + 29, k)
        if quick >= 0:
            end, local = i + 14, i + 1
        else:
            end, local = _qname(buf, i + 1, n)
        if end < 0:
            return NEEDS_PARSER
        element = E_GROUP if quick >= 0 else _lookup(buf, local, end, elements, element_offsets) + 1
        if element == 0 and end - local > 8:
            if _lookup(buf, local, local + 8, elements, element_offsets) == 0:
                element = E_TYPED
        for t in range(len(a_start)):
            a_start[t] = -1
            a_end[t] = -1
            a_flag[t] = 0
        count = 0
        k = end if quick < 0 else quick
        empty = False
        while quick < 0:  # the attributes, up to the tag's end
            spaced = False
            while k < n and (buf[k] == 32 or buf[k] == 9 or buf[k] == 10 or buf[k] == 13):
                if buf[k] == 10:
                    line += 1
                elif buf[k] == 13 and (k + 1 >= n or buf[k + 1] != 10):
                    return NEEDS_PARSER
                spaced = True
                k += 1
            if k >= n:
                return NEEDS_PARSER
            if buf[k] == 62:
                k += 1
                break
            if buf[k] == 47:
                if k + 1 >= n or buf[k + 1] != 62:
                    return NEEDS_PARSER
                empty = True
                k += 2
                break
            if not spaced:
                return NEEDS_PARSER
            name_end, name_local = _qname(buf, k, n)
            if name_end < 0 or count >= MAX_ATTRS:
                return NEEDS_PARSER
            for p in range(count):  # an attribute given twice is an error
                if names_e[p] - names_s[p] == name_end - k:
                    same = True
                    for m in range(name_end - k):
                        if buf[names_s[p] + m] != buf[k + m]:
                            same = False
                            break
                    if same:
                        return NEEDS_PARSER
            names_s[count] = k
            names_e[count] = name_end
            count += 1
            which = _lookup(buf, k, name_end, attrs, attr_offsets) if name_local == k else -1
            k = name_end
            while k < n and (buf[k] == 32 or buf[k] == 9 or buf[k] == 10 or buf[k] == 13):
                if buf[k] == 10:
                    line += 1
                k += 1
            if k >= n or buf[k] != 61:
                return NEEDS_PARSER
            k += 1
            while k < n and (buf[k] == 32 or buf[k] == 9 or buf[k] == 10 or buf[k] == 13):
                if buf[k] == 10:
                    line += 1
                k += 1
            if k >= n or (buf[k] != 34 and buf[k] != 39):
                return NEEDS_PARSER
            quote = buf[k]
            k += 1
            value_start = k
            flag = 0
            while k < n and buf[k] != quote:
                v = buf[k]
                if v == 60:
                    return NEEDS_PARSER
                if v == 38:
                    e = _entity(buf, k, n)
                    if e < 0:
                        return NEEDS_PARSER
                    flag = FIX
                    k = e
                    continue
                if v < 32:
                    if v == 10:
                        line += 1
                    elif v == 13:
                        if k + 1 >= n or buf[k + 1] != 10:
                            return NEEDS_PARSER
                    elif v != 9:
                        return NEEDS_PARSER
                    flag = FIX
                elif v == 127:
                    flag = FIX
                k += 1
            if k >= n:
                return NEEDS_PARSER
            if which >= 0:
                a_start[which] = value_start
                a_end[which] = k
                a_flag[which] = flag
            k += 1
        # the start tag ends at k - 1: its line is `line`
        if quick < 0:
            high |= _high(buf, i, k)
        parent = stack_id[depth - 1] if depth > 0 else -1
        if depth == 0:
            if state[S_ROOT] != 0:
                return NEEDS_PARSER
            state[S_ROOT] = 1
            state[S_ROOT_START] = i
            state[S_ROOT_END] = k
        index = -1
        code = -1
        if element == E_SUBJECT:
            row = counts[0]
            if row >= len(subjects):
                return NEEDS_PARSER
            subjects[row, 0] = a_start[A_SUBJECT]
            subjects[row, 1] = a_end[A_SUBJECT]
            subjects[row, 2] = a_flag[A_SUBJECT]
            index = state[S_SUBJECTS] + row
            if a_start[A_SUBJECT] < 0 or a_end[A_SUBJECT] == a_start[A_SUBJECT]:
                index = -index - 2  # no SubjectKey: an error only if it holds rows
            counts[0] += 1
        elif element == E_EVENT:
            row = counts[1]
            if row >= len(events):
                return NEEDS_PARSER
            events[row, 0] = a_start[A_EVENT]
            events[row, 1] = a_end[A_EVENT]
            events[row, 2] = a_flag[A_EVENT]
            index = state[S_EVENTS] + row
            counts[1] += 1
        elif element == E_FORM:
            row = counts[2]
            if row >= len(forms):
                return NEEDS_PARSER
            forms[row, 0] = a_start[A_FORM]
            forms[row, 1] = a_end[A_FORM]
            forms[row, 2] = a_flag[A_FORM]
            forms[row, 3] = a_start[A_FORM_REPEAT]
            forms[row, 4] = a_end[A_FORM_REPEAT]
            forms[row, 5] = a_flag[A_FORM_REPEAT]
            index = state[S_FORMS] + row
            if a_start[A_FORM] < 0 or a_end[A_FORM] == a_start[A_FORM]:
                index = -index - 2
            elif a_flag[A_FORM] == 0:  # a FormOID with a reference is left to the parser (if it holds rows)
                code = _intern(buf, a_start[A_FORM], a_end[A_FORM], names, name_off, name_hash, state)
            counts[2] += 1
        elif element == E_GROUP:
            if parent != E_FORM or depth < 3:
                return NEEDS_PARSER
            above = stack_id[depth - 2]
            if above == E_SUBJECT:
                subject, event = stack_index[depth - 2], -1
            elif above == E_EVENT and depth >= 4 and stack_id[depth - 3] == E_SUBJECT:
                subject, event = stack_index[depth - 3], stack_index[depth - 2]
            else:
                return NEEDS_PARSER
            form = stack_index[depth - 1]
            code = stack_code[depth - 1]
            if subject < 0 or form < 0 or code < 0:
                return NEEDS_PARSER
            row = counts[3]
            if row >= len(groups):
                return NEEDS_PARSER
            groups[row, 0] = subject
            groups[row, 1] = event
            groups[row, 2] = form
            groups[row, 3] = a_start[A_GROUP_REPEAT]
            groups[row, 4] = a_end[A_GROUP_REPEAT]
            groups[row, 5] = a_flag[A_GROUP_REPEAT]
            groups[row, 6] = line
            groups[row, 7] = code
            if form_rows[code, 0] >= 2147483647:  # rows are 32-bit in the items' table
                return NEEDS_PARSER
            groups[row, 8] = form_rows[code, 0]
            stack_row[depth] = form_rows[code, 0]
            form_rows[code, 0] += 1
            state[S_PREVIOUS] = -1
            index = state[S_GROUPS] + row
            counts[3] += 1
        elif (element == E_ITEM or element == E_TYPED) and parent == E_GROUP:
            if a_start[A_OID] < 0 or a_flag[A_OID] != 0:
                return NEEDS_PARSER
            row = _cell(buf, a_start[A_OID], a_end[A_OID], element == E_TYPED, depth, state, stack_code, stack_row,
                        names, name_off, name_hash, form_rows, slots, slot_hash, items, counts)
            if row < 0:
                return NEEDS_PARSER
            null = (a_start[A_NULL] >= 0 and a_end[A_NULL] - a_start[A_NULL] == 3 and buf[a_start[A_NULL]] == 89
                    and buf[a_start[A_NULL] + 1] == 101 and buf[a_start[A_NULL] + 2] == 115)  # IsNull="Yes"
            if a_flag[A_NULL] != 0:
                return NEEDS_PARSER
            items[row, 2] = k  # an empty value
            items[row, 3] = k
            items[row, 4] = 0
            if element == E_TYPED:
                items[row, 4] = TYPED_FLAG
                if not null and not empty:
                    capture = row  # the text runs to the next tag
            elif not null:
                if a_start[A_VALUE] < 0:
                    return NEEDS_PARSER
                items[row, 2] = a_start[A_VALUE]
                items[row, 3] = a_end[A_VALUE]
                items[row, 4] = a_flag[A_VALUE]
            counts[4] += 1
        elif E_IGNORED_FIRST <= element <= E_IGNORED_LAST:
            if not (E_IGNORED_FIRST <= parent <= E_IGNORED_LAST):
                ignored[element - E_IGNORED_FIRST] += 1
        elif element == E_STUDY:
            if counts[5] + 1 >= len(studies):
                return NEEDS_PARSER
            studies[counts[5], 0] = 1
            studies[counts[5], 1] = i
            counts[5] += 1
            if empty:
                studies[counts[5], 0] = 2
                studies[counts[5], 1] = k
                counts[5] += 1
        if not empty:
            if depth >= MAX_DEPTH or end - (i + 1) > MAX_NAME:
                return NEEDS_PARSER
            stack_id[depth] = element
            stack_index[depth] = index
            stack_code[depth] = code
            stack_len[depth] = end - (i + 1)
            for m in range(end - (i + 1)):
                stack_name[depth, m] = buf[i + 1 + m]
            depth += 1
        elif depth == 0:
            state[S_ROOT] = 2
        i = k
    if capture >= 0:
        items[capture, 3] = n
    state[S_DEPTH] = depth
    state[S_LINE] = line
    state[S_HIGH] = high
    state[S_SUBJECTS] += counts[0]
    state[S_EVENTS] += counts[1]
    state[S_FORMS] += counts[2]
    state[S_GROUPS] += counts[3]
    state[S_ITEMS] += counts[4]
    return OK
