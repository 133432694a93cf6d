"""The shipped property data: up to date with the library, right against handbooks, fast to load."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from diazflow.chemistry import properties
from diazflow.chemistry.properties import lookup, lookup_smiles, normalize_name

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "src" / "diazflow" / "chemistry" / "data"
ROOM_TEMPERATURE_C = 22.0  # the spec's default meaning of "rt"


def _load_build_script():
    """scripts/ is not a package: load the build script by path (once)."""
    name = "build_property_data"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, REPO / "scripts" / "build_property_data.py"
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the class is built
        spec.loader.exec_module(module)
    return sys.modules[name]


# --------------------------------------------------------------------------- (a) up to date


def _assert_same(
    shipped, derived, path: str, digits: dict[str, int], field: str | None = None
) -> None:
    if isinstance(shipped, dict) and isinstance(derived, dict):
        assert shipped.keys() == derived.keys(), (
            f"{path}: keys differ: {sorted(shipped.keys() ^ derived.keys())}"
        )
        for key in shipped:
            _assert_same(
                shipped[key], derived[key], f"{path}.{key}", digits, key if key in digits else field
            )
    elif isinstance(shipped, list) and isinstance(derived, list):
        assert len(shipped) == len(derived), f"{path}: length differs"
        for i, (s, d) in enumerate(zip(shipped, derived, strict=False)):
            _assert_same(s, d, f"{path}[{i}]", digits, field)
    elif isinstance(shipped, float) or isinstance(derived, float):
        # one unit in the last stored digit, so a different BLAS or libm does not fail the build
        tolerance = 10 ** -digits.get(field or "", 4)
        assert shipped == pytest.approx(derived, abs=tolerance), (
            f"{path}: shipped {shipped}, library now gives {derived}"
        )
    else:
        assert shipped == derived, f"{path}: shipped {shipped!r}, library now gives {derived!r}"


def test_shipped_json_matches_what_the_installed_library_gives():
    pytest.importorskip("chemicals")
    pytest.importorskip("thermo")
    build = _load_build_script()
    shipped = json.loads((DATA / "properties.json").read_text(encoding="utf-8"))
    derived = json.loads(build.dumps(build.extract()))  # through JSON, as the file was written
    if shipped["libraries"] != derived["libraries"]:
        pytest.fail(
            f"properties.json was built with {shipped['libraries']}, installed are {derived['libraries']}: run python scripts/build_property_data.py and review the diff"
        )
    _assert_same(shipped, derived, "properties.json", build.DIGITS)


def test_every_override_is_recorded_with_its_reason():
    build = _load_build_script()
    shipped = json.loads((DATA / "properties.json").read_text(encoding="utf-8"))["compounds"]
    for (cas, field), override in build.OVERRIDES.items():
        if field == "smiles":
            entry = shipped[cas]["mw"]  # a corrected structure shows up as a corrected MW
        else:
            entry = shipped[cas][field]
        assert entry is not None, (cas, field)
        assert entry.get("reason") == override.reason, (cas, field)


# --------------------------------------------------------------------------- (b) handbook values
# Typed in from the CRC Handbook of Chemistry and Physics, the Merck Index and supplier catalogues,
# independently of the library; tolerances are what matters for the checks that use them.

HANDBOOK = [
    # name, field, value, tolerance
    ("water", "boiling_point_c", 100.0, 0.1),
    ("water", "melting_point_c", 0.0, 0.1),
    ("water", "density_g_ml", 0.9982, 0.001),
    ("water", "vapour_pressure_kpa", 2.339, 0.02),
    ("DMSO", "melting_point_c", 18.5, 0.5),
    ("DMSO", "boiling_point_c", 189.0, 3.0),
    ("DMSO", "density_g_ml", 1.100, 0.005),
    ("DCM", "boiling_point_c", 39.6, 0.5),
    ("DCM", "density_g_ml", 1.326, 0.005),
    ("DCM", "vapour_pressure_kpa", 47.0, 2.0),
    ("DCE", "boiling_point_c", 83.5, 0.5),
    ("DCE", "density_g_ml", 1.253, 0.005),
    ("chloroform", "boiling_point_c", 61.2, 0.5),
    ("chloroform", "density_g_ml", 1.489, 0.006),
    ("MeCN", "density_g_ml", 0.786, 0.005),
    ("MeCN", "melting_point_c", -45.0, 2.0),
    ("MeCN", "boiling_point_c", 81.6, 0.5),
    ("MeOH", "boiling_point_c", 64.7, 0.5),
    ("MeOH", "density_g_ml", 0.7914, 0.003),
    ("EtOH", "boiling_point_c", 78.4, 0.3),
    ("EtOH", "density_g_ml", 0.789, 0.003),
    ("THF", "boiling_point_c", 66.0, 0.5),
    ("THF", "density_g_ml", 0.889, 0.005),
    ("toluene", "boiling_point_c", 110.6, 0.5),
    ("toluene", "density_g_ml", 0.867, 0.003),
    ("DMF", "melting_point_c", -61.0, 1.0),
    ("DMF", "boiling_point_c", 153.0, 1.0),
    ("DMF", "density_g_ml", 0.948, 0.005),
    ("1,4-dioxane", "melting_point_c", 11.8, 0.5),
    ("acetone", "vapour_pressure_kpa", 24.6, 1.0),
    ("AcOH", "melting_point_c", 16.6, 0.5),
    ("AcOH", "boiling_point_c", 118.0, 1.0),
    ("AcOH", "density_g_ml", 1.049, 0.005),
    ("TFA", "melting_point_c", -15.4, 1.0),
    ("TFA", "boiling_point_c", 72.4, 1.0),
    ("TFA", "density_g_ml", 1.489, 0.005),
    ("TFA", "vapour_pressure_kpa", 11.0, 2.0),
    ("Et3N", "boiling_point_c", 89.0, 1.0),
    ("Et3N", "density_g_ml", 0.726, 0.005),
    ("DIPEA", "boiling_point_c", 126.6, 1.5),
    ("DIPEA", "density_g_ml", 0.742, 0.01),
    ("NMP", "density_g_ml", 1.028, 0.01),
    ("2-MeTHF", "density_g_ml", 0.854, 0.01),
    ("benzyl bromide", "density_g_ml", 1.438, 0.01),
    ("benzyl bromide", "boiling_point_c", 198.5, 2.0),
    ("MeI", "density_g_ml", 2.28, 0.02),
    ("ethylenediamine", "melting_point_c", 9.5, 1.5),
    ("1-methyl-1,4-diazepane", "boiling_point_c", 155.0, 3.0),
    ("Boc2O", "melting_point_c", 23.0, 1.5),
    ("homopiperazine", "melting_point_c", 42.0, 3.0),
    ("K2CO3", "melting_point_c", 891.0, 10.0),
    ("NaBH3CN", "mw", 62.84, 0.01),
    ("STAB", "mw", 211.94, 0.01),
    ("DCM", "mw", 84.93, 0.01),
]


@pytest.mark.parametrize(
    "name,field,value,tolerance", HANDBOOK, ids=[f"{n}-{f}" for n, f, _, _ in HANDBOOK]
)
def test_values_agree_with_handbooks(name, field, value, tolerance):
    props = lookup(name)
    assert props is not None, name
    assert getattr(props, field) == pytest.approx(value, abs=tolerance), (
        f"{name} {field}: {getattr(props, field)} ({props.sources.get(field)})"
    )


def test_liquid_reagents_are_liquid_at_room_temperature_and_have_a_density():
    # Catches group-contribution melting points (JOBACK gives 1-methyl-1,4-diazepane 33 °C) and
    # boiling points filed as melting points (COMMON_CHEMISTRY gives tert-butyl isocyanide 149 °C).
    for props in properties.all_compounds():
        if props.kind == "liquid reagent":
            assert not props.is_solid_at(ROOM_TEMPERATURE_C), (
                f"{props.name}: mp {props.melting_point_c} ({props.sources.get('melting_point_c')})"
            )
            if props.name != "benzyl isocyanide":  # the library knows nothing about it but its MW
                assert props.density_g_ml is not None, props.name


def test_solid_reagents_are_solid_at_room_temperature_and_have_no_liquid_density():
    for props in properties.all_compounds():
        if props.kind == "solid reagent":
            assert props.is_solid_at(ROOM_TEMPERATURE_C), (
                f"{props.name}: mp {props.melting_point_c}"
            )
            assert props.density_g_ml is None, props.name


def test_melting_point_below_boiling_point():
    for props in properties.all_compounds():
        if props.melting_point_c is not None and props.boiling_point_c is not None:
            assert props.melting_point_c < props.boiling_point_c, props.name


def test_molecular_weights_agree_with_rdkit_on_the_stored_structure():
    Chem = pytest.importorskip("rdkit.Chem")
    from rdkit.Chem import Descriptors

    for props in properties.all_compounds():
        mol = Chem.MolFromSmiles(props.smiles)
        assert mol is not None, props.name
        # 0.05 g/mol: chemicals and RDKit use slightly different atomic weights (Pd2(dba)3 differs by 0.017)
        assert Descriptors.MolWt(mol) == pytest.approx(props.mw, abs=0.05), props.name


def test_estimates_are_marked():
    dipea = lookup("DIPEA")
    assert "vapour_pressure_kpa" in dipea.estimated
    assert "density_g_ml" not in dipea.estimated  # overridden with a catalogue value
    assert lookup("DCM").estimated == frozenset()
    assert lookup("DCM").sources["density_g_ml"].endswith("DIPPR_PERRY_8E")


def test_library_versions_are_recorded():
    versions = properties.library_versions()
    assert {"chemicals", "thermo", "rdkit"} <= versions.keys()


# --------------------------------------------------------------------------- (c) names and aliases


@pytest.mark.parametrize(
    "text,cas",
    [
        ("TEA", "121-44-8"),  # chemicals says tetraethylammonium
        ("tea", "121-44-8"),
        ("Et3N", "121-44-8"),
        ("triethylamine", "121-44-8"),
        ("DCM", "75-09-2"),  # chemicals raises for it
        ("dcm", "75-09-2"),
        ("CH2Cl2", "75-09-2"),
        ("methylene chloride", "75-09-2"),
        ("dichloromethane", "75-09-2"),
        ("DCE", "107-06-2"),
        ("1,2-dichloroethane", "107-06-2"),
        ("THF", "109-99-9"),
        ("ACN", "75-05-8"),
        ("MeCN", "75-05-8"),
        ("water", "7732-18-5"),
        ("H2O", "7732-18-5"),
        ("Water", "7732-18-5"),
        ("H₂O", "7732-18-5"),
        ("DIPEA", "7087-68-5"),
        ("Hünig's base", "7087-68-5"),
        ("Hunig’s base", "7087-68-5"),
        ("STAB", "56553-60-7"),
        ("NaBH(OAc)3", "56553-60-7"),
        ("NaBH(OAc)₃", "56553-60-7"),
        ("Boc2O", "24424-99-5"),
        ("Cs₂CO₃", "534-17-8"),
        (
            "N-Methyl-2-pyrrolidone",
            "872-50-4",
        ),  # chemicals resolves this spelling to the nitride ion
        ("anhydrous DMF", "68-12-2"),
        ("glacial acetic acid", "64-19-7"),
        ("  EtOAc ", "141-78-6"),
        ("75-09-2", "75-09-2"),
        ("1-methyl-1,4-diazepane", "4318-37-0"),
        ("homopiperazine", "505-66-8"),
    ],
)
def test_lookup_resolves_names_and_aliases(text, cas):
    props = lookup(text)
    assert props is not None, text
    assert props.cas == cas


@pytest.mark.parametrize(
    "text",
    ["unobtainium", "", "   ", "petroleum ether", "DCM/MeOH", "99-99-9", "tetraethylammonium"],
)
def test_lookup_of_unknown_names_is_none(text):
    assert lookup(text) is None


def test_aliases_file_is_consistent():
    shipped = json.loads((DATA / "properties.json").read_text(encoding="utf-8"))["compounds"]
    aliases = json.loads((DATA / "aliases.json").read_text(encoding="utf-8"))["aliases"]
    seen: dict[str, str] = {}
    canonical = {normalize_name(rec["name"]): cas for cas, rec in shipped.items()}
    for alias, cas in aliases.items():
        assert cas in shipped, f"alias {alias!r} points to {cas}, not in properties.json"
        key = normalize_name(alias)
        assert seen.setdefault(key, cas) == cas, (
            f"alias {alias!r} collides with another alias for {seen[key]}"
        )
        assert canonical.get(key, cas) == cas, (
            f"alias {alias!r} shadows the canonical name of {canonical.get(key)}"
        )


def test_known_names_feed_did_you_mean_hints():
    import difflib

    names = properties.known_names()
    assert "DCM" in names and "dichloromethane" in names and "TEA" in names
    assert difflib.get_close_matches("DMSO2", names, n=1, cutoff=0.6) == ["DMSO"]
    assert difflib.get_close_matches("dichloromethan", names, n=1, cutoff=0.6) == [
        "dichloromethane"
    ]


def test_lookup_by_structure():
    pytest.importorskip("rdkit")
    assert lookup_smiles("N#C[BH3-].[Na+]").name == "sodium cyanoborohydride"
    assert (
        lookup_smiles("[Na+].CC(=O)O[BH-](OC(C)=O)OC(C)=O").name == "sodium triacetoxyborohydride"
    )
    assert lookup_smiles("CN1CCCNCC1").name == "1-methyl-1,4-diazepane"
    assert lookup_smiles("OC(=O)C(F)(F)F").name == "trifluoroacetic acid"
    assert lookup_smiles("CCO junk") is None  # the name part must not be ignored
    assert lookup_smiles("c1ccc2ccccc2c1") is None  # naphthalene: valid, not in the data


# --------------------------------------------------------------------------- (d) light


def test_import_and_lookup_do_not_load_the_heavy_libraries():
    # The cost of a cold lookup is measured in bench/ (bench_validate.py); what a test can hold
    # without depending on the machine's load is that the shipped data file is enough.
    code = (
        "import sys\n"
        "from diazflow.chemistry import properties\n"
        "assert properties.lookup('DCM').boiling_point_c\n"
        "properties.known_names()\n"
        "heavy = sorted(m for m in ('chemicals', 'thermo', 'scipy', 'pandas', 'rdkit') if m in sys.modules)\n"
        "print(repr(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert eval(out) == []  # noqa: S307 - our own subprocess's repr


# --------------------------------------------------------------------------- vapour-pressure curves

# Normal boiling points (handbook, CRC): the vapour pressure there is 1 atm, 101.325 kPa.
NORMAL_BOILING_POINTS_C = [
    ("DCM", 39.6),
    ("MeOH", 64.7),
    ("water", 100.0),
    ("MeCN", 81.6),
    ("THF", 66.0),
    ("toluene", 110.6),
]


@pytest.mark.parametrize("name,bp_c", NORMAL_BOILING_POINTS_C)
def test_vapour_pressure_curve_gives_one_atmosphere_at_the_normal_boiling_point(name, bp_c):
    kpa = lookup(name).vapour_pressure_kpa_at(bp_c)
    assert kpa == pytest.approx(101.325, rel=0.02), name


def test_vapour_pressure_curve_interpolates_the_library_between_its_samples():
    """Off the 10 °C grid the interpolation (ln P against 1/T) stays within 0.3 % of thermo."""
    thermo = pytest.importorskip("thermo")
    for name in ("DCM", "MeOH", "water", "DMF", "toluene", "acetone"):
        props = lookup(name)
        method = props.sources["vapour_pressure_curve"].split(": ")[1]
        vp = thermo.VaporPressure(CASRN=props.cas)
        for celsius in (-7.5, 23.0, 47.3, 88.0, 95.0, 104.9):
            expected = vp.calculate(celsius + 273.15, method) / 1000
            assert props.vapour_pressure_kpa_at(celsius) == pytest.approx(expected, rel=0.003), (
                f"{name} at {celsius} °C"
            )


def test_vapour_pressure_curve_agrees_with_the_20_c_value_and_does_not_extrapolate():
    for props in properties.all_compounds():
        if not props.vapour_pressure_curve:
            continue
        temperatures = [t for t, _ in props.vapour_pressure_curve]
        assert temperatures == sorted(temperatures), props.name
        if props.vapour_pressure_kpa is not None and temperatures[0] <= 20.0 <= temperatures[-1]:
            assert props.vapour_pressure_kpa_at(20.0) == pytest.approx(
                props.vapour_pressure_kpa,
                rel=1e-4,
                abs=5e-5,  # the 20 °C value: 4 decimals
            ), props.name
        assert props.vapour_pressure_kpa_at(temperatures[-1] + 1) is None
        assert props.vapour_pressure_kpa_at(temperatures[0] - 1) is None
    assert lookup("K2CO3").vapour_pressure_curve == ()
