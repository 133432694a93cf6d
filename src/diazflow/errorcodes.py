"""The registry of diagnostic codes: each code defined once, with its stage, severity and summary.

Modelled on mypy's ``errorcodes.py``: call sites pass the code object (``codes.DF511``), never the
literal ``"DF511"``, so a typo is a NameError at import time rather than an undocumented code in a
user's terminal.  ``docs/diagnostics.md`` has one ``### DFnnn — summary`` heading per registered code
and ``tests/test_language_diagnostics_docs.py`` checks both directions.

Usage::

    from diazflow import errorcodes as codes

    reporter.error(path, codes.DF511, "no temperature control for ...", hint)

The string in a :class:`~diazflow.diagnostics.Diagnostic` (and so in every output format) stays
``ErrorCode.code``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


ERROR = Severity.ERROR
WARNING = Severity.WARNING


class Stage(str, Enum):
    """The pipeline stage that reports a code (``pipeline.check`` runs them in this order)."""

    INTERNAL = "internal"  # a bug in diazflow, caught and reported instead of a traceback
    LANGUAGE = "language"  # reading the file: YAML, schema, references, quantities
    CHEMISTRY = "chemistry"  # structures, amounts and volumes; solvents against the deck
    HAZARDS = "hazards"  # hazard rules, stage by stage
    DECK = "deck"  # loading the deck layout and its simulator profiles
    BINDING = "binding"  # the protocol against the deck: labware, wells, atmosphere, fill
    COMPILER = "compiler"  # placing the stocks and scheduling
    EXPORT = "export"  # writing a compiled plan in another robot's format (diazflow export)
    RESULTS = "results"  # analytical results imported onto a run (diazflow results)


@dataclass(frozen=True)
class ErrorCode:
    code: str
    """The stable string printed in every output format, e.g. ``"DF511"``."""
    stage: Stage
    default_severity: Severity
    """Most codes have one severity; a few (DF304, hazard rules) choose per finding."""
    summary: str
    """One line; the same text as the code's heading in docs/diagnostics.md."""

    def __str__(self) -> str:
        return self.code


REGISTRY: dict[str, ErrorCode] = {}
"""Every code, by its string."""


def _register(code: str, stage: Stage, severity: Severity, summary: str) -> ErrorCode:
    if code in REGISTRY:
        raise ValueError(f"diagnostic code {code} registered twice")
    REGISTRY[code] = ErrorCode(code, stage, severity, summary)
    return REGISTRY[code]


def lookup(code: ErrorCode | str) -> ErrorCode:
    """The registered code for ``code``; ``ValueError`` for a string nobody registered.

    Strings are accepted because some modules (and the hazard rules, which are data) still name
    codes by their string; they must still be registered.
    """
    if isinstance(code, ErrorCode):
        return code
    try:
        return REGISTRY[code]
    except KeyError:
        raise ValueError(f"unregistered diagnostic code {code!r}") from None


# --------------------------------------------------------------------------- DF000 internal

DF000 = _register("DF000", Stage.INTERNAL, ERROR, "a bug in diazflow")

# --------------------------------------------------------------------------- DF1xx schema

DF100 = _register("DF100", Stage.LANGUAGE, ERROR, "the file cannot be read as YAML")
DF101 = _register("DF101", Stage.LANGUAGE, ERROR, "unknown key")
DF102 = _register("DF102", Stage.LANGUAGE, ERROR, "missing key, or an empty file or list")
DF103 = _register("DF103", Stage.LANGUAGE, ERROR, "wrong type")
DF104 = _register("DF104", Stage.LANGUAGE, ERROR, "duplicate key")
DF105 = _register("DF105", Stage.LANGUAGE, ERROR, "YAML tag not allowed")
DF106 = _register("DF106", Stage.LANGUAGE, ERROR, "document too large")
DF107 = _register("DF107", Stage.LANGUAGE, ERROR, "unsupported language version")
DF108 = _register("DF108", Stage.LANGUAGE, ERROR, "undeclared reagent")
DF109 = _register("DF109", Stage.LANGUAGE, ERROR, "undeclared library")
DF110 = _register("DF110", Stage.LANGUAGE, ERROR, "reagent ids that differ only in case")
DF111 = _register("DF111", Stage.LANGUAGE, ERROR, "bad well name or range")
DF112 = _register("DF112", Stage.LANGUAGE, ERROR, "step wells outside the reaction wells")
DF113 = _register("DF113", Stage.LANGUAGE, ERROR, "library missing a used well")
DF115 = _register("DF115", Stage.LANGUAGE, ERROR, "unknown step kind")
DF116 = _register("DF116", Stage.LANGUAGE, ERROR, "exactly one of")
DF117 = _register("DF117", Stage.LANGUAGE, ERROR, "preloaded reagent misused")
DF118 = _register("DF118", Stage.LANGUAGE, ERROR, "library file problem")
DF119 = _register("DF119", Stage.LANGUAGE, ERROR, "a reagent key that does not apply to its form")
# DF120-DF129: designs (condition screens by factors, conditions tables; docs/language.md "Designs")
DF120 = _register(
    "DF120", Stage.LANGUAGE, ERROR, "a step names a factor the design does not declare"
)
DF121 = _register("DF121", Stage.LANGUAGE, ERROR, "a factor's levels do not cover the step's wells")
DF122 = _register("DF122", Stage.LANGUAGE, ERROR, "a well in two levels of one factor")
DF123 = _register("DF123", Stage.LANGUAGE, ERROR, "a block-wide setting varies between wells")
DF124 = _register("DF124", Stage.LANGUAGE, ERROR, "conditions table problem")
DF125 = _register("DF125", Stage.LANGUAGE, ERROR, "more conditions than reaction wells")
DF126 = _register("DF126", Stage.LANGUAGE, ERROR, "a factor where a step field cannot take one")
DF127 = _register("DF127", Stage.LANGUAGE, WARNING, "a factor no step uses")
DF128 = _register("DF128", Stage.LANGUAGE, ERROR, "a level's value is not valid where it is used")

# --------------------------------------------------------------------------- DF2xx units and quantities

DF201 = _register("DF201", Stage.LANGUAGE, ERROR, "missing unit")
DF202 = _register("DF202", Stage.LANGUAGE, ERROR, "wrong dimension")
DF203 = _register("DF203", Stage.LANGUAGE, ERROR, "unknown or ambiguous unit")
DF204 = _register("DF204", Stage.LANGUAGE, ERROR, "bad range")
DF205 = _register("DF205", Stage.LANGUAGE, ERROR, "value out of range")
DF206 = _register("DF206", Stage.LANGUAGE, ERROR, "unreadable quantity")

# --------------------------------------------------------------------------- DF3xx chemistry

DF300 = _register("DF300", Stage.CHEMISTRY, ERROR, "invalid SMILES")
DF301 = _register("DF301", Stage.CHEMISTRY, ERROR, "the solvent freezes")
DF302 = _register("DF302", Stage.CHEMISTRY, ERROR, "the solvent boils in an open vessel")
DF303 = _register("DF303", Stage.CHEMISTRY, ERROR, "reflux in an open vessel")
DF304 = _register("DF304", Stage.CHEMISTRY, ERROR, "the solvent attacks the labware")
DF305 = _register("DF305", Stage.CHEMISTRY, ERROR, "a solid handled as a liquid")
DF306 = _register(
    "DF306", Stage.CHEMISTRY, WARNING, "the reaction does not run at the concentration asked for"
)
DF307 = _register("DF307", Stage.CHEMISTRY, ERROR, "a volume cannot be computed")
DF308 = _register("DF308", Stage.CHEMISTRY, WARNING, "unknown solvent")
DF309 = _register("DF309", Stage.CHEMISTRY, ERROR, "no molecular weight")
DF310 = _register(
    "DF310",
    Stage.CHEMISTRY,
    ERROR,
    "the wells already hold more than the target concentration allows",
)
DF311 = _register("DF311", Stage.CHEMISTRY, ERROR, "no liquid class for a liquid")
DF312 = _register("DF312", Stage.CHEMISTRY, ERROR, "a stock more concentrated than the neat liquid")
DF320 = _register("DF320", Stage.CHEMISTRY, WARNING, "a given density far from the property data")
DF313 = _register(
    "DF313", Stage.CHEMISTRY, ERROR, "a reagent that reacts with its own stock solvent"
)
DF321 = _register("DF321", Stage.CHEMISTRY, ERROR, "a premixed stock lists the same compound twice")
DF322 = _register(
    "DF322", Stage.CHEMISTRY, ERROR, "other solutes in a stock without its own concentration"
)
DF323 = _register("DF323", Stage.CHEMISTRY, ERROR, "two solutes of one stock react together")
DF324 = _register(
    "DF324", Stage.CHEMISTRY, ERROR, "a premixed stock's liquid solutes fill more than its volume"
)
DF325 = _register(
    "DF325", Stage.CHEMISTRY, WARNING, "a premixed solute is also added as a reagent of its own"
)

# --------------------------------------------------------------------------- DF4xx hazards (rules in
# chemistry/data/hazards.yaml name these codes)

DF401 = _register("DF401", Stage.HAZARDS, WARNING, "cyanoborohydride with acid")
DF402 = _register("DF402", Stage.HAZARDS, WARNING, "sodium hydride with water or alcohols")
DF403 = _register("DF403", Stage.HAZARDS, WARNING, "gas in a sealed vessel")
DF404 = _register("DF404", Stage.HAZARDS, WARNING, "inert atmosphere needed but not available")
DF410 = _register(
    "DF410",
    Stage.HAZARDS,
    WARNING,
    "a water-reactive hydride or organometallic with water or alcohols",
)
DF411 = _register(
    "DF411", Stage.HAZARDS, WARNING, "an acid halide or anhydride in an alcohol or water"
)
DF412 = _register(
    "DF412", Stage.HAZARDS, WARNING, "sodium hydride in DMF, DMAc or DMSO above 50 °C"
)
DF413 = _register("DF413", Stage.HAZARDS, WARNING, "a ruthenium metathesis catalyst in DMSO")
DF414 = _register("DF414", Stage.HAZARDS, WARNING, "an azide salt with acid (hydrazoic acid)")
DF415 = _register("DF415", Stage.HAZARDS, ERROR, "an azide salt with dichloromethane or chloroform")
DF416 = _register("DF416", Stage.HAZARDS, WARNING, "an organic azide heated above 80 °C")
DF417 = _register(
    "DF417", Stage.HAZARDS, WARNING, "a peroxide-forming ether heated in an open vessel"
)
DF418 = _register(
    "DF418", Stage.HAZARDS, WARNING, "a strong oxidant with a reducing agent or oxidisable solvent"
)
DF419 = _register("DF419", Stage.HAZARDS, WARNING, "hypochlorite with amines, ammonium or acid")
DF430 = _register(
    "DF430", Stage.HAZARDS, WARNING, "a sample taken above its solvent's boiling point"
)
DF431 = _register("DF431", Stage.HAZARDS, WARNING, "a sample taken while a toxic gas is released")
# DF420: numbered apart from the hazard rules' DF40x and DF41x, which grow with the rule data
DF420 = _register(
    "DF420", Stage.HAZARDS, WARNING, "closed-vessel pressure above the vessel's rating"
)

# --------------------------------------------------------------------------- DF5xx deck and robot

DF500 = _register("DF500", Stage.DECK, ERROR, "invalid deck layout")
DF501 = _register("DF501", Stage.DECK, ERROR, "unknown PyLabRobot name")
DF510 = _register("DF510", Stage.BINDING, ERROR, "labware not on the deck")
DF511 = _register("DF511", Stage.COMPILER, ERROR, "no temperature control for the reaction labware")
DF512 = _register("DF512", Stage.COMPILER, ERROR, "temperature outside the module's range")
DF513 = _register("DF513", Stage.COMPILER, ERROR, "the module cannot cool")
DF514 = _register("DF514", Stage.COMPILER, ERROR, "stirring without a shaker")
DF515 = _register("DF515", Stage.COMPILER, ERROR, "no powder dispenser")
DF516 = _register("DF516", Stage.BINDING, ERROR, "wells overfilled")
DF517 = _register("DF517", Stage.COMPILER, ERROR, "volume too small to pipette")
DF518 = _register("DF518", Stage.COMPILER, ERROR, "not enough reagent reservoirs")
DF519 = _register("DF519", Stage.COMPILER, ERROR, "no room on the building-block plate")
DF520 = _register("DF520", Stage.COMPILER, ERROR, "not enough tips")
DF521 = _register("DF521", Stage.COMPILER, ERROR, "a reservoir or source well is too small")
DF522 = _register(
    "DF522", Stage.BINDING, ERROR, "inert atmosphere requested on a deck that has none"
)
DF523 = _register("DF523", Stage.COMPILER, ERROR, "not enough sample positions")
DF524 = _register("DF524", Stage.BINDING, ERROR, "wells outside the labware")
DF525 = _register("DF525", Stage.DECK, ERROR, "no deck layout")
DF526 = _register("DF526", Stage.COMPILER, ERROR, "stirring speed outside the shaker's range")
DF527 = _register("DF527", Stage.COMPILER, ERROR, "samples into labware that is not a sample plate")
DF530 = _register("DF530", Stage.BINDING, ERROR, "an addition into a capped or vented vessel")
DF531 = _register("DF531", Stage.BINDING, ERROR, "a closure step on labware that takes no caps")
DF532 = _register("DF532", Stage.BINDING, WARNING, "a closure step that changes nothing")
DF528 = _register("DF528", Stage.BINDING, ERROR, "a condition's volume too small to pipette")
DF529 = _register("DF529", Stage.BINDING, ERROR, "a condition overfills its well")
# DF540 onwards: `diazflow export --to opentrons` (diazflow.export; DF54x is kept for exports)
DF540 = _register("DF540", Stage.EXPORT, ERROR, "an Opentrons export of a deck that is not an OT-2")
DF541 = _register("DF541", Stage.EXPORT, ERROR, "labware with no Opentrons definition")
DF542 = _register(
    "DF542", Stage.EXPORT, ERROR, "a module or operation an Opentrons protocol cannot express"
)
# DF543 onwards: `diazflow export --to ord` (an Open Reaction Database dataset from a run journal)
DF543 = _register("DF543", Stage.EXPORT, ERROR, "an ORD export of a run that is not complete")
DF544 = _register(
    "DF544", Stage.EXPORT, ERROR, "a file the run was compiled from is missing or changed"
)
DF545 = _register("DF545", Stage.EXPORT, WARNING, "an ORD export without results")
DF546 = _register("DF546", Stage.EXPORT, WARNING, "an ORD export of a simulated run")

# --------------------------------------------------------------------------- DF6xx timing

DF601 = _register("DF601", Stage.COMPILER, ERROR, "dropwise window too short")
DF602 = _register("DF602", Stage.COMPILER, ERROR, "powder portions do not fit")
DF603 = _register("DF603", Stage.COMPILER, ERROR, "temperature ramp faster than the module")
DF604 = _register("DF604", Stage.COMPILER, ERROR, "sampling or dropwise timing impossible")
DF605 = _register("DF605", Stage.COMPILER, ERROR, "`keep_below` without cooling")
DF606 = _register("DF606", Stage.COMPILER, ERROR, "a solid added dropwise")
# DF61x: drift over time (evaporation), compiler/evaporation.py
DF610 = _register("DF610", Stage.COMPILER, WARNING, "a stock drifts by evaporation")
DF611 = _register("DF611", Stage.COMPILER, WARNING, "reaction wells lose liquid to evaporation")
DF612 = _register("DF612", Stage.COMPILER, ERROR, "a 'place:' step the plan cannot honour")
DF620 = _register("DF620", Stage.COMPILER, WARNING, "the operator is needed outside working hours")

# --------------------------------------------------------------------------- DF70x results
# DF700-DF719: `diazflow results JOURNAL results.csv` (diazflow.results), at the CSV's lines
DF700 = _register("DF700", Stage.RESULTS, ERROR, "the results file cannot be read")
DF701 = _register("DF701", Stage.RESULTS, ERROR, "no well column in the results")
DF702 = _register("DF702", Stage.RESULTS, ERROR, "no result columns in the results")
DF703 = _register("DF703", Stage.RESULTS, WARNING, "an unknown column in the results")
DF704 = _register("DF704", Stage.RESULTS, ERROR, "two columns for the same result")
DF705 = _register("DF705", Stage.RESULTS, ERROR, "not a well name")
DF706 = _register(
    "DF706", Stage.RESULTS, ERROR, "a well that is not one of the run's reaction wells"
)
DF707 = _register("DF707", Stage.RESULTS, ERROR, "a well listed twice")
DF708 = _register("DF708", Stage.RESULTS, ERROR, "a result that is not a finite number")
DF709 = _register("DF709", Stage.RESULTS, ERROR, "a percentage outside 0-100")
DF710 = _register("DF710", Stage.RESULTS, ERROR, "a row with more cells than the header")
DF711 = _register("DF711", Stage.RESULTS, WARNING, "a well without any result")
DF712 = _register("DF712", Stage.RESULTS, WARNING, "results for a run that did not complete")
