"""File bytes → a header row and data rows of cells, whatever the export looked like.

CSV: the encoding is sniffed (UTF-8 with or without a BOM, UTF-16 with a BOM, otherwise
Windows-1251, what Russian Excel writes), then the delimiter (``;`` ``,`` tab or ``|``: the one
that splits the first lines into the same, largest number of columns). XLSX: the first sheet, read
in streaming mode; date cells stay dates, whole numbers (phones typed as numbers) become digits.
"""

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

from django.utils.translation import gettext_lazy as _

from ..exceptions import LoyaltyError

Cell = str | date | datetime

DELIMITERS = (";", ",", "\t", "|")
XLSX_MAGIC = b"PK\x03\x04"


class ImportFileError(LoyaltyError):
    """A file that cannot be read as a table (not CSV/XLSX, empty, or without a phone column)."""

    code = "importFileInvalid"
    default_message = _("The file cannot be read as a table of customers.")


@dataclass
class Table:
    header: list[str]
    rows: list[list[Cell]]  # data rows, header excluded; empty rows dropped
    encoding: str = ""
    delimiter: str = ""
    first_line: int = 2  # file line number of rows[0] (the header is on line 1 after blanks)


def decode(data: bytes) -> tuple[str, str]:
    """The text of ``data`` and the encoding it was read in."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8", errors="replace"), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        # Windows-1251 decodes every byte, so it is the last resort, not a guess among others.
        return data.decode("cp1251", errors="replace"), "cp1251"


def sniff_delimiter(lines: list[str]) -> str:
    """The delimiter that splits the first lines into the most columns, consistently."""
    best, best_score = ";", (0, 0)
    for delimiter in DELIMITERS:
        counts = [len(r) for r in csv.reader(lines, delimiter=delimiter)]
        if not counts or counts[0] < 2:
            continue
        consistent = sum(1 for c in counts if c == counts[0])
        score = (consistent, counts[0])
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _is_blank(row: list) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in row)


def read_csv(data: bytes) -> Table:
    text, encoding = decode(data)
    head = [line for line in text.splitlines()[:30] if line.strip()]
    if not head:
        raise ImportFileError(_("The file is empty."))
    delimiter = sniff_delimiter(head)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] | None = None
    rows: list[list[Cell]] = []
    first_line = 2
    for row in reader:
        if header is None:
            if _is_blank(row):
                continue
            header = [c.strip() for c in row]
            first_line = reader.line_num + 1
            continue
        rows.append(row)
    if header is None:
        raise ImportFileError(_("The file is empty."))
    return Table(header=header, rows=rows, encoding=encoding, delimiter=delimiter,
                 first_line=first_line)


def _xlsx_cell(value: object) -> Cell:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def read_xlsx(data: bytes) -> Table:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise ImportFileError() from exc
    try:
        sheet = workbook.worksheets[0]
        header: list[str] | None = None
        rows: list[list[Cell]] = []
        first_line = 2
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            row = [_xlsx_cell(v) for v in values]
            if header is None:
                if _is_blank(row):
                    continue
                header = [str(c).strip() for c in row]
                first_line = number + 1
                continue
            rows.append(row)
    finally:
        workbook.close()
    if header is None:
        raise ImportFileError(_("The file is empty."))
    return Table(header=header, rows=rows, encoding="xlsx", first_line=first_line)


def read_table(data: bytes, file_name: str = "") -> Table:
    """Read a CSV or XLSX file (told apart by content, not by the name)."""
    if not data:
        raise ImportFileError(_("The file is empty."))
    if data.startswith(XLSX_MAGIC):
        return read_xlsx(data)
    if file_name.lower().endswith((".xls", ".xlsb", ".ods")):
        raise ImportFileError(_("Save the sheet as CSV or XLSX and upload that."))
    return read_csv(data)


def iter_cells(table: Table) -> Iterator[tuple[int, list[Cell]]]:
    """(file line number, cells) of every non-blank data row, once: each row is let go of as soon
    as the caller moves on (whoever needs the cells keeps a reference), so a large file's cells
    and the rows read from them are never all in memory together."""
    rows = table.rows
    for offset in range(len(rows)):
        row = rows[offset]
        rows[offset] = None
        if not _is_blank(row):
            yield table.first_line + offset, row
        del row
