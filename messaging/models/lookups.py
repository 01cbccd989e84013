"""``field__among=ids``: ``field IN ids`` with the ids bound as one parameter, however many there are.

Django's ``__in`` binds one parameter per value: for the 800 members of a big
group that a message notifies, each of a handful of queries had Django prepare
800 values one by one (``get_db_prep_value``, a placeholder each) and psycopg
scan an 800-placeholder statement for its client-side binding; measured, that
was most of the database thread's time for such a message (docs/benchmark.md,
"The group's notifications as one parameter"). ``among`` sends the ids as one
value: a PostgreSQL array of the column's type (``= ANY(%s::integer[])``) or, on SQLite, a JSON array
read by ``json_each``. Both keep the column's index in use. Integers only: the
keys of our tables.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db.models import ForeignKey, IntegerField, Lookup


class Among(Lookup):
    lookup_name = "among"
    prepare_rhs = False

    def get_prep_lookup(self) -> list[int]:
        if hasattr(self.rhs, "resolve_expression"):
            raise TypeError("__among takes the ids themselves; for a subquery use __in")
        if isinstance(self.rhs, (str, bytes)) or not isinstance(self.rhs, Iterable):
            raise TypeError(f"__among takes an iterable of integers, not {type(self.rhs).__name__}")
        return sorted({int(value) for value in self.rhs})

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        values: list[int] = self.rhs
        if not values:
            raise EmptyResultSet  # as ``__in=[]``: nothing matches, and no query is made
        if connection.vendor == "postgresql":
            array_type = self.lhs.output_field.cast_db_type(connection)
            return f"{lhs} = ANY(%s::{array_type}[])", (*lhs_params, values)
        return f"{lhs} IN (SELECT value FROM json_each(%s))", (*lhs_params, json.dumps(values))


IntegerField.register_lookup(Among)
ForeignKey.register_lookup(Among)
