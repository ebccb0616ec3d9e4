"""File bytes → a header row and data rows of cells, whatever the export looked like.

CSV: the encoding is sniffed (UTF-8 with or without a BOM, UTF-16 with a BOM, otherwise
Windows-1251, what Russian Excel writes), then the delimiter (``;`` ``,`` tab or ``|``: the one
that splits the first lines into the same, largest number of columns). XLSX: the first sheet, read
in streaming mode; date cells stay dates, whole numbers (phones typed as numbers) become digits.

Rows are streamed: ``Table.rows()`` decodes and splits the file anew at each call, so neither the
decoded text nor the cells of a large file are ever all in memory (a 100k-row file held as lists of
cells took ~60 MB, and the text ~35 MB more, before the import had written anything).
"""

import codecs
import csv
import io
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
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
    encoding: str = ""
    delimiter: str = ""
    first_line: int = 2  # file line number of the first data row (the header's line + 1)
    # Streams the data rows (header excluded, blank rows included) from the file's bytes.
    row_source: Callable[[], Iterator[list[Cell]]] = field(default=lambda: iter(()), repr=False)

    def rows(self) -> Iterator[list[Cell]]:
        """The data rows, header excluded, blank rows included; read anew from the bytes at each
        call, one row at a time."""
        return self.row_source()

    def row_count(self) -> int:
        """How many data rows ``rows()`` yields (a streaming pass: nothing is kept)."""
        return sum(1 for _row in self.rows())


def sniff_encoding(data: bytes) -> str:
    """The encoding ``data`` is written in: a BOM's, else UTF-8 if it is valid, else cp1251.

    UTF-8 is validated in slices, so no text of the whole file is built just to find out.
    """
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    step = 1 << 20
    try:
        for start in range(0, len(data), step):
            decoder.decode(view[start:start + step], final=start + step >= len(data))
    except UnicodeDecodeError:
        # Windows-1251 decodes every byte, so it is the last resort, not a guess among others.
        return "cp1251"
    return "utf-8"


def decode(data: bytes) -> tuple[str, str]:
    """The text of ``data`` and the encoding it was read in."""
    encoding = sniff_encoding(data)
    return data.decode(encoding, errors="replace"), encoding


def _text_stream(data: bytes, encoding: str) -> io.TextIOWrapper:
    """``data`` as text read in slices (undecodable bytes replaced), newlines left to ``csv``."""
    return io.TextIOWrapper(io.BytesIO(data), encoding=encoding, errors="replace", newline="")


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
    encoding = sniff_encoding(data)
    with _text_stream(data, encoding) as stream:
        head = [line for line in (ln.rstrip("\r\n") for ln in itertools.islice(stream, 30))
                if line.strip()]
    if not head:
        raise ImportFileError(_("The file is empty."))
    delimiter = sniff_delimiter(head)

    def records() -> Iterator[tuple[csv.reader, list[str]]]:
        with _text_stream(data, encoding) as stream:
            reader = csv.reader(stream, delimiter=delimiter)
            for row in reader:
                yield reader, row

    header: list[str] | None = None
    skip = 0  # records up to and including the header
    first_line = 2
    head_records = records()
    try:
        for reader, row in head_records:
            skip += 1
            if not _is_blank(row):
                header = [c.strip() for c in row]
                first_line = reader.line_num + 1
                break
    finally:
        head_records.close()
    if header is None:
        raise ImportFileError(_("The file is empty."))

    def rows() -> Iterator[list[Cell]]:
        with _text_stream(data, encoding) as stream:
            yield from itertools.islice(csv.reader(stream, delimiter=delimiter), skip, None)

    return Table(header=header, encoding=encoding, delimiter=delimiter, first_line=first_line,
                 row_source=rows)


def _xlsx_cell(value: object) -> Cell:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _xlsx_records(data: bytes) -> Iterator[list[Cell]]:
    """The first sheet's rows, streamed; the workbook is closed when the caller stops."""
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise ImportFileError() from exc
    try:
        for values in workbook.worksheets[0].iter_rows(values_only=True):
            yield [_xlsx_cell(v) for v in values]
    finally:
        workbook.close()


def read_xlsx(data: bytes) -> Table:
    header: list[str] | None = None
    first_line = 2
    records = _xlsx_records(data)
    try:
        for number, row in enumerate(records, start=1):
            if not _is_blank(row):
                header = [str(c).strip() for c in row]
                first_line = number + 1
                break
    finally:
        records.close()
    if header is None:
        raise ImportFileError(_("The file is empty."))
    skip = first_line - 1
    return Table(header=header, encoding="xlsx", first_line=first_line,
                 row_source=lambda: itertools.islice(_xlsx_records(data), skip, None))


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
    """(file line number, cells) of every non-blank data row, streamed from the file: a row is
    let go of as soon as the caller moves on (whoever needs the cells keeps a reference)."""
    for line, row in enumerate(table.rows(), start=table.first_line):
        if not _is_blank(row):
            yield line, row
