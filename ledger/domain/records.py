"""A quicker `__init__` for the frozen dataclasses an import makes a million of.

A frozen dataclass's generated `__init__` sets each field through `object.__setattr__`,
one call a field: for `GrantSpec` and `GrantView` (13 fields) that is most of the cost of
making one, and a million-row import makes two a row. `quick_init` gives such a class an
`__init__` with the same signature that sets the instance's dictionary in one step, then
runs `__post_init__` as before. Equality, hashing, `repr`, `replace` and the frozen
guard are the dataclass's own.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

C = TypeVar("C", bound=type)

_NO_VALUE: Any = object()
"""The default of a field whose default is made by a factory: made inside `__init__`."""


def quick_init(cls: C) -> C:
    """Replace the `__init__` of the frozen dataclass `cls` (decorate above `@dataclass`)."""
    params = cls.__dataclass_params__  # type: ignore[attr-defined]
    if not params.frozen or "__slots__" in cls.__dict__:
        raise TypeError(f"quick_init is for frozen dataclasses without slots, not {cls!r}")
    fields = dataclasses.fields(cls)
    namespace: dict[str, Any] = {"_set": object.__setattr__, "_NO_VALUE": _NO_VALUE}
    signature, made = [], []
    for field in fields:
        if not field.init or field.kw_only:
            raise TypeError(f"quick_init cannot build {cls.__name__}.{field.name}")
        name = field.name
        if field.default is not dataclasses.MISSING:
            namespace[f"_default_{name}"] = field.default
            signature.append(f"{name}=_default_{name}")
        elif field.default_factory is not dataclasses.MISSING:
            namespace[f"_factory_{name}"] = field.default_factory
            signature.append(f"{name}=_NO_VALUE")
            made.append(f"    if {name} is _NO_VALUE:\n        {name} = _factory_{name}()\n")
        else:
            signature.append(name)
    values = ", ".join(f"{f.name!r}: {f.name}" for f in fields)
    post_init = "    self.__post_init__()\n" if hasattr(cls, "__post_init__") else ""
    source = (
        f"def __init__(self, {', '.join(signature)}):\n"
        f"{''.join(made)}"
        f"    _set(self, '__dict__', {{{values}}})\n"
        f"{post_init}"
    )
    exec(source, namespace)
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    setattr(cls, "__init__", init)  # noqa: B010 - mypy forbids assigning to a method
    return cls
