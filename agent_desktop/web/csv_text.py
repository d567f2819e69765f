"""The text of a CSV file as spreadsheets save it, or the line where its encoding cannot be told.

Belgian Excel on Windows saves "CSV (gescheiden door lijstscheidingsteken)" in Windows-1252, not UTF-8, and
"Unicode text" as UTF-16 with a BOM; supervisors should not have to know. Read, in order:

- UTF-16 with its BOM. NUL bytes without one: refused (UTF-16 without a BOM, or not text at all).
- UTF-8 (with or without BOM): valid UTF-8 with accents is almost never anything else.
- Windows-1252, only when that reading is plausible: no control character, no byte that is undefined there, no
  UTF-8 sequence (a UTF-8 file with one stray byte is two encodings: either reading garbles part of it), and no
  byte 0x80-0x9F inside a word other than ’ (0x92) and € (0x80). That last rule turns away old Mac Excel files
  (Mac Roman puts é ë è ç à ö ü at 0x8D-0x9F, where Windows-1252 has Ž ‘ and undefined bytes: "CafŽ" would be
  stored), at the price of refusing a Windows-1252 "Dušan"; refused files get a clear "save as CSV UTF-8".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

UTF8 = "utf-8"
UTF16 = "utf-16"
CP1252 = "windows-1252"
ADVICE = "save the file as 'CSV UTF-8'"

_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
# A letter (ASCII or Latin-1) either side of a C1-range byte: Windows-1252 has punctuation there, not letters.
_LETTER = rb"[A-Za-z\xc0-\xd6\xd8-\xf6\xf8-\xff]"
_C1_IN_WORD = re.compile(_LETTER + rb"[\x81-\x91\x93-\x9f]|[\x81-\x91\x93-\x9f]" + _LETTER)


@dataclass(frozen=True)
class Decoded:
    text: str | None  # None: refused
    encoding: str = ""
    line: int = 0  # where the refusal was found
    reason: str = ""
    code: str = ""  # the reason for pages in the reader's language: encoding_<why>


def _line_at(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _refused(data: bytes, offset: int, reason: str, code: str) -> Decoded:
    return Decoded(None, line=_line_at(data, offset), reason=f"{reason}; {ADVICE}", code=code)


def decode_csv(data: bytes) -> Decoded:
    """`data` as text (BOM removed) with the encoding it was read in, or why and where it was refused."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return Decoded(data.decode("utf-16").removeprefix("\ufeff"), UTF16)
        except UnicodeDecodeError as e:
            line = 1 + data[: e.start].count(b"\n\x00")
            return Decoded(None, line=line, reason=f"broken UTF-16; {ADVICE}", code="encoding_utf16")
    nul = data.find(b"\x00")
    if nul >= 0:  # before UTF-8: ASCII in UTF-16 without a BOM is valid UTF-8, one NUL every other byte
        return _refused(data, nul, "NUL bytes: UTF-16 without its BOM, or not a text file", "encoding_nul")
    try:
        return Decoded(data.decode("utf-8-sig"), UTF8)
    except UnicodeDecodeError as e:
        bad = e.start
    for pattern, reason, code in (
        (_CONTROL, "a control character: not text in an encoding we can tell", "encoding_control"),
        (_UTF8_SEQUENCE, "UTF-8 mixed with another encoding", "encoding_mixed"),
        (_C1_IN_WORD, "the encoding cannot be told (Mac Roman?)", "encoding_unknown"),
    ):
        found = pattern.search(data)
        if found:
            # A mix is found where the non-UTF-8 byte is: that is the line to fix.
            at = bad if pattern is _UTF8_SEQUENCE else found.start()
            return _refused(data, at, reason, code)
    try:
        return Decoded(data.decode("cp1252"), CP1252)
    except UnicodeDecodeError as e:
        return _refused(
            data,
            e.start,
            "the encoding cannot be told (a byte undefined in Windows-1252)",
            "encoding_unknown",
        )
