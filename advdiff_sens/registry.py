"""Strings as sugar for strategy objects: one registry per kind of choice.

Every choice the library offers — a propagator backend, an adjoint method, an advection
scheme, an optimiser, a sampler — is an object with its own options
(``ChebyshevBackend(tol=1e-10)``, ``DiscreteAdjoint(checkpoints=8)``). A :class:`Registry`
maps the short names users type (``backend="scipy"``, ``scheme="central"``) to those
objects, and is the one place where a name is validated: an unknown name raises a
``ValueError`` that lists the known ones and suggests the closest.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Names of one kind of strategy, each bound to a factory of its default object.

    Parameters
    ----------
    kind : str
        What the objects are, for error messages (``"propagator backend"``).
    base : type
        The class every strategy of this kind derives from; an instance of it is accepted
        as it is by :meth:`resolve`.

    Examples
    --------
    >>> class Scheme:
    ...     pass
    >>> schemes = Registry("advection scheme", Scheme)
    >>> @schemes.register("central")
    ... class Central(Scheme):
    ...     pass
    >>> type(schemes.resolve("central", "scheme")).__name__
    'Central'
    >>> schemes.resolve("centrall", "scheme")
    Traceback (most recent call last):
    ...
    ValueError: scheme must be one of ('central',) or an advection scheme object (a Scheme), got 'centrall'; did you mean 'central'?
    """

    def __init__(self, kind: str, base: type) -> None:
        self.kind = kind
        self.base = base
        self._factories: dict[str, Callable[[], T]] = {}

    def register(self, name: str, factory: Callable[[], T] | None = None):
        """Bind ``name`` to ``factory`` (a class or function of no required argument).

        Used as a decorator on the class when ``factory`` is omitted.
        """
        if name in self._factories:
            raise ValueError(f"{self.kind} name {name!r} is already registered")

        def bind(f: Callable[[], T]) -> Callable[[], T]:
            self._factories[name] = f
            return f

        return bind if factory is None else bind(factory)

    def names(self) -> tuple[str, ...]:
        """The registered names, in registration order."""
        return tuple(self._factories)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._factories

    def resolve(self, value, argument: str) -> T:
        """The strategy object for ``value``: an instance of :attr:`base` as it is, a
        registered name as its default object.

        Raises
        ------
        ValueError
            ``value`` is a string that is not registered (the message lists the names).
        TypeError
            ``value`` is neither a string nor a :attr:`base` instance.
        """
        if isinstance(value, self.base):
            return value
        expected = (f"one of {self.names()} or {_article(self.kind)} {self.kind} object "
                    f"({_article(self.base.__name__)} {self.base.__name__})")
        if isinstance(value, str):
            if value in self._factories:
                return self._factories[value]()
            close = difflib.get_close_matches(value, self.names(), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"{argument} must be {expected}, got {value!r}{hint}")
        raise TypeError(f"{argument} must be {expected}, got {type(value).__name__}")


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"
