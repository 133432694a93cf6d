"""The run-scoped memo of PyLabRobot's geometry lookups (deck/plr_cache.py) changes how often PLR
computes, never what: every answer equals PLR's own, before and after the tree changes, and a
chatterbox run gives the same firmware transcript and the same device records with and without it.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from diazflow.deck import load_deck
from diazflow.deck.plr import build_plr

REPO = Path(__file__).resolve().parents[1]
ANCHORS = [("l", "f", "b"), ("c", "c", "t"), ("r", "b", "c"), ("c", "c", "cavity_bottom")]


def _walk(resource):
    stack = [resource]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node.children)


def _geometry(root) -> dict:
    """Every resource's absolute location at several anchors, absolute sizes and lid, by name:
    read through whatever ``Resource`` methods are in place."""
    from pylabrobot.resources.lid import Liddable

    seen = {}
    for node in _walk(root):
        if node.location is None:
            continue
        entry = []
        for anchor in ANCHORS:
            try:
                entry.append(node.get_absolute_location(*anchor))
            except ValueError:  # cavity_bottom of a resource without a material thickness
                entry.append(None)
        entry += [node.get_absolute_size_x(), node.get_absolute_size_y()]
        entry.append(node.get_absolute_size_z())
        if isinstance(node, Liddable):
            entry.append(None if node.lid is None else node.lid.name)
        # relative locations (the STAR backend's firmware positions are wrt the deck)
        entry.append(node.get_location_wrt(root))
        entry.append(node.get_location_wrt(root, "c", "c", "t"))
        if node.parent is not None and node.parent.location is not None:
            entry.append(node.get_location_wrt(node.parent, "r", "b", "t"))
        try:
            entry.append(hash(node))  # hash(repr): the name, location and sizes
        except TypeError:  # PLR's carriers define __eq__ without __hash__
            entry.append(None)
        seen[node.name] = entry
    return seen


@pytest.fixture
def starlet():
    return build_plr(load_deck(str(REPO / "deck_layouts" / "starlet_chem.yaml")), "simulate")


def test_cached_answers_are_plrs_before_and_after_the_tree_changes(starlet):
    from pylabrobot.resources import Lid, PlateHolder

    from diazflow.deck.plr_cache import cached_geometry

    root = starlet.deck.get_root()
    block = starlet.labware("reaction_block")
    well = block.get_well("A1")
    caps = Lid(
        name="caps",
        size_x=block.get_size_x(),
        size_y=block.get_size_y(),
        size_z=10.0,
        nesting_z_height=2.0,
    )
    uncached_before = _geometry(root)
    with cached_geometry(starlet.deck) as cache:
        assert _geometry(root) == uncached_before
        assert _geometry(root) == uncached_before  # now from the cache
        assert cache.hits > 0

        # a lid on the block: PLR's lid lookup and the lid's own location follow
        block.assign_child_resource(caps)
        assert block.lid is caps and block.has_lid()
        with_lid = _geometry(root)
        # move the block to another site of the tree: every location under it changes
        parent, site = block.parent, block.location
        moved_to = next(
            node
            for node in _walk(root)
            if isinstance(node, PlateHolder) and not node.children and node is not block.parent
        )
        before_move = well.get_absolute_location()
        block.unassign()
        moved_to.assign_child_resource(block)
        after_move = well.get_absolute_location()
        assert after_move != before_move
        with_move = _geometry(root)
        # a rotation changes absolute sizes without touching the tree's shape
        block.rotate(z=90)
        rotated = _geometry(root)
        block.rotate(z=-90)
        block.unassign()
        parent.assign_child_resource(block, location=site)
        block.unassign_child_resource(caps)
        assert block.lid is None
        # a caller changing the coordinate it was given does not change the next answer
        given = well.get_absolute_location()
        given.z += 100
        assert well.get_absolute_location().z == given.z - 100
        assert _geometry(root) == uncached_before
        assert cache.invalidations >= 6
        # rotation matrices are remembered by angle: none and a quarter turn were both seen
        assert {key[:3] for key in cache.matrices} >= {(0, 0, 0), (0, 0, 90)}

    # the same changes without the cache give the same answers
    block.assign_child_resource(caps)
    assert _geometry(root) == with_lid
    block.unassign()
    moved_to.assign_child_resource(block)
    assert well.get_absolute_location() == after_move
    assert _geometry(root) == with_move
    block.rotate(z=90)
    assert _geometry(root) == rotated
    assert rotated["reaction_block"][4:6] == pytest.approx(with_move["reaction_block"][4:6][::-1])


def test_the_cache_leaves_plr_as_it_was():
    from pylabrobot.resources.lid import Liddable
    from pylabrobot.resources.resource import Resource

    from diazflow.deck.plr_cache import cached_geometry

    methods = (
        Resource.get_absolute_location,
        Resource.get_absolute_size_x,
        Resource.get_absolute_size_z,
        Resource.rotate,
        Resource.__hash__,
        Liddable.__dict__["lid"],
    )
    starlet = build_plr(load_deck(str(REPO / "deck_layouts" / "starlet_chem.yaml")), "simulate")
    root = starlet.deck.get_root()
    callbacks = len(root._did_assign_resource_callbacks), len(root._did_unassign_resource_callbacks)
    with contextlib.suppress(RuntimeError), cached_geometry(starlet.deck):
        raise RuntimeError("a run that fails")
    assert (
        Resource.get_absolute_location,
        Resource.get_absolute_size_x,
        Resource.get_absolute_size_z,
        Resource.rotate,
        Resource.__hash__,
        Liddable.__dict__["lid"],
    ) == methods
    assert (
        len(root._did_assign_resource_callbacks),
        len(root._did_unassign_resource_callbacks),
    ) == callbacks


def _chatterbox_run(workflow: Path, directory: Path) -> tuple[str, list[tuple]]:
    from diazflow.pipeline import check
    from diazflow.runtime.runner import commands_path_for, run_plan

    result = check(str(workflow))
    assert result.plan is not None
    journal = directory / "run.sqlite"
    outcome = run_plan(
        result,
        journal_path=str(journal),
        quiet=True,
        backend="chatterbox",
        notify=lambda _: None,
    )
    assert outcome.exit_code == 0, outcome.message
    transcript = Path(commands_path_for(str(journal))).read_text(encoding="utf-8")
    with contextlib.closing(sqlite3.connect(journal)) as conn:
        # everything a device reported, but the wall-clock time it reported it at
        records = conn.execute(
            "SELECT seq, op_id, action, device, kind, clock_t, data FROM device_log ORDER BY seq"
        ).fetchall()
    return transcript, records


def test_star_chatterbox_run_is_the_same_with_and_without_the_cache(tmp_path, monkeypatch):
    import diazflow.deck.plr_cache as plr_cache

    # a plate run with caps put on and taken off (lid assignments) between pipetting steps
    workflow = REPO / "workflows" / "n4_reductive_amination_stab.yaml"
    (tmp_path / "cached").mkdir()
    (tmp_path / "uncached").mkdir()
    cached = _chatterbox_run(workflow, tmp_path / "cached")
    monkeypatch.setattr(plr_cache, "cached_geometry", lambda deck: contextlib.nullcontext())
    uncached = _chatterbox_run(workflow, tmp_path / "uncached")
    assert "C0AS" in cached[0] and len(cached[1]) > 100
    assert cached[0] == uncached[0]
    assert cached[1] == uncached[1]


def test_linear_name_check_refuses_what_plrs_refuses():
    from pylabrobot.resources import Coordinate, Resource

    from diazflow.deck.plr import fast_name_checks

    def tree(make_check):
        """Outcomes of a sequence of assignments: None, or the error PLR raised."""
        outcomes = []
        root = Resource("root", 10, 10, 10)
        holder = Resource("holder", 10, 10, 10)
        root.assign_child_resource(holder, location=Coordinate.zero())

        def attempt(parent, name, children=()):
            child = Resource(name, 1, 1, 1)
            for grandchild in children:
                child.assign_child_resource(Resource(grandchild, 1, 1, 1), Coordinate.zero())
            try:
                parent.assign_child_resource(child, location=Coordinate.zero())
                outcomes.append(None)
            except ValueError as exc:
                outcomes.append(str(exc))
            return child

        with make_check():
            for i in range(50):
                attempt(holder, f"well_{i}")
            attempt(holder, "well_7")  # a duplicate of a leaf
            attempt(root, "new", children=("well_3",))  # a duplicate deeper in the new resource
            nested = attempt(holder, "nested", children=("inner",))
            attempt(root, "inner")  # a duplicate of a grandchild assigned with its parent
            holder.unassign_child_resource(nested)  # its names are free again
            attempt(root, "inner")
            attempt(root, "nested")
            attempt(holder, "holder")
        return outcomes

    plr = tree(contextlib.nullcontext)
    assert plr.count(None) == 53 and len(plr) == 57
    assert tree(fast_name_checks) == plr


def test_containers_are_plrs_wells_looked_up_once(starlet):
    block = starlet.labware("reaction_block")
    for name in ("A1", "H12", "C7"):
        assert starlet.container("reaction_block", name) is block.get_well(name)
        assert starlet.container("reaction_block", name) is block.get_well(name)
    trough = next(name for name, res in starlet.resources.items() if type(res).__name__ == "Trough")
    assert starlet.container(trough) is starlet.labware(trough)
    with pytest.raises(KeyError, match="only position is A1"):
        starlet.container(trough, "B1")


def _simulated_run_log(workflow: Path, directory: Path) -> list[str]:
    """The DEBUG messages PyLabRobot's 'pylabrobot' logger emits during a simulated run."""
    import logging

    from diazflow.pipeline import check
    from diazflow.runtime.runner import run_plan

    class Keep(logging.Handler):
        def __init__(self) -> None:
            super().__init__(level=logging.DEBUG)
            self.messages: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.messages.append(record.getMessage())

    result = check(str(workflow))
    assert result.plan is not None
    logger = logging.getLogger("pylabrobot")
    keep, level = Keep(), logger.level
    logger.addHandler(keep)
    logger.setLevel(logging.DEBUG)
    try:
        outcome = run_plan(
            result, journal_path=str(directory / "run.sqlite"), quiet=True, notify=lambda _: None
        )
    finally:
        logger.removeHandler(keep)
        logger.setLevel(level)
    assert outcome.exit_code == 0, outcome.message
    return keep.messages


def test_command_log_reads_the_same_when_formatted_late(tmp_path, monkeypatch):
    import diazflow.deck.plr_cache as plr_cache

    workflow = REPO / "workflows" / "n4_reductive_amination_stab.yaml"
    (tmp_path / "lazy").mkdir()
    (tmp_path / "eager").mkdir()
    lazy = _simulated_run_log(workflow, tmp_path / "lazy")
    monkeypatch.setattr(plr_cache, "lazy_command_log", contextlib.nullcontext)
    eager = _simulated_run_log(workflow, tmp_path / "eager")
    assert lazy == eager
    aspirations = [m for m in lazy if m.startswith("aspirate(")]
    assert aspirations and "resources=['" in aspirations[0] and "vols=[" in aspirations[0]


def test_command_log_is_not_formatted_when_nobody_reads_it(starlet, monkeypatch):
    import asyncio

    from pylabrobot.liquid_handling import LiquidHandler

    from diazflow.deck.plr_cache import lazy_command_log

    formatted: list[object] = []
    original = LiquidHandler._format_param

    def counting(self, value):
        formatted.append(value)
        return original(self, value)

    monkeypatch.setattr(LiquidHandler, "_format_param", counting)
    lh = starlet.liquid_handler
    rack = next(r for r in starlet.resources.values() if type(r).__name__ == "TipRack")

    async def pick_up_and_drop() -> None:
        await lh.setup()
        await lh.pick_up_tips([rack.get_item("A1")], use_channels=[0])
        await lh.drop_tips([rack.get_item("A1")], use_channels=[0])

    with lazy_command_log():
        asyncio.run(pick_up_and_drop())
    assert formatted == []
    asyncio.run(lh.pick_up_tips([rack.get_item("A1")], use_channels=[0]))
    assert formatted  # PLR's own _log_command formats at once


def test_every_well_and_tip_spot_is_plrs_own_item(starlet):
    from diazflow.runtime.runner import build_labels

    spec = starlet.deck_spec
    checked = 0
    for name, lw in spec.labware.items():
        resource = starlet.resources.get(name)
        if resource is None or not hasattr(resource, "get_item"):
            continue
        for well in lw.well_names():
            if lw.role == "tips":
                assert starlet.tip_spot(f"{name}:{well}") is resource.get_item(well)
            else:
                assert starlet.container(name, well) is resource.get_well(well)
            checked += 1
    assert checked > 900
    with pytest.raises(IndexError, match="Z99"):
        starlet.container("reaction_block", "Z99")  # not a well: PLR's own error
    labels = build_labels(starlet)
    assert labels[id(starlet.labware("reaction_block").get_well("H12"))] == "reaction_block:H12"


def test_rotation_matrices_are_plrs_for_every_angle():
    from pylabrobot.resources.rotation import Rotation

    from diazflow.deck.plr_cache import remembered_rotation_matrices

    angles = [(0, 0, 0), (0.0, -0.0, 0), (-0.0, -0.0, -0.0), (0, 0, 90), (10, 20, 45.5), (0, 0, 90)]
    plrs = [Rotation(*a).get_rotation_matrix() for a in angles]
    original = Rotation.get_rotation_matrix
    with remembered_rotation_matrices() as memo:
        for _ in range(2):
            remembered = [Rotation(*a).get_rotation_matrix() for a in angles]
            # equal including the signs of zeros (repr shows -0.0)
            assert repr(remembered) == repr(plrs)
        remembered[0][0][0] = 5.0  # a caller's change stays its own
        assert Rotation(0, 0, 0).get_rotation_matrix()[0][0] == 1.0
        assert len(memo) == 5  # -0.0 angles have entries of their own
    assert Rotation.get_rotation_matrix is original
