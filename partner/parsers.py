"""The API's JSON parser: DRF's, with what integrators send and DRF refuses or fails on.

- A UTF-8 byte-order mark before the JSON is skipped (1C's text writers put one there by default;
  RFC 8259 lets a parser ignore it).
- A body nested too deeply for Python's parser is a ``badRequest``, not a server error
  (``RecursionError``): a 2 KB body of nested brackets reached it.
- The message says what is wrong, in the request's language (DRF's is English only).
- ``NaN`` and ``Infinity`` stay refused, as in DRF's strict mode: they are not JSON.
"""

import codecs
import json

from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.utils.json import strict_constant


class PartnerJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding") or "utf-8"
        if codecs.lookup(encoding).name == "utf-8":
            encoding = "utf-8-sig"  # the same, and a leading byte-order mark is skipped
        try:
            text = codecs.getreader(encoding)(stream).read()
        except UnicodeDecodeError:
            raise ParseError(_("The body is not valid %(encoding)s text.") % {
                "encoding": encoding.removesuffix("-sig").upper()}) from None
        try:
            return json.loads(text, parse_constant=strict_constant)
        except json.JSONDecodeError as exc:
            raise ParseError(_("The body is not valid JSON (line %(line)s, column %(column)s).")
                             % {"line": exc.lineno, "column": exc.colno}) from None
        except ValueError:  # NaN, Infinity (strict_constant)
            raise ParseError(_("The body is not valid JSON: NaN and Infinity are not numbers "
                               "JSON allows.")) from None
        except RecursionError:
            raise ParseError(_("The body is nested too deeply.")) from None
