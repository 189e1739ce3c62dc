"""Querysets compiled once per process and run many times: for the few hot reads of a request
whose SQL compilation costs more than the database does.

Turning a queryset into SQL (resolving its expressions, joins and select list) is pure Python and
is paid on every evaluation; for a query with correlated subqueries it can take ten times as long
as the database takes to answer. A `CompiledQuery` builds its queryset once per *shape* (which
arguments are None, how long each list is) with marker values in place of the arguments, keeps the
SQL, where each marker landed among the parameters and the columns' converters, and afterwards
only puts the values in and executes. The results are the rows a `values_list()` of that queryset
returns, converted the same way (JSON decoded, decimals, dates).

Only for `values_list()` querysets whose arguments reach the SQL as parameters unchanged (filters,
annotations compared with them). An argument the queryset transforms in Python (a lookup that
rewrites the value, a slice bound, `.first()`'s LIMIT) would not be found among the parameters:
building refuses it (CompiledQueryError), so a wrong query is never run.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.models import QuerySet

# Markers are values no real argument takes: far-negative ids, a datetime in 1901, tagged strings.
_MARKER_BASE = -7_305_000_000_000_000
_MARKER_EPOCH = dt.datetime(1901, 2, 3, 4, 5, 6, tzinfo=dt.UTC)


class CompiledQueryError(RuntimeError):
    """The queryset cannot be compiled once for all values (a programming error)."""


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple[Any, ...]  # constants, with None where an argument goes
    slots: tuple[tuple[int, str, int | None], ...]  # (parameter index, argument name, list index)
    converters: dict[int, tuple[list[Any], Any]]  # column index -> (converters, expression)


class CompiledQuery:
    """`build(**arguments)` returns a `values_list()` queryset; `rows(**arguments)` runs it.

    Thread-safe: a shape is compiled at most a few times (a race compiles it twice, harmlessly)."""

    def __init__(self, build: Callable[..., QuerySet[Any, Any]], *, using: str = "default") -> None:
        self._build = build
        self._using = using
        self._shapes: dict[Hashable, _Compiled] = {}
        self._lock = threading.Lock()

    def rows(self, **arguments: Any) -> list[tuple[Any, ...]]:
        shape = tuple(sorted((name, _shape_of(value)) for name, value in arguments.items()))
        compiled = self._shapes.get(shape)
        if compiled is None:
            compiled = self._compile(arguments)
            with self._lock:
                self._shapes[shape] = compiled
        params = list(compiled.params)
        for index, name, position in compiled.slots:
            value = arguments[name]
            params[index] = value if position is None else value[position]
        connection = connections[self._using]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        if not compiled.converters:
            return rows
        converted = []
        for row in rows:
            values = list(row)
            for column, (functions, expression) in compiled.converters.items():
                value = values[column]
                for function in functions:
                    value = function(value, expression, connection)
                values[column] = value
            converted.append(tuple(values))
        return converted

    def _compile(self, arguments: dict[str, Any]) -> _Compiled:
        counter = itertools.count(1)
        markers: dict[str, Any] = {}
        wanted: dict[Any, tuple[str, int | None]] = {}
        for name, value in arguments.items():
            if isinstance(value, list | tuple):
                marks = [_marker(item, next(counter)) for item in value]
                markers[name] = type(value)(marks)
                wanted.update({m: (name, i) for i, m in enumerate(marks)})
            elif value is None:
                markers[name] = None
            else:
                markers[name] = _marker(value, next(counter))
                wanted[markers[name]] = (name, None)
        queryset = self._build(**markers)
        compiler = queryset.query.get_compiler(using=self._using)
        sql, params = compiler.as_sql()
        slots, constants, found = [], [], set()
        for index, param in enumerate(params):
            try:
                slot = wanted.get(param)
            except TypeError:  # an unhashable constant (a list, a dict)
                slot = None
            if slot is None:
                constants.append(param)
                continue
            constants.append(None)
            slots.append((index, *slot))
            found.add(slot)
        if found != set(wanted.values()):
            missing = sorted({name for name, _ in set(wanted.values()) - found})
            raise CompiledQueryError(f"arguments {missing} do not reach the SQL as parameters")
        columns = [column for column, _, _ in compiler.select]
        return _Compiled(sql=sql, params=tuple(constants), slots=tuple(slots),
                         converters=compiler.get_converters(columns))


def _shape_of(value: Any) -> Hashable:
    if value is None:
        return None
    if isinstance(value, list | tuple):
        return (type(value).__name__, len(value), tuple(type(v).__name__ for v in value))
    return type(value).__name__


def _marker(value: Any, number: int) -> Any:
    if isinstance(value, bool):
        raise CompiledQueryError("a bool argument cannot be told from a constant; use two queries")
    if isinstance(value, int):
        return _MARKER_BASE - number
    if isinstance(value, str):
        return f"\u2063compiled-query-marker-{number}\u2063"
    if isinstance(value, dt.datetime):
        return _MARKER_EPOCH + dt.timedelta(seconds=number)
    raise CompiledQueryError(f"no marker for a {type(value).__name__} argument")
