"""Hazard rules (DF4xx), evaluated from data/hazards.yaml.

Two steps, both driven by the YAML file:

1. :func:`classify` gives each reagent a set of *tags* (``borohydride``, ``acid``,
   ``sodium_hydride``, ...) from RDKit SMARTS matches on its SMILES and regular expressions on its
   name;
2. :func:`evaluate` checks every rule's ``when`` condition against a :class:`HazardContext` (the
   reagents' tags, the solvents' tags, which reagents are quenches, and whether the vessel is
   sealed and the deck inert) and returns :class:`HazardFinding` values.

This module depends on no other part of diazflow, so the rules can be exercised on their own::

    >>> ctx = HazardContext(reagents={"cbh": classify("[Na+].[BH3-]C#N", None),
    ...                               "acoh": classify("CC(=O)O", "acetic acid")})
    >>> [f.code for f in evaluate(ctx)]
    ['DF401']

RDKit is imported on the first :func:`classify` call that has a SMILES; the SMARTS patterns are
compiled once.
"""

from __future__ import annotations

import itertools
import re
import string
import unicodedata
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from diazflow.chemistry.molecules import rdkit_molecule

CONTEXT_FLAGS = ("vessel_sealed", "deck_inert", "atmosphere_requested_inert", "stock_solution")
SCOPES = ("reagents", "quench", "solvents")
SEVERITIES = ("warning", "error")
_CODE = re.compile(r"^DF4\d\d$")
_STOCK_CODE = re.compile(r"^DF3\d\d$")  # a reagent against its own stock solvent is chemistry
_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2212"), "-")


class HazardDataError(ValueError):
    """hazards.yaml is malformed (a bug in the data file, caught by the test suite)."""


# --------------------------------------------------------------------------- public types


@dataclass(frozen=True)
class HazardContext:
    """What the rules look at.

    ``reagents``: reagent id → tags (from :func:`classify`; give a library reagent the union of
    its members' tags, and a solution the tags of its solvent too, e.g. ``aqueous``).
    ``solvents``: tags of the reaction solvents (``classify(None, "MeOH")``).
    ``quench_reagents``: ids of the reagents used in ``quench`` steps.
    ``labels``: optional reagent id → display name, for messages.
    """

    reagents: Mapping[str, frozenset[str]] = field(default_factory=dict)
    solvents: frozenset[str] = frozenset()
    quench_reagents: frozenset[str] = frozenset()
    vessel_sealed: bool = False
    deck_inert: bool = False
    atmosphere_requested_inert: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)
    stock_solution: bool = False
    """True when ``reagents`` is one reagent and ``solvents`` its stock solvent: only the rules
    with ``stock_solution: true`` are about that (:func:`evaluate_stock`)."""
    temperature_c: float | None = None
    """The vessel's temperature at the step evaluated; ``None`` when temperature is not
    considered (then no ``above_celsius`` condition holds)."""
    members: Mapping[str, Mapping[str, frozenset[str]]] = field(default_factory=dict)
    """Library reagent id → member label (e.g. ``"'B7' (tert-butyl piperazine-1-carboxylate)"``)
    → that member's tags.  A rule is then evaluated with one member of each library at a time,
    so a finding holds only for a combination of members, and names the members that trigger it
    (a well holds one member of each library; every combination of the libraries' members is
    taken to meet in some well, as in a row-by-column grid)."""


@dataclass(frozen=True, order=True)
class HazardFinding:
    code: str
    message: str
    hint: str
    reagents: tuple[str, ...]  # ids of the reagents that triggered the rule, sorted
    rule: str = ""  # the rule's id in hazards.yaml
    title: str = ""
    why: str = ""
    severity: str = "warning"
    toxic_gas: str | None = None
    """The toxic gas the hazard releases into the vessel's headspace (``toxic_gas:`` in
    hazards.yaml), or None."""
    members: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(library reagent id, labels of the members that trigger the finding), sorted by id."""


@dataclass(frozen=True)
class TagDefinition:
    name: str
    description: str
    smarts: tuple[str, ...]
    # the name patterns as one alternation (None: no names): a single search per name instead of
    # one per pattern (the patterns hold no back-references, and their flags are scoped)
    any_name: re.Pattern[str] | None
    implies: tuple[str, ...]
    max_heavy_atoms: int | None


# --------------------------------------------------------------------------- conditions


@dataclass(frozen=True)
class _TagTest:
    all_of: frozenset[str]
    any_of: frozenset[str]
    none_of: frozenset[str]

    def evaluate(self, members: Mapping[str, frozenset[str]]) -> tuple[bool, set[str]]:
        """(holds, ids of the members whose tags made it hold)."""
        matched: set[str] = set()
        for tag in self.all_of:
            carriers = {m for m, tags in members.items() if tag in tags}
            if not carriers:
                return False, set()
            matched |= carriers
        if self.any_of:
            carriers = {m for m, tags in members.items() if tags & self.any_of}
            if not carriers:
                return False, set()
            matched |= carriers
        if any(tags & self.none_of for tags in members.values()):
            return False, set()
        return True, matched


@dataclass(frozen=True)
class _Condition:
    tests: tuple[tuple[str, _TagTest], ...]  # (scope, test)
    flags: tuple[tuple[str, bool], ...]
    all: tuple[_Condition, ...]
    any: tuple[_Condition, ...]
    bind: str | None  # the `as` name
    above_celsius: float | None = None

    def evaluate(
        self, ctx: HazardContext, tags_of: Mapping[str, Mapping[str, frozenset[str]]]
    ) -> tuple[bool, dict[str, set[str]]]:
        """(holds, bindings); bindings map each `as` name, and "reagents", to reagent ids."""
        for flag, expected in self.flags:
            if bool(getattr(ctx, flag)) is not expected:
                return False, {}
        if self.above_celsius is not None and not (
            ctx.temperature_c is not None and ctx.temperature_c > self.above_celsius
        ):
            return False, {}
        matched: set[str] = set()
        for scope, test in self.tests:
            ok, ids = test.evaluate(tags_of[scope])
            if not ok:
                return False, {}
            if scope != "solvents":
                matched |= ids
        bindings: dict[str, set[str]] = {"reagents": set(matched)}
        if self.bind:
            bindings[self.bind] = set(matched)
        for child in self.all:
            ok, child_bindings = child.evaluate(ctx, tags_of)
            if not ok:
                return False, {}
            _merge(bindings, child_bindings)
        if self.any:
            results = [child.evaluate(ctx, tags_of) for child in self.any]
            if not any(ok for ok, _ in results):
                return False, {}
            for ok, child_bindings in results:
                if ok:
                    _merge(bindings, child_bindings)
        return True, bindings


def _merge(into: dict[str, set[str]], other: Mapping[str, set[str]]) -> None:
    for name, ids in other.items():
        into.setdefault(name, set()).update(ids)


GAS_SPECIES = ("H2", "CO2", "isobutylene", "ethylene", "CH4")


@dataclass(frozen=True)
class GasRelease:
    """A rule's ``gas:`` entry: ``species`` evolved, ``per`` maps an ``as`` name of the rule to
    the moles of gas per mole of the reagents bound to it; with several names the smallest
    product is the gas (the limiting partner: H2 from NaBH4 and AcOH is bounded by both)."""

    species: str
    per: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class EvolvedGas:
    """A gas a rule that holds releases: ``per`` pairs each bound group of reagent ids with its
    moles of gas per mole (see :class:`GasRelease`)."""

    rule: str
    species: str
    per: tuple[tuple[tuple[str, ...], float], ...]


@dataclass(frozen=True)
class HazardRule:
    id: str
    code: str
    title: str
    severity: str
    when: _Condition
    message: str
    why: str
    hint: str
    toxic_gas: str | None = None
    gas: tuple[GasRelease, ...] = ()

    @property
    def about_stock(self) -> bool:
        """A rule about a reagent in its own stock solvent (``stock_solution: true`` at the top
        of its ``when``)."""
        return ("stock_solution", True) in self.when.flags


@dataclass(frozen=True)
class HazardData:
    tags: Mapping[str, TagDefinition]
    rules: tuple[HazardRule, ...]


# --------------------------------------------------------------------------- loading


# libyaml's parser reads the 38 KB rule file ~10x faster than PyYAML's Python one (0.1-0.2 s of
# every validate); the constructor is the same safe one, so the data are the same
_SafeBase: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictLoader(_SafeBase):
    """Safe loading, and a duplicate key is an error (PyYAML would silently keep the last)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise HazardDataError(
                f"hazards.yaml line {key_node.start_mark.line + 1}: duplicate key '{key}'"
            )
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _check_keys(
    where: str, mapping: Any, allowed: set[str], required: AbstractSet[str] = frozenset()
) -> None:
    if not isinstance(mapping, dict):
        raise HazardDataError(f"{where}: expected a mapping, got {type(mapping).__name__}")
    unknown = set(mapping) - allowed
    if unknown:
        raise HazardDataError(
            f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}"
        )
    missing = required - set(mapping)
    if missing:
        raise HazardDataError(f"{where}: missing key(s) {sorted(missing)}")


_BACK_REFERENCE = re.compile(r"\\[1-9]|\(\?P=")


def _parse_tag(name: str, spec: Any) -> TagDefinition:
    where = f"tag '{name}'"
    _check_keys(
        where,
        spec,
        {"description", "smarts", "names", "implies", "max_heavy_atoms"},
        {"description"},
    )
    patterns: list[str] = []
    for regex in spec.get("names", ()):
        if _BACK_REFERENCE.search(regex):  # they would point at the wrong group in any_name
            raise HazardDataError(f"{where}: name pattern {regex!r} uses a back-reference")
        try:  # each on its own first: an error names the pattern
            re.compile(regex, re.IGNORECASE)
        except re.error as exc:
            raise HazardDataError(f"{where}: bad name pattern {regex!r}: {exc}") from None
        patterns.append(regex)
    return TagDefinition(
        name=name,
        description=str(spec["description"]),
        smarts=tuple(spec.get("smarts", ())),
        any_name=(
            re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE) if patterns else None
        ),
        implies=tuple(spec.get("implies", ())),
        max_heavy_atoms=spec.get("max_heavy_atoms"),
    )


def _parse_tag_test(where: str, spec: Any, tags: Mapping[str, TagDefinition]) -> _TagTest:
    _check_keys(where, spec, {"all_of", "any_of", "none_of"})
    if not spec:
        raise HazardDataError(f"{where}: empty tag test")
    parts = {}
    for key in ("all_of", "any_of", "none_of"):
        names = spec.get(key, [])
        unknown = [t for t in names if t not in tags]
        if unknown:
            raise HazardDataError(f"{where}.{key}: unknown tag(s) {unknown}")
        parts[key] = frozenset(names)
    return _TagTest(**parts)


def _parse_condition(where: str, spec: Any, tags: Mapping[str, TagDefinition]) -> _Condition:
    _check_keys(where, spec, {*SCOPES, *CONTEXT_FLAGS, "all", "any", "as", "above_celsius"})
    tests = tuple(
        (scope, _parse_tag_test(f"{where}.{scope}", spec[scope], tags))
        for scope in SCOPES
        if scope in spec
    )
    flags = []
    for flag in CONTEXT_FLAGS:
        if flag in spec:
            if not isinstance(spec[flag], bool):
                raise HazardDataError(f"{where}.{flag}: expected true or false")
            flags.append((flag, spec[flag]))
    above = spec.get("above_celsius")
    if above is not None and (isinstance(above, bool) or not isinstance(above, (int, float))):
        raise HazardDataError(f"{where}.above_celsius: expected a number of degrees Celsius")
    bind = spec.get("as")
    if bind is not None:
        bound_scopes = [s for s, _ in tests if s != "solvents"]
        if len(bound_scopes) != 1:
            raise HazardDataError(
                f"{where}: 'as' needs exactly one 'reagents' or 'quench' test in the same mapping"
            )
        if not str(bind).isidentifier() or bind == "reagents":
            raise HazardDataError(
                f"{where}: 'as: {bind}' must be an identifier other than 'reagents'"
            )
    children = {}
    for key in ("all", "any"):
        items = spec.get(key, [])
        if not isinstance(items, list):
            raise HazardDataError(f"{where}.{key}: expected a list of conditions")
        children[key] = tuple(
            _parse_condition(f"{where}.{key}[{i}]", item, tags) for i, item in enumerate(items)
        )
    return _Condition(
        tests=tests,
        flags=tuple(flags),
        all=children["all"],
        any=children["any"],
        bind=bind,
        above_celsius=None if above is None else float(above),
    )


def _bound_names(cond: _Condition) -> set[str]:
    names = {cond.bind} if cond.bind else set()
    for child in (*cond.all, *cond.any):
        names |= _bound_names(child)
    return names


def _parse_rule(index: int, spec: Any, tags: Mapping[str, TagDefinition]) -> HazardRule:
    where = f"rules[{index}]"
    _check_keys(
        where,
        spec,
        {"id", "code", "title", "severity", "when", "message", "why", "hint", "toxic_gas", "gas"},
        {"id", "code", "title", "when", "message", "why", "hint"},
    )
    where = f"rule '{spec['id']}'"
    stock_rule = isinstance(spec["when"], dict) and spec["when"].get("stock_solution") is True
    if stock_rule and not _STOCK_CODE.match(str(spec["code"])):
        raise HazardDataError(
            f"{where}: a stock_solution rule's code '{spec['code']}' is not DF3xx"
        )
    if not stock_rule and not _CODE.match(str(spec["code"])):
        raise HazardDataError(f"{where}: code '{spec['code']}' is not DF4xx")
    severity = spec.get("severity", "warning")
    if severity not in SEVERITIES:
        raise HazardDataError(f"{where}: severity '{severity}' is not one of {SEVERITIES}")
    when = _parse_condition(f"{where}.when", spec["when"], tags)
    bound = _bound_names(when) | {"reagents"}
    placeholders = {
        fname for _, fname, _, _ in string.Formatter().parse(spec["message"]) if fname is not None
    }
    if placeholders - bound:
        raise HazardDataError(
            f"{where}: message uses {sorted(placeholders - bound)}, not bound by any 'as'"
        )
    return HazardRule(
        id=str(spec["id"]),
        code=str(spec["code"]),
        title=str(spec["title"]),
        severity=severity,
        when=when,
        message=str(spec["message"]),
        why=" ".join(str(spec["why"]).split()),
        hint=" ".join(str(spec["hint"]).split()),
        toxic_gas=None if spec.get("toxic_gas") is None else str(spec["toxic_gas"]),
        gas=_parse_gas(where, spec.get("gas", []), bound - {"reagents"}),
    )


def _parse_gas(where: str, spec: Any, bound: set[str]) -> tuple[GasRelease, ...]:
    """``gas: [{species: H2, per: {hydride: 4, acids: 1}}, ...]``."""
    if not isinstance(spec, list):
        raise HazardDataError(f"{where}.gas: expected a list")
    out = []
    for n, entry in enumerate(spec):
        here = f"{where}.gas[{n}]"
        _check_keys(here, entry, {"species", "per"}, {"species", "per"})
        if entry["species"] not in GAS_SPECIES:
            raise HazardDataError(f"{here}: species '{entry['species']}' not in {GAS_SPECIES}")
        per = entry["per"]
        if not isinstance(per, dict) or not per:
            raise HazardDataError(f"{here}.per: expected a mapping of 'as' names to mol/mol")
        for name, mol in per.items():
            if name not in bound:
                raise HazardDataError(f"{here}.per: '{name}' is not bound by any 'as'")
            if isinstance(mol, bool) or not isinstance(mol, (int, float)) or mol <= 0:
                raise HazardDataError(f"{here}.per.{name}: expected a positive number")
        out.append(
            GasRelease(str(entry["species"]), tuple((str(k), float(v)) for k, v in per.items()))
        )
    return tuple(out)


def parse_hazard_data(text: str) -> HazardData:
    """Parse and validate a hazards.yaml document (raises :class:`HazardDataError`)."""
    data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    _check_keys("hazards.yaml", data, {"version", "tags", "rules"}, {"version", "tags", "rules"})
    if data["version"] != 1:
        raise HazardDataError(f"hazards.yaml: version {data['version']} is not supported")
    tags = {name: _parse_tag(name, spec) for name, spec in data["tags"].items()}
    for tag in tags.values():
        unknown = [t for t in tag.implies if t not in tags]
        if unknown:
            raise HazardDataError(f"tag '{tag.name}': implies unknown tag(s) {unknown}")
    rules = tuple(_parse_rule(i, spec, tags) for i, spec in enumerate(data["rules"]))
    ids = [r.id for r in rules]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise HazardDataError(f"hazards.yaml: duplicate rule id(s) {duplicates}")
    return HazardData(tags=tags, rules=rules)


@lru_cache(maxsize=1)
def hazard_data() -> HazardData:
    """The shipped rules and tag definitions (parsed once)."""
    text = (
        resources.files("diazflow.chemistry")
        .joinpath("data")
        .joinpath("hazards.yaml")
        .read_text(encoding="utf-8")
    )
    return parse_hazard_data(text)


# --------------------------------------------------------------------------- classification


@lru_cache(maxsize=1)
def _compiled_smarts() -> tuple[tuple[str, tuple[Any, ...], int | None], ...]:
    """(tag, compiled SMARTS patterns, max heavy atoms) for every tag that has SMARTS."""
    from rdkit import Chem, rdBase

    rdBase.DisableLog("rdApp.*")  # a bad pattern is our error below, not a line on stderr
    out = []
    for tag in hazard_data().tags.values():
        if not tag.smarts:
            continue
        patterns = []
        for smarts in tag.smarts:
            pattern = Chem.MolFromSmarts(smarts)
            if pattern is None:
                raise HazardDataError(f"tag '{tag.name}': RDKit cannot parse SMARTS {smarts!r}")
            patterns.append(pattern)
        out.append((tag.name, tuple(patterns), tag.max_heavy_atoms))
    return tuple(out)


def implied_closure(tags: Iterable[str]) -> frozenset[str]:
    """``tags`` plus everything they imply, transitively."""
    definitions = hazard_data().tags
    result = set(tags)
    stack = list(result)
    while stack:
        tag = stack.pop()
        for implied in definitions[tag].implies if tag in definitions else ():
            if implied not in result:
                result.add(implied)
                stack.append(implied)
    return frozenset(result)


def _tags_from_smiles(smiles: str) -> set[str]:
    mol = rdkit_molecule(smiles.strip())  # parsed once for the amounts and the hazards alike
    if mol is None:
        return set()  # an invalid SMILES is reported elsewhere (DF300); the name may still classify
    heavy_atoms = mol.GetNumHeavyAtoms()
    return {
        tag
        for tag, patterns, max_heavy in _compiled_smarts()
        if (max_heavy is None or heavy_atoms <= max_heavy)
        and any(mol.HasSubstructMatch(p) for p in patterns)
    }


def _tags_from_name(name: str) -> set[str]:
    text = unicodedata.normalize("NFKC", name).translate(_DASHES)
    return {
        tag.name
        for tag in hazard_data().tags.values()
        if tag.any_name is not None and tag.any_name.search(text)
    }


@lru_cache(maxsize=4096)
def classify(smiles: str | None, name: str | None) -> frozenset[str]:
    """The hazard tags of a reagent, from its SMILES and/or its name (the union of both).

    An unparsable SMILES contributes nothing.  Implied tags are included.
    """
    tags: set[str] = set()
    if smiles and smiles.strip():
        tags |= _tags_from_smiles(smiles)
    if name and name.strip():
        tags |= _tags_from_name(name)
    return implied_closure(tags)


def solvent_tags(solvents: str | Iterable[str]) -> frozenset[str]:
    """The tags of one solvent or several together: ``"MeOH"`` or ``["MeOH", "DCM"]`` →
    ``{"protic_solvent"}``.

    A mixture written "MeOH/CHCl3 1:1" is split on "/"; the ratio after the space is ignored.
    """
    if isinstance(solvents, str):  # a str is an Iterable[str] of characters: never iterate it
        solvents = [solvents]
    tags: set[str] = set()
    for solvent in solvents:
        text = solvent.strip()
        first_word = text.split(" ")[0]
        head = first_word if "/" in first_word else text
        for part in head.split("/"):
            tags |= classify(None, part.strip())
    return frozenset(tags)


# --------------------------------------------------------------------------- evaluation


def _describe(
    ids: Iterable[str], labels: Mapping[str, str], members: Mapping[str, tuple[str, ...]]
) -> str:
    parts = []
    for rid in sorted(ids):
        label = labels.get(rid)
        details = [label] if label and label != rid else []
        if members.get(rid):
            details.append(_describe_members(members[rid]))
        parts.append(f"'{rid}' ({', '.join(details)})" if details else f"'{rid}'")
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


_MEMBERS_NAMED = 3  # more members than this are counted, not listed


def _describe_members(labels: tuple[str, ...]) -> str:
    if len(labels) == 1:
        return f"member {labels[0]}"
    named = ", ".join(labels[:_MEMBERS_NAMED])
    more = len(labels) - _MEMBERS_NAMED
    return f"members {named}" + (f" and {more} more" if more > 0 else "")


def _variants(
    ctx: HazardContext, reagents: Mapping[str, frozenset[str]]
) -> list[tuple[dict[str, frozenset[str]], dict[str, tuple[str, ...]]]]:
    """Each combination of library members, as (reagent id → tags, library reagent id → the
    labels of the members that share those tags).  Members with the same tags are one choice."""
    choices = []
    for rid in sorted(r for r in ctx.members if r in reagents and ctx.members[r]):
        groups: dict[frozenset[str], list[str]] = {}
        for label, tags in ctx.members[rid].items():
            groups.setdefault(implied_closure(tags), []).append(label)
        choices.append([(rid, tags, tuple(labels)) for tags, labels in groups.items()])
    variants = []
    for combination in itertools.product(*choices):
        tags_now = dict(reagents)
        who: dict[str, tuple[str, ...]] = {}
        for rid, tags, labels in combination:
            tags_now[rid] = tags
            who[rid] = labels
        variants.append((tags_now, who))
    return variants


def evaluate_stock(
    reagent_id: str,
    tags: frozenset[str],
    stock_solvent: str | Iterable[str],
    labels: Mapping[str, str] | None = None,
    data: HazardData | None = None,
    members: Mapping[str, frozenset[str]] | None = None,
) -> list[HazardFinding]:
    """The findings of the ``stock_solution`` rules (DF3xx errors) for one reagent dissolved in
    its stock solvent: a reagent that reacts with the solvent it is kept in."""
    data = data or hazard_data()
    stock_rules = HazardData(tags=data.tags, rules=tuple(r for r in data.rules if r.about_stock))
    ctx = HazardContext(
        reagents={reagent_id: tags},
        solvents=solvent_tags(stock_solvent),
        stock_solution=True,
        labels=labels or {},
        members={reagent_id: members} if members else {},
    )
    return evaluate(ctx, stock_rules)


def _scopes(ctx: HazardContext) -> dict[str, dict[str, frozenset[str]]]:
    reagents = {rid: implied_closure(tags) for rid, tags in ctx.reagents.items()}
    return {
        "reagents": reagents,
        "quench": {rid: tags for rid, tags in reagents.items() if rid in ctx.quench_reagents},
        "solvents": {"": implied_closure(ctx.solvents)},
    }


def evolved_gases(ctx: HazardContext, data: HazardData | None = None) -> list[EvolvedGas]:
    """The gases of every rule with a ``gas:`` entry that holds in ``ctx``, with the reagent ids
    each amount is counted from; sorted by rule and species."""
    data = data or hazard_data()
    tags_of = _scopes(ctx)
    out = []
    for rule in data.rules:
        if not rule.gas:
            continue
        ok, bindings = rule.when.evaluate(ctx, tags_of)
        if not ok:
            continue
        for release in rule.gas:
            per = tuple((tuple(sorted(bindings.get(name, ()))), mol) for name, mol in release.per)
            out.append(EvolvedGas(rule.id, release.species, per))
    return sorted(out, key=lambda g: (g.rule, g.species))


def evaluate(ctx: HazardContext, data: HazardData | None = None) -> list[HazardFinding]:
    """Every rule that applies to ``ctx``, sorted by code, reagents and message."""
    data = data or hazard_data()
    reagents = {rid: implied_closure(tags) for rid, tags in ctx.reagents.items()}
    solvents = {"": implied_closure(ctx.solvents)}
    variants = [
        (
            {
                "reagents": tags_now,
                "quench": {rid: t for rid, t in tags_now.items() if rid in ctx.quench_reagents},
                "solvents": solvents,
            },
            who,
        )
        for tags_now, who in _variants(ctx, reagents)
    ]
    findings = set()
    for rule in data.rules:
        held = False
        bindings: dict[str, set[str]] = {}
        members: dict[str, list[str]] = {}
        for tags_of, who in variants:
            ok, variant_bindings = rule.when.evaluate(ctx, tags_of)
            if not ok:
                continue
            held = True
            _merge(bindings, variant_bindings)
            for rid, labels in who.items():
                if rid in variant_bindings.get("reagents", ()):
                    members.setdefault(rid, []).extend(
                        label for label in labels if label not in members[rid]
                    )
        if not held:
            continue
        ordered = {rid: _in_member_order(ctx, rid, labels) for rid, labels in members.items()}
        words = {name: _describe(ids, ctx.labels, ordered) for name, ids in bindings.items()}
        findings.add(
            HazardFinding(
                code=rule.code,
                message=rule.message.format_map(words),
                hint=rule.hint,
                reagents=tuple(sorted(bindings.get("reagents", ()))),
                rule=rule.id,
                title=rule.title,
                why=rule.why,
                severity=rule.severity,
                toxic_gas=rule.toxic_gas,
                members=tuple(sorted(ordered.items())),
            )
        )
    return sorted(findings)


def _in_member_order(ctx: HazardContext, rid: str, labels: list[str]) -> tuple[str, ...]:
    chosen = set(labels)
    return tuple(label for label in ctx.members[rid] if label in chosen)
