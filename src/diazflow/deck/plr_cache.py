"""Remember PyLabRobot 0.2.2's geometry lookups for the duration of a run.

PLR recomputes ``Resource.get_absolute_location`` from scratch on every call: it walks up to the
deck, and at every level builds two rotation matrices from sines and cosines, multiplies them and
rounds the result, although nothing on our decks is rotated.  The STAR backend asks for the
location of every tip spot and container of every operation several times (channel spacing,
firmware positions, z heights), which made that one function ~70 % of a chatterbox run (~400,000
rotation matrices for a 1,000-operation workflow); its firmware positions are
``get_location_wrt`` the deck, two absolute locations and a new rounded ``Coordinate`` each
time.  Its ``get_absolute_size_x/y/z`` rotate the eight corners of the resource the same way.
``Resource.__hash__`` is ``hash(repr(self))``, and ``LiquidHandler.aspirate``/``dispense`` hash
every container of every operation to see whether they are all one.  PLR's lid check
(``_lidded_ancestor`` before each aspirate and dispense) reads ``Liddable.lid``,
which scans every child of the plate: every well of a 1536-well plate for each container of each
operation.

:func:`cached_geometry` keeps these answers (and the hashes) while the resource tree under the deck does not
change.  It does not change what PLR computes, only how often: a miss calls PLR's own method, and
every change to the tree — PLR's did-assign / did-unassign callbacks, which PLR propagates from any
descendant up to the deck, and ``Resource.rotate`` — forgets everything.  Only resources that sit
under the deck are remembered (a lid or plate held off the deck is recomputed each time, as PLR
does).  What it cannot see is a ``resource.location = ...`` assigned by hand outside PLR's
assign/unassign; PLR itself does that only while constructing resources, and diazflow only while
building the deck, before the cache is entered.

Answers are copied on the way out (PLR's ``Coordinate`` is a mutable dataclass), so a caller that
changes the coordinate it was given cannot change the next caller's.

A first look-up (every tip spot is used once) still walks to the deck, and PLR builds a rotation
matrix for every level of it from sines and cosines (~0.1 ms each; ~4,000 per chatterbox run of
the largest workflow, a tenth of its execution).  The matrix is a function of the rotation's three
angles only, so it is remembered by value (``Rotation`` objects are mutable: ``Resource.rotate``
changes them in place, so never by identity) and returned as a copy; the absolute rotation of a
resource on the deck is remembered like its location.

:func:`lazy_command_log` is the other run-scoped speed-up: ``LiquidHandler._log_command`` formats
every argument of every command (the resources' names, coordinates, lists of volumes) into one
string for a ``logger.debug`` that is almost always off.  Within the block the formatting happens
when, and only if, a handler formats the record (``%s`` of an object that formats itself), so the
message is the same string whenever anyone reads it.  Upstream note: docs/pylabrobot.md
("Speed").
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class GeometryCache:
    """What :func:`cached_geometry` remembers, and how often it was asked (for tests and benches)."""

    root: Any  # the top of the tree the deck is in (PLR's LiquidHandler holds its deck)
    # (id(resource), x, y, z) -> (resource, Coordinate); the resource is kept so its id stays its own
    locations: dict[tuple[int, str, str, str], tuple[Any, Any]] = field(default_factory=dict)
    lids: dict[int, tuple[Any, Any]] = field(default_factory=dict)  # id -> (resource, lid or None)
    # (id(resource), id(other), x, y, z) -> (resource, other, Coordinate): get_location_wrt
    relative: dict[tuple[int, int, str, str, str], tuple[Any, Any, Any]] = field(
        default_factory=dict
    )
    # (id(resource), axis) -> (resource, size along that deck axis after rotation)
    sizes: dict[tuple[int, str], tuple[Any, float]] = field(default_factory=dict)
    # id(resource) -> (resource, hash): Resource.__hash__ (hash of the repr)
    hashes: dict[int, tuple[Any, int]] = field(default_factory=dict)
    # id(resource) -> (resource, Rotation): get_absolute_rotation
    rotations: dict[int, tuple[Any, Any]] = field(default_factory=dict)
    # the three angles and their signs -> rotation matrix (remembered_rotation_matrices)
    matrices: dict[tuple[float, ...], list[list[float]]] = field(default_factory=dict)
    hits: int = 0
    misses: int = 0
    invalidations: int = 0

    def invalidate(self, *_: Any) -> None:
        self.locations.clear()
        self.relative.clear()
        self.lids.clear()
        self.sizes.clear()
        self.rotations.clear()
        self.hashes.clear()
        self.invalidations += 1

    def on_deck(self, resource: Any) -> bool:
        node = resource
        while node.parent is not None:
            node = node.parent
        return node is self.root


def _copy(coordinate: Any) -> Any:
    """A new ``Coordinate`` equal to ``coordinate`` (without rounding it a second time)."""
    fresh = object.__new__(type(coordinate))
    fresh.__dict__.update(coordinate.__dict__)
    return fresh


def _location_wrt(cache: GeometryCache, original_wrt: Any) -> Any:
    """``Resource.get_location_wrt`` answered from ``cache`` for resources on the deck."""

    def get_location_wrt(self: Any, other: Any, x: str = "l", y: str = "f", z: str = "b") -> Any:
        # the STAR backend's firmware positions: a subtree check, two absolute locations and a
        # new (rounded) Coordinate per call, ~28,000 calls in a 900-operation chatterbox run
        key = (id(self), id(other), x, y, z)
        entry = cache.relative.get(key)
        if entry is not None:
            cache.hits += 1
            return _copy(entry[2])
        cache.misses += 1
        value = original_wrt(self, other, x, y, z)  # raises as PLR does (not in the subtree)
        if cache.on_deck(self) and cache.on_deck(other):
            cache.relative[key] = (self, other, _copy(value))
        return value

    return get_location_wrt


@contextlib.contextmanager
def remembered_rotation_matrices() -> Iterator[dict[tuple[float, ...], list[list[float]]]]:
    """Within the block, ``Rotation.get_rotation_matrix`` is computed once per value of the
    three angles (with their signs, so that a ``-0.0`` angle gets the matrix PLR would build for
    it) and handed out as a copy.  A pure function of the angles: nothing can make an answer
    stale, so this is safe while a deck is being built, too.  Yields the memo (for tests)."""
    from pylabrobot.resources.rotation import Rotation

    matrices: dict[tuple[float, ...], list[list[float]]] = {}
    original = Rotation.get_rotation_matrix

    def get_rotation_matrix(self: Any) -> list[list[float]]:
        x, y, z = self.x, self.y, self.z
        key = (x, y, z, math.copysign(1.0, x), math.copysign(1.0, y), math.copysign(1.0, z))
        matrix = matrices.get(key)
        if matrix is None:
            matrix = original(self)
            matrices[key] = [list(row) for row in matrix]
            return matrix
        return [list(row) for row in matrix]

    Rotation.get_rotation_matrix = get_rotation_matrix
    try:
        yield matrices
    finally:
        Rotation.get_rotation_matrix = original


def _hash(cache: GeometryCache, original_hash: Any) -> Any:
    """``Resource.__hash__`` (``hash(repr(self))``: the name, location, sizes and category
    formatted into a string on every call) answered from ``cache`` for resources on the deck.
    ``LiquidHandler.aspirate``/``dispense`` hash every container of every operation
    (``len(set(resources)) == 1``: 9,216 reprs for the 1536-well plate)."""

    def __hash__(self: Any) -> int:
        entry = cache.hashes.get(id(self))
        if entry is not None:
            return entry[1]
        value: int = original_hash(self)
        if cache.on_deck(self):
            cache.hashes[id(self)] = (self, value)
        return value

    return __hash__


def _absolute_rotation(cache: GeometryCache, original_rotation: Any) -> Any:
    """``Resource.get_absolute_rotation`` (a new ``Rotation`` summed up to the root on every
    call) answered from ``cache`` for resources on the deck; a new ``Rotation`` each time."""

    def get_absolute_rotation(self: Any) -> Any:
        entry = cache.rotations.get(id(self))
        if entry is not None:
            rotation = entry[1]
            return type(rotation)(x=rotation.x, y=rotation.y, z=rotation.z)
        value = original_rotation(self)
        if cache.on_deck(self):
            cache.rotations[id(self)] = (self, type(value)(x=value.x, y=value.y, z=value.z))
        return value

    return get_absolute_rotation


@contextlib.contextmanager
def cached_geometry(deck: Any) -> Iterator[GeometryCache]:
    """Within the block, ``get_absolute_location``, ``get_location_wrt`` and ``lid`` of the
    resources in the tree that holds ``deck`` (PLR assigns the deck to its ``LiquidHandler``) are
    computed once per state of that tree (see the module's docstring)."""
    from pylabrobot.resources.lid import Liddable
    from pylabrobot.resources.resource import Resource

    cache = GeometryCache(deck.get_root())
    original_hash = Resource.__dict__["__hash__"]
    original_rotation = Resource.get_absolute_rotation
    original_location = Resource.get_absolute_location
    original_wrt = Resource.get_location_wrt
    get_location_wrt = _location_wrt(cache, original_wrt)
    original_rotate = Resource.rotate
    original_lid = Liddable.__dict__["lid"]

    def get_absolute_location(self: Any, x: str = "l", y: str = "f", z: str = "b") -> Any:
        key = (id(self), x, y, z)
        entry = cache.locations.get(key)
        if entry is not None:
            cache.hits += 1
            return _copy(entry[1])
        cache.misses += 1
        value = original_location(self, x, y, z)
        if cache.on_deck(self):
            cache.locations[key] = (self, _copy(value))
        return value

    def rotate(self: Any, x: float = 0, y: float = 0, z: float = 0) -> None:
        cache.invalidate()
        original_rotate(self, x, y, z)
        cache.invalidate()

    def absolute_size(axis: str) -> Any:
        original = getattr(Resource, f"get_absolute_size_{axis}")

        def get_absolute_size(self: Any) -> float:
            key = (id(self), axis)
            entry = cache.sizes.get(key)
            if entry is not None:
                return entry[1]
            value: float = original(self)
            if cache.on_deck(self):
                cache.sizes[key] = (self, value)
            return value

        return original, get_absolute_size

    sizes = {axis: absolute_size(axis) for axis in "xyz"}

    def lid(self: Any) -> Any:
        entry = cache.lids.get(id(self))
        if entry is not None:
            return entry[1]
        value = original_lid.fget(self)
        if cache.on_deck(self):
            cache.lids[id(self)] = (self, value)
        return value

    stack = contextlib.ExitStack()
    cache.matrices = stack.enter_context(remembered_rotation_matrices())
    cache.root.register_did_assign_resource_callback(cache.invalidate)
    cache.root.register_did_unassign_resource_callback(cache.invalidate)
    Resource.__hash__ = _hash(cache, original_hash)
    Resource.get_absolute_rotation = _absolute_rotation(cache, original_rotation)
    Resource.get_absolute_location = get_absolute_location
    Resource.get_location_wrt = get_location_wrt
    Resource.rotate = rotate
    for axis, (_, cached) in sizes.items():
        setattr(Resource, f"get_absolute_size_{axis}", cached)
    Liddable.lid = property(lid, original_lid.fset, original_lid.fdel, original_lid.__doc__)
    try:
        yield cache
    finally:
        stack.close()
        Resource.__hash__ = original_hash
        Resource.get_absolute_rotation = original_rotation
        Resource.get_absolute_location = original_location
        Resource.get_location_wrt = original_wrt
        Resource.rotate = original_rotate
        for axis, (original, _) in sizes.items():
            setattr(Resource, f"get_absolute_size_{axis}", original)
        Liddable.lid = original_lid
        cache.root.deregister_did_assign_resource_callback(cache.invalidate)
        cache.root.deregister_did_unassign_resource_callback(cache.invalidate)


class _CommandParameters:
    """The ``name=value, ...`` text of ``LiquidHandler._log_command``, made when it is read."""

    __slots__ = ("handler", "kwargs")

    def __init__(self, handler: Any, kwargs: dict[str, Any]):
        self.handler = handler
        self.kwargs = kwargs

    def __str__(self) -> str:
        # PLR 0.2.2's own expression (liquid_handler.py, _log_command)
        return ", ".join(f"{k}={self.handler._format_param(v)}" for k, v in self.kwargs.items())


@contextlib.contextmanager
def lazy_command_log() -> Iterator[None]:
    """Within the block, ``LiquidHandler._log_command`` hands ``logger.debug`` its parameters
    unformatted: the logging module formats ``"%s(%s)"`` only for a record a handler emits, and
    the text is then what PLR would have made (see the module's docstring)."""
    from pylabrobot.liquid_handling import liquid_handler

    original = liquid_handler.LiquidHandler.__dict__["_log_command"]
    logger = liquid_handler.logger

    def _log_command(self: Any, name: str, **kwargs: Any) -> None:
        logger.debug("%s(%s)", name, _CommandParameters(self, kwargs))

    liquid_handler.LiquidHandler._log_command = _log_command
    try:
        yield
    finally:
        liquid_handler.LiquidHandler._log_command = original
