"""Bringing an existing customer base in from a spreadsheet.

``reader`` turns a file's bytes (CSV in any common encoding and delimiter, or XLSX) into a header
and rows of cells; ``headers`` recognises which column is which from the names real exports use;
``rows`` reads and checks one row's cells (phone, name, birthday...) into a ``RowData`` with its
errors and warnings; ``plan`` does that for a whole file and sorts rows into new, existing, skipped
and rejected. Nothing here writes: ``loyalty.services.imports`` applies a plan in one transaction.
"""
