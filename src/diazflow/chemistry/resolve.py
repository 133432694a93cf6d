"""Resolve a loaded protocol to real chemistry: molecules, stock forms and per-well amounts.

For every addition and every reaction well this computes what a chemist would by hand::

    µmol = equiv × limiting µmol            (or the amount/volume given)
    µL   = µmol / stock concentration (M)   (1 M = 1 µmol/µL)
    µL   = µmol × MW / 1000 / density       (neat liquid; mg / (g/mL) = µL)
    mg   = µmol × MW / 1000                 (solid)

and the volume in each well after each step, so that later stages can check fill limits,
concentrations and quench volumes.  The result is immutable; diagnostics carry DF3xx codes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from diazflow import errorcodes as codes
from diazflow.chemistry import properties
from diazflow.chemistry.molecules import SmilesError, parse_smiles
from diazflow.diagnostics import Diagnostic, Position, Reporter
from diazflow.language import models as m
from diazflow.language.loader import LibraryMember, LoadedProtocol
from diazflow.language.quantities import Dimension, Quantity, QuantityRange
from diazflow.language.wells import Well

CONCENTRATION_TOLERANCE = 0.20
"""Spec §3: warn when the reaction volume misses scale.concentration by more than 20 %."""


def resolve_equiv(q: Quantity | QuantityRange) -> float:
    """A stoichiometry range is resolved to its midpoint (documented in docs/language.md)."""
    if isinstance(q, QuantityRange):
        return (q.low.value + q.high.value) / 2
    return q.value


SOLVENT_PREFIX = "solvent:"
"""The reagent id of an ``add_solvent``'s solvent is this prefix and the solvent's name."""


@dataclass(frozen=True)
class Substance:
    """What goes into a well under one reagent id: either the reagent or one library member."""

    name: str
    smiles: str | None
    formula: str | None
    mw: float | None


@dataclass(frozen=True)
class StockSolute:
    """One of a premixed stock's other solutes (``stock.solutes``)."""

    id: str
    substance: Substance
    concentration_m: float | None  # None: not computable (reported)
    purity: float = 1.0
    liquid_density_g_ml: float | None = None  # a liquid at room temperature: measured by volume


@dataclass(frozen=True)
class ResolvedReagent:
    id: str
    form: str  # "stock" | "neat" | "solid" | "preloaded"
    substance: Substance | None  # None for a library reagent (see members)
    library: str | None
    concentration_m: float | None  # stocks
    solvent: str | None  # stocks
    density_g_ml: float | None  # neat liquids
    dispense: str | None  # solids: "powder" | "manual"
    source_labware: str | None  # stock.source
    solute_density_g_ml: float | None = None  # a stock whose solute is a liquid: measured by volume
    purity: float = 1.0  # mass fraction of the substance in what is weighed or measured
    supplied: bool = False  # a commercial solution used as supplied: nothing to weigh
    # library member name → its own stock concentration (M), where it differs from the reagent's
    member_concentration_m: Mapping[str, float] = field(default_factory=dict)
    co_solutes: tuple[StockSolute, ...] = ()  # a premixed stock's other solutes

    def concentration_for(self, substance: str) -> float | None:
        """The stock concentration (M) of this reagent, or of one library member's stock."""
        return self.member_concentration_m.get(substance, self.concentration_m)


@dataclass(frozen=True)
class Addition:
    """One reagent (or solvent) going into one well in one step."""

    step: int
    reagent: str  # reagent id, or SOLVENT_PREFIX + name for add_solvent
    well: Well
    umol: float | None
    ul: float  # 0 for solids
    mg: float | None  # solids
    substance: str  # the name of what is added (the library member for library reagents)
    co_umol: tuple[tuple[str, float], ...] = ()  # a premixed stock's other solutes: (name, µmol)


@dataclass(frozen=True)
class Stage:
    index: int  # 0 for the protocol's own scale
    first_step: int
    scale: m.Scale
    limiting_umol: float
    solvent: str


@dataclass(frozen=True)
class ResolvedChemistry:
    reagents: Mapping[str, ResolvedReagent]
    members: Mapping[tuple[str, Well], Substance]  # (library, well) → member
    additions: tuple[Addition, ...]
    volumes_after_step: Mapping[int, Mapping[Well, float]]  # step → well → µL in the well after it
    stages: tuple[Stage, ...]
    wells: tuple[Well, ...]

    def stage_of_step(self, step: int) -> Stage:
        current = self.stages[0]
        for stage in self.stages:
            if stage.first_step <= step:
                current = stage
        return current

    def additions_for_step(self, step: int) -> list[Addition]:
        return [a for a in self.additions if a.step == step]

    def final_volume(self, well: Well) -> float:
        if not self.volumes_after_step:
            return 0.0
        last = max(self.volumes_after_step)
        return self.volumes_after_step[last].get(well, 0.0)

    def max_volume(self, well: Well) -> float:
        return max((v.get(well, 0.0) for v in self.volumes_after_step.values()), default=0.0)


@dataclass
class _Resolver:
    loaded: LoadedProtocol
    reporter: Reporter

    @property
    def p(self) -> m.Protocol:
        return self.loaded.protocol

    # ---------------------------------------------------------------- molecules

    def substance(
        self, path: tuple, name: str | None, smiles: str | None, mw: float | None
    ) -> Substance:
        formula = None
        if smiles:
            try:
                mol = parse_smiles(smiles)
                formula = mol.formula
                if mw is None:
                    mw = mol.mw
            except SmilesError as exc:
                self.reporter.error(
                    path + ("smiles",),
                    codes.DF300,
                    f"invalid SMILES '{smiles}': {exc}",
                    "check the SMILES (e.g. with a structure editor); names go under 'name:'",
                )
        label = name or smiles or "?"
        if mw is None and name:
            props = properties.lookup(name)
            if props is not None and props.mw:
                mw = props.mw
        return Substance(label, smiles, formula, mw)

    def member_substance(self, library: str, member: LibraryMember) -> Substance:
        file, line, column = member.origin
        formula = None
        mw = member.mw
        if member.smiles:
            try:
                mol = parse_smiles(member.smiles)
                formula = mol.formula
                if mw is None:
                    mw = mol.mw
            except SmilesError as exc:
                # the member may come from a library CSV: report it there
                self.reporter.for_file(file).error(
                    Position(line, column),
                    codes.DF300,
                    f"library '{library}' member '{member.name}': invalid SMILES '{member.smiles}': {exc}",
                    "fix the SMILES in the library",
                )
        return Substance(member.name, member.smiles, formula, mw)

    # ---------------------------------------------------------------- reagents

    def reagents(self) -> dict[str, ResolvedReagent]:
        out: dict[str, ResolvedReagent] = {}
        rt = self.p.room_temperature_c
        for rid, r in self.p.reagents.items():
            path = ("reagents", rid)
            substance = None if r.library else self.substance(path, r.name, r.smiles, r.mw)
            density = None
            form = (
                "stock"
                if r.stock or r.supplied
                else "neat"
                if r.neat
                else "solid"
                if r.solid
                else "preloaded"
            )
            if r.neat:
                props = properties.lookup(r.name) if r.name else None
                if props is None and r.smiles:
                    props = properties.lookup_smiles(r.smiles)
                if (
                    props is not None
                    and props.melting_point_c is not None
                    and props.melting_point_c > rt
                ):
                    self.reporter.error(
                        path + ("neat",),
                        codes.DF305,
                        f"'{r.name}' is a solid at room temperature (mp {props.melting_point_c:.0f} °C) and cannot be pipetted neat",
                        "declare it 'solid: {dispense: powder}' (or manual), or as a stock solution",
                    )
                density = self.neat_density(path, r, props)
            solute_density = (
                self.liquid_solute_density(path, r, substance)
                if r.stock and not r.library
                else None
            )
            given = (
                r.stock.concentration
                if r.stock
                else r.supplied.concentration
                if r.supplied
                else None
            )
            molar = self.molar(path, given, substance) if given else None
            out[rid] = ResolvedReagent(
                id=rid,
                form=form,
                substance=substance,
                library=r.library,
                concentration_m=molar,
                solvent=r.stock.solvent if r.stock else r.supplied.solvent if r.supplied else None,
                density_g_ml=density,
                dispense=r.solid.dispense if r.solid else None,
                source_labware=r.stock.source if r.stock else None,
                solute_density_g_ml=solute_density,
                purity=r.purity if r.purity is not None else 1.0,
                supplied=r.supplied is not None,
                member_concentration_m=self.member_concentrations(rid, r, given),
                co_solutes=self.co_solutes(rid, r, substance, molar, solute_density),
            )
        self.solutes_added_alone(out)
        return out

    def co_solutes(
        self,
        rid: str,
        r: m.Reagent,
        substance: Substance | None,
        molar: float | None,
        density: float | None,
    ) -> tuple[StockSolute, ...]:
        """A premixed stock's other solutes, each checked as a stock's solute is (SMILES, molar
        mass, not more concentrated than the neat liquid), and the stock as a whole: no compound
        twice (DF321), a concentration of its own (DF322), room for its liquids (DF324)."""
        if r.stock is None or not r.stock.solutes:
            return ()
        path = ("reagents", rid, "stock", "solutes")
        if r.stock.concentration is None:
            self.reporter.error(
                path,
                codes.DF322,
                f"'{rid}' is a stock used by volume only, so its other solutes have nothing to be "
                "measured against: the amount of each per well is not known",
                "give the stock's 'concentration:' (of the reagent itself), or describe the "
                "solution as one reagent used by volume",
            )
            return ()
        seen: dict[str, str] = {}
        if substance is not None:
            seen[_identity(substance)] = f"the reagent '{rid}' itself"
        out: list[StockSolute] = []
        for sid, cs in r.stock.solutes.items():
            sub = self.substance(path + (sid,), cs.name, cs.smiles, cs.mw)
            key = _identity(sub)
            if key in seen:
                self.reporter.error(
                    path + (sid,),
                    codes.DF321,
                    f"'{sid}' ({sub.name}) is {seen[key]} again: a stock holds each compound once",
                    "list it once, with the concentration the stock has of it",
                )
                continue
            seen[key] = f"'{sid}'"
            cs_molar = self.molar(path + (sid, "concentration"), cs.concentration, sub)
            cs_density = self.solute_density(
                path + (sid, "concentration"), cs.name, cs.smiles, cs.concentration, sub
            )
            purity = cs.purity if cs.purity is not None else 1.0
            out.append(StockSolute(sid, sub, cs_molar, purity, cs_density))
        primary = (
            StockSolute(rid, substance, molar, r.purity or 1.0, density) if substance else None
        )
        self.liquid_solutes_fit(rid, ([primary] if primary else []) + out)
        return tuple(out)

    def liquid_solutes_fit(self, rid: str, solutes: list[StockSolute]) -> None:
        """DF324: the liquid solutes' own volumes (M × MW / density) must leave room for the
        solvent: together they cannot be more than the stock."""
        parts: list[tuple[str, float]] = []
        for cs in solutes:
            if cs.liquid_density_g_ml and cs.concentration_m and cs.substance.mw:
                fraction = (
                    cs.concentration_m * cs.substance.mw / cs.liquid_density_g_ml / 1000.0
                ) / cs.purity
                parts.append((cs.substance.name, fraction))
        total = sum(f for _, f in parts)
        if len(parts) > 1 and total > 1.0:
            each = ", ".join(f"{name} {100 * f:.0f} %" for name, f in parts)
            self.reporter.error(
                ("reagents", rid, "stock", "solutes"),
                codes.DF324,
                f"the liquids of '{rid}' alone would be {100 * total:.0f} % of its volume ({each}): "
                "there is no room for the solvent",
                "lower the concentrations, or add the liquids neat as reagents of their own",
            )

    def solutes_added_alone(self, reagents: Mapping[str, ResolvedReagent]) -> None:
        """DF325: a premixed solute that another reagent of the protocol also adds: each well
        gets it from both (intended for a top-up, a mistake when the premix was meant instead)."""
        alone = {
            _identity(r.substance): rid
            for rid, r in reagents.items()
            if r.substance is not None and r.library is None
        }
        for rid, r in reagents.items():
            for cs in r.co_solutes:
                other = alone.get(_identity(cs.substance))
                if other is not None and other != rid:
                    self.reporter.warn(
                        ("reagents", rid, "stock", "solutes", cs.id),
                        codes.DF325,
                        f"'{cs.id}' ({cs.substance.name}) in the stock of '{rid}' is also the "
                        f"reagent '{other}': wells that get both get it twice",
                        f"drop '{other}' or the solute, or acknowledge DF325 if the top-up is meant",
                    )

    def neat_density(self, path: tuple, r: m.Reagent, props) -> float | None:
        """g/mL of a neat liquid: the reagent's own 'density', else the property data (DF307)."""
        known = props.density_g_ml if props is not None and props.density_g_ml else None
        if r.density is not None:
            if known is not None and abs(r.density - known) > 0.05 * known:
                self.reporter.warn(
                    path + ("density",),
                    codes.DF320,
                    f"density {r.density:g} g/mL for '{r.name or r.smiles}' differs from the property data's {known:g} g/mL by more than 5 %",
                    "check the value (g/mL at room temperature); the given density is used",
                )
            return r.density
        if known is None:
            self.reporter.error(
                path + ("neat",),
                codes.DF307,
                f"no liquid density known for '{r.name or r.smiles}', so a neat volume cannot be computed",
                "give 'density: 0.92 g/mL' (from the bottle or the vendor's sheet), or the reagent as a stock solution",
            )
        return known

    def molar(self, path: tuple, given: Quantity, substance: Substance | None) -> float | None:
        """A stock concentration in M: as given, or a mass concentration over the molar mass."""
        if given.dimension is not Dimension.MASS_CONCENTRATION:
            return given.value
        if substance is None:  # a library: per member (member_concentrations)
            return None
        if substance.mw is None:
            self.reporter.error(
                path,
                codes.DF309,
                f"'{given.text}' is a concentration by mass: it needs the molar mass of '{substance.name}'",
                "give 'smiles:' or 'mw:', or the concentration in M",
            )
            return None
        return given.value / substance.mw  # mg/mL = g/L; / (g/mol) = mol/L

    def member_concentrations(
        self, rid: str, r: m.Reagent, given: Quantity | None
    ) -> dict[str, float]:
        """Library member name → M, where a member has its own concentration or the reagent's is
        by mass (each member's molar mass makes its own molarity)."""
        lib = self.loaded.libraries.get(r.library) if r.library else None
        if lib is None:
            return {}
        out: dict[str, float] = {}
        for member in lib.members.values():
            q = member.concentration or given
            if q is None or (
                member.concentration is None and q.dimension is Dimension.CONCENTRATION
            ):
                continue
            if q.dimension is Dimension.CONCENTRATION:
                out[member.name] = q.value
            elif member.mw is not None or member.smiles:
                mw = member.mw
                if mw is None:
                    try:
                        mw = parse_smiles(member.smiles or "").mw
                    except SmilesError:
                        continue  # DF300 is reported with the member
                out[member.name] = q.value / mw
        return out

    def liquid_solute_density(
        self, path: tuple, r: m.Reagent, substance: Substance | None
    ) -> float | None:
        """The density of a stock's solute when it is a liquid at room temperature (the operator
        measures it by volume), after checking that the stock is not more concentrated than the
        neat liquid itself (DF312: "weigh 3846 mg, make up to 3.20 mL" for 4.29 mL of liquid)."""
        concentration = r.stock.concentration if r.stock else None
        return self.solute_density(
            path + ("stock", "concentration"), r.name, r.smiles, concentration, substance
        )

    def solute_density(
        self,
        path: tuple,
        name: str | None,
        smiles: str | None,
        concentration: Quantity | None,
        substance: Substance | None,
    ) -> float | None:
        """The density of a stock solute that is a liquid at room temperature; DF312 at ``path``
        when the stock is more concentrated than the neat liquid."""
        props = properties.lookup(name) if name else None
        if props is None and smiles:
            props = properties.lookup_smiles(smiles)
        if props is None or not props.density_g_ml or props.is_solid_at(self.p.room_temperature_c):
            return None
        mw = substance.mw if substance is not None and substance.mw else props.mw
        if mw and concentration is not None:
            neat_molarity = props.density_g_ml * 1000.0 / mw
            molar = (
                concentration.value / mw
                if concentration.dimension is Dimension.MASS_CONCENTRATION
                else concentration.value
            )
            if molar > neat_molarity:
                self.reporter.error(
                    path,
                    codes.DF312,
                    f"{concentration.text} is more concentrated than neat {props.name} ({neat_molarity:.2f} M at {props.density_g_ml:g} g/mL)",
                    "pipette it neat ('neat: true'), or use a lower concentration",
                )
        return props.density_g_ml

    # ---------------------------------------------------------------- amounts

    def amounts(
        self,
        reagent: ResolvedReagent,
        sub: Substance,
        path: tuple,
        *,
        umol: float | None,
        ul: float | None,
    ) -> tuple[float | None, float, float | None] | None:
        """(µmol, µL, mg) for one well from a known µmol or µL; None after reporting why not."""
        if reagent.form == "stock":
            concentration = reagent.concentration_for(sub.name)
            if concentration is None:
                if ul is None:
                    self.reporter.error(
                        path,
                        codes.DF307,
                        f"'{reagent.id}' has no stock concentration, so an amount or equiv cannot become a volume",
                        "give 'volume:' for this reagent, or add 'concentration:' to its stock",
                    )
                    return None
                return None, ul, None
            if ul is None:
                assert umol is not None  # the caller gives exactly one of umol and ul
                ul = umol / concentration
            else:
                umol = ul * concentration
            return umol, ul, None
        if sub.mw is None:
            self.reporter.error(
                path,
                codes.DF309,
                f"no molecular weight for '{sub.name}'",
                "give 'smiles:' or 'mw:'",
            )
            return None
        if reagent.form == "neat":
            if reagent.density_g_ml is None:
                return None  # DF307 already reported on the reagent
            # a 95 % liquid: measure more of it, 1/0.95 of the pure substance's volume
            if ul is None:
                assert umol is not None  # the caller gives exactly one of umol and ul
                ul = umol * sub.mw / 1000.0 / reagent.density_g_ml / reagent.purity
            else:
                umol = ul * reagent.density_g_ml * reagent.purity * 1000.0 / sub.mw
            return umol, ul, None
        if reagent.form == "solid":
            if ul is not None:
                self.reporter.error(
                    path,
                    codes.DF305,
                    f"'{reagent.id}' is a solid and cannot be added by volume",
                    "give 'equiv:' or 'amount:'",
                )
                return None
            assert umol is not None  # the caller gives exactly one of umol and ul
            # NaH, 60 % dispersion in oil: weigh 1/0.60 of the NaH's own mass
            return umol, 0.0, umol * sub.mw / 1000.0 / reagent.purity
        return None

    def run(self) -> ResolvedChemistry | None:
        reagents = self.reagents()
        members: dict[tuple[str, Well], Substance] = {}
        for lib_name, lib in self.loaded.libraries.items():
            for well, member in lib.members.items():
                members[(lib_name, well)] = self.member_substance(lib_name, member)

        wells = self.p.vessels.wells
        volume: dict[Well, float] = {w: 0.0 for w in wells}
        volumes_after: dict[int, dict[Well, float]] = {}
        additions: list[Addition] = []
        stages: list[Stage] = [
            Stage(0, 0, self.p.scale, self.p.scale.amount.value, self.p.scale.solvent)
        ]
        for i, step in enumerate(self.p.steps):
            _, params = m.step_params(step)
            match params:
                case m.StageParams(scale=scale):
                    stages.append(Stage(len(stages), i, scale, scale.amount.value, scale.solvent))
                    # the operator re-plates the (dried) intermediate
                    volume = {w: 0.0 for w in wells}
                case m.AddParams() | m.AdjustPhParams() | m.QuenchParams():
                    reagent = reagents.get(params.reagent)
                    if reagent is not None:
                        additions += self.reagent_additions(
                            i, params, reagent, members, stages[-1], volume
                        )
                case m.AddSolventParams():
                    additions += self.solvent_additions(i, params, stages[-1], volume)
            volumes_after[i] = dict(volume)
        self.concentration_warnings(stages, volumes_after, wells)
        return ResolvedChemistry(
            reagents, members, tuple(additions), volumes_after, tuple(stages), wells
        )

    def reagent_additions(
        self,
        i: int,
        params: m.ReagentStepParams,
        reagent: ResolvedReagent,
        members: Mapping[tuple[str, Well], Substance],
        stage: Stage,
        volume: dict[Well, float],
    ) -> list[Addition]:
        """What an add, adjust_ph or quench step puts in each well; updates ``volume``."""
        path = self.loaded.step_path(i)
        out: list[Addition] = []
        for well in m.step_wells(params) or self.p.vessels.wells:
            sub = members.get((reagent.library, well)) if reagent.library else reagent.substance
            if sub is None:
                continue  # library coverage is reported by the loader (DF113)
            if _by_mass(params) and sub.mw is None:
                self.reporter.error(
                    path + ("amount",),
                    codes.DF309,
                    f"an amount by mass needs the molar mass of '{sub.name}'",
                    "give 'smiles:' or 'mw:', or the amount in µmol",
                )
                break
            umol, ul = self.requested(params, reagent, well, stage, volume, sub.mw)
            result = self.amounts(reagent, sub, path + ("reagent",), umol=umol, ul=ul)
            if result is None:
                break  # one diagnostic per step, not one per well
            a_umol, a_ul, a_mg = result
            co = tuple(
                (cs.substance.name, a_ul * cs.concentration_m)  # µL × M = µmol
                for cs in reagent.co_solutes
                if cs.concentration_m is not None
            )
            out.append(Addition(i, reagent.id, well, a_umol, a_ul, a_mg, sub.name, co))
            volume[well] += a_ul
        return out

    def requested(
        self,
        params: m.ReagentStepParams,
        reagent: ResolvedReagent,
        well: Well,
        stage: Stage,
        volume: Mapping[Well, float],
        mw: float | None = None,
    ) -> tuple[float | None, float | None]:
        """(µmol, µL) the step asks for in ``well``: one of them, from equiv, amount or volume.
        An amount by mass is what is weighed: of a 60 % dispersion, 60 % of it is the substance."""
        equiv = params.equiv
        member = (
            self.loaded.libraries[reagent.library].members.get(well)
            if reagent.library and reagent.library in self.loaded.libraries
            else None
        )
        if member is not None and member.equiv is not None and equiv is not None:
            equiv = member.equiv  # the library table overrides the step's equiv per well
        if equiv is not None:
            return resolve_equiv(equiv) * stage.limiting_umol, None
        match params:
            case m.QuenchParams(volume=m.ReactionVolumes(multiple=multiple)):
                return None, multiple * volume[well]
            case m.QuenchParams(volume=Quantity() as fixed):
                return None, fixed.value
            case m.AddParams(amount=Quantity(dimension=Dimension.MASS) as mass):
                assert mw is not None  # reagent_additions reports DF309 first
                return mass.value * reagent.purity * 1000.0 / mw, None
            case (
                m.AddParams(amount=Quantity() as amount)
                | m.AdjustPhParams(amount=Quantity() as amount)
            ):
                return amount.value, None
            case (
                m.AddParams(volume=Quantity() as fixed)
                | m.AdjustPhParams(volume=Quantity() as fixed)
            ):
                return None, fixed.value
        raise AssertionError("the step models require one of equiv, amount and volume")

    def solvent_additions(
        self, i: int, params: m.AddSolventParams, stage: Stage, volume: dict[Well, float]
    ) -> list[Addition]:
        """An add_solvent step: a fixed volume, or a top-up to a concentration; updates ``volume``."""
        path = self.loaded.step_path(i)
        concentration = params.to_concentration
        target = stage.limiting_umol / concentration.value if concentration is not None else None
        out: list[Addition] = []
        for well in params.wells or self.p.vessels.wells:
            if params.volume is not None:
                ul = params.volume.value
            else:
                assert target is not None  # the model requires volume or to_concentration
                ul = target - volume[well]
            if ul < -1e-9:
                # only a top-up can find more in the well than it wants: a fixed volume is > 0
                assert concentration is not None and target is not None
                self.reporter.error(
                    path + ("to_concentration",),
                    codes.DF310,
                    f"well {well.name} already holds {volume[well]:.0f} µL, more than the {target:.0f} µL that {concentration.text} needs",
                    "use more concentrated stocks (less volume before the top-up), or a lower target concentration",
                )
                break
            if ul > 0:
                out.append(
                    Addition(
                        i, f"{SOLVENT_PREFIX}{params.solvent}", well, None, ul, None, params.solvent
                    )
                )
                volume[well] += ul
        return out

    def concentration_warnings(
        self,
        stages: list[Stage],
        volumes_after: dict[int, dict[Well, float]],
        wells: tuple[Well, ...],
    ) -> None:
        """Spec §3: the reaction volume before the quench should meet scale.concentration (±20 %)."""
        has_solvent_topup = any(
            isinstance(params, m.AddSolventParams) and params.to_concentration is not None
            for _, params in map(m.step_params, self.p.steps)
        )
        if has_solvent_topup:
            return
        steps = self.p.steps
        for n, stage in enumerate(stages):
            end = stages[n + 1].first_step if n + 1 < len(stages) else len(steps)
            last = None
            for i in range(stage.first_step, end):
                _, params = m.step_params(steps[i])
                if isinstance(params, m.QuenchParams):
                    break
                if isinstance(params, (m.AddParams, m.AdjustPhParams, m.AddSolventParams)):
                    last = i
            if last is None or not wells:
                continue
            volume = max(volumes_after[last][w] for w in wells)
            if volume <= 0:
                continue
            actual = stage.limiting_umol / volume
            target = stage.scale.concentration.value
            if abs(actual - target) / target > CONCENTRATION_TOLERANCE:
                path = (
                    ("scale", "concentration")
                    if n == 0
                    else self.loaded.step_path(stage.first_step, "scale", "concentration")
                )
                wanted = stage.limiting_umol / target
                self.reporter.warn(
                    path,
                    codes.DF306,
                    f"the reaction runs at {actual:.3g} M, not the {stage.scale.concentration.text} asked for ({volume:.0f} µL per well; {wanted:.0f} µL would be {target:g} M)",
                    f"add 'add_solvent: {{solvent: {stage.solvent}, to_concentration: {stage.scale.concentration.text}}}' before the reaction, or change the stock concentrations",
                )


def resolve(loaded: LoadedProtocol, reporter: Reporter) -> ResolvedChemistry | None:
    """Per-well amounts and volumes; None when an error (reported) leaves them unknown."""
    return _Resolver(loaded, reporter).run()


def resolve_chemistry(loaded: LoadedProtocol) -> tuple[ResolvedChemistry | None, list[Diagnostic]]:
    """:func:`resolve` with its own reporter: (chemistry or None, diagnostics)."""
    reporter = loaded.reporter()
    return resolve(loaded, reporter), reporter.diagnostics


def _by_mass(params: m.ReagentStepParams) -> bool:
    """An ``add`` whose amount is a mass to weigh ('9.1 mg') rather than µmol."""
    return (
        isinstance(params, m.AddParams)
        and params.amount is not None
        and params.amount.dimension is Dimension.MASS
    )


def _identity(substance: Substance) -> str:
    """What makes two solutes the same compound: the canonical SMILES, else the name."""
    if substance.smiles:
        try:
            return parse_smiles(substance.smiles).canonical_smiles
        except SmilesError:
            pass  # DF300 is reported where the SMILES is
    return substance.name.strip().lower()
