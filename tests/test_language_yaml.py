"""The YAML layer: unsafe tags, bombs, huge or unreadable files are clean diagnostics, never a
traceback, never executed, never slow."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from conftest import BASE_PROTOCOL
from diazflow.diagnostics import format_text
from diazflow.language.loader import load_protocol
from diazflow.language.source import MAX_FILE_BYTES, MAX_NODES, YamlSourceError, load_yaml


def diagnostics(path) -> tuple:
    result = load_protocol(str(path))
    assert not result.ok
    assert result.loaded is None or any(d.is_error for d in result.diagnostics)
    return result.diagnostics


def only(diags, code):
    assert [d.code for d in diags] == [code], format_text(diags)
    return diags[0]


@pytest.mark.parametrize(
    "tag",
    [
        "!!python/object/apply:os.system",
        "!!python/object/apply:subprocess.call",
        "!!python/object/new:os.system",
        "!!python/name:os.system",
        "!!python/object:__main__.Thing",
    ],
)
def test_python_tags_are_refused_and_never_executed(variant, tmp_path, tag):
    marker = tmp_path / "pwned"
    payload = f'{tag} ["touch {marker}"]' if "apply" in tag or "new" in tag else f"{tag} ''"
    v = variant("  labware: reaction_block", f"  labware: {payload}")
    d = only(diagnostics(v.path), "DF105")
    assert (d.line, d.column) == v.at(tag)
    assert "python" in d.message
    assert not marker.exists(), "a YAML tag executed code"


@pytest.mark.parametrize(
    "tag", ["!!binary aGVsbG8=", "!!set {a, b}", "!custom value", "!!omap [{a: 1}]"]
)
def test_other_tags_are_refused(variant, tag):
    v = variant("  labware: reaction_block", f"  labware: {tag}")
    d = only(diagnostics(v.path), "DF105")
    assert (d.line, d.column) == v.at(tag.split()[0])


def billion_laughs(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels + 1):
        refs = ",".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_refused_without_expanding(write_protocol):
    v = write_protocol(billion_laughs())
    start = time.perf_counter()
    diags = diagnostics(v.path)
    elapsed = time.perf_counter() - start
    d = only(diags, "DF106")
    # a hang guard, not a speed target (that is bench/'s business): expanding the 9^10 aliases
    # would take hours and tens of GB, refusing them takes milliseconds on a quiet machine
    assert elapsed < 30.0, f"took {elapsed:.2f} s"
    assert "values" in d.message and d.line >= 1


def test_a_few_aliases_are_fine(variant):
    v = variant(
        "stock: {concentration: 1.0 M, solvent: DCE}",
        "stock: &dce_1m {concentration: 1.0 M, solvent: DCE}",
    )
    text = v.text.replace(
        "  aldehyde:\n    library: aldehydes\n    stock: {concentration: 0.5 M, solvent: DCE}",
        "  aldehyde:\n    library: aldehydes\n    stock: *dce_1m",
    )
    v.path.write_text(text)
    result = load_protocol(str(v.path))
    assert result.ok, format_text(result.diagnostics)
    assert result.loaded.protocol.reagents["aldehyde"].stock.concentration.value == 1.0


def test_huge_file_is_refused_before_parsing(write_protocol):
    text = BASE_PROTOCOL.read_text() + "# " + "x" * MAX_FILE_BYTES + "\n"
    v = write_protocol(text)
    start = time.perf_counter()
    d = only(diagnostics(v.path), "DF106")
    assert time.perf_counter() - start < 1.0
    assert (d.line, d.column) == (0, 0) and "MiB" in d.message
    with pytest.raises(YamlSourceError) as exc:
        load_yaml(text, "in-memory.yaml")
    assert exc.value.diagnostics[0].code == "DF106"


def test_too_many_values_is_refused_quickly(write_protocol):
    items = "".join(f"  - {i}\n" for i in range(MAX_NODES + 10))
    v = write_protocol("diazflow: 1\nnumbers:\n" + items)
    start = time.perf_counter()
    d = only(diagnostics(v.path), "DF106")
    assert time.perf_counter() - start < 2.0
    assert d.line > 1


def test_deep_nesting_does_not_crash_the_interpreter(tmp_path):
    # PyYAML's C composer recurses once per level: 100,000 nested brackets (200 kB) used to kill
    # the process with a segmentation fault.  Run it in a child process so a regression cannot
    # take the test session down with it.
    path = tmp_path / "deep.yaml"
    path.write_text("a: " + "[" * 100_000 + "]" * 100_000 + "\n")
    code = textwrap.dedent(
        f"""
        import time
        from diazflow.language.loader import load_protocol
        start = time.perf_counter()
        r = load_protocol({str(path)!r})
        print(r.diagnostics[0].code, r.diagnostics[0].line, r.diagnostics[0].column, time.perf_counter() - start)
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr[-2000:]}"
    code_, line, column, seconds = proc.stdout.split()
    assert code_ == "DF106" and line == "1" and float(seconds) < 1.0


@pytest.mark.parametrize(
    "text",
    [
        # flow nesting: libyaml (PyYAML >= 6.0.4) scans ahead and stops at its own limit of 1000
        "a: " + "[" * 1500 + "]" * 1500 + "\n",
        "a: " + "{b: " * 1500 + "1" + "}" * 1500 + "\n",
        # block nesting: reaches diazflow's pre-scan first
        "a:\n" + "".join(" " * i + "- \n" for i in range(1, 1500)),
    ],
    ids=["flow-sequences", "flow-mappings", "block-sequences"],
)
def test_too_deep_is_a_limit_whichever_layer_notices(write_protocol, text):
    start = time.perf_counter()
    d = only(diagnostics(write_protocol(text).path), "DF106")
    assert time.perf_counter() - start < 1.0
    assert "100 levels" in d.message and d.hint
    assert d.line >= 1 and d.column >= 1


def test_deep_block_nesting(write_protocol):
    text = "a:\n" + "".join(" " * i + "- \n" for i in range(1, 400))
    d = only(diagnostics(write_protocol(text).path), "DF106")
    assert "nested" in d.message


def test_duplicate_top_level_key(variant):
    v = variant("description: Method A", "name: a second name\ndescription: Method A")
    d = only(diagnostics(v.path), "DF104")
    assert (d.line, d.column) == v.at("name: a second name")


def test_not_utf8(write_protocol):
    text = BASE_PROTOCOL.read_text().replace("Method A\n", "Méthode A\n", 1)
    v = write_protocol(text.encode("latin-1"))
    d = only(diagnostics(v.path), "DF100")
    assert "UTF-8" in d.message and "UTF-8" in d.hint


def test_utf8_bom_and_crlf_line_endings_are_fine(write_protocol):
    text = BASE_PROTOCOL.read_text()
    v = write_protocol(("\ufeff" + text.replace("\n", "\r\n")).encode("utf-8"))
    assert load_protocol(str(v.path)).ok
    broken = text.replace("  wells: A1:H12", "  wells: A1:H0").replace("\n", "\r\n")
    v = write_protocol(broken.encode("utf-8"), "crlf.yaml")
    d = only(diagnostics(v.path), "DF111")
    line, column = v.at("A1:H0")
    assert (d.line, d.column) == (line, column)


@pytest.mark.parametrize("text", ["", "\n\n   \n", "# only a comment\n", "---\n"])
def test_empty_file(write_protocol, text):
    d = only(diagnostics(write_protocol(text).path), "DF102")
    assert "empty" in d.message


@pytest.mark.parametrize(
    "text, what",
    [("- a\n- b\n", "a list"), ("just text\n", "'just text'"), ("42\n", "the number 42")],
)
def test_document_that_is_not_a_mapping(write_protocol, text, what):
    d = only(diagnostics(write_protocol(text).path), "DF103")
    assert what in d.message and (d.line, d.column) == (1, 1)


def test_missing_file(tmp_path):
    d = only(diagnostics(tmp_path / "nope.yaml"), "DF100")
    assert "cannot read" in d.message and (d.line, d.column) == (0, 0)


def test_directory_instead_of_file(tmp_path):
    d = only(diagnostics(tmp_path), "DF100")
    assert "cannot read" in d.message


def test_dangling_symlink_cannot_be_read(tmp_path):
    """An unreadable path (here a link to nowhere; chmod 0 does not stop root) is DF100."""
    link = tmp_path / "protocol.yaml"
    link.symlink_to(tmp_path / "gone.yaml")
    d = only(diagnostics(link), "DF100")
    assert "cannot read" in d.message


def test_tab_indentation(variant):
    v = variant("  amount: 50 umol", "\tamount: 50 umol")
    d = only(diagnostics(v.path), "DF100")
    assert d.line == v.at("\tamount")[0]
    assert "tabs" in d.hint


def test_syntax_error_position(variant):
    v = variant("{reagent: acoh, equiv: 1.0}", "{reagent: acoh, equiv: 1.0")
    d = only(diagnostics(v.path), "DF100")
    assert d.line > v.at("{reagent: acoh")[0] - 1 and d.column >= 1


def test_unquoted_colon_in_text(variant):
    v = variant("description: Method A, one", "description: Method A: one")
    d = only(diagnostics(v.path), "DF100")
    assert d.line == v.at("description:")[0]
    assert "quoted" in d.hint


def test_control_character(variant):
    v = variant("description: Method A", "description: Method\x00 A")
    d = only(diagnostics(v.path), "DF100")
    assert (d.line, d.column) == v.at("\x00")


def test_two_documents(variant):
    v = variant("settings:\n", "---\nsettings:\n")
    d = only(diagnostics(v.path), "DF100")
    assert d.line == v.at("---")[0]


def test_non_scalar_key(write_protocol):
    d = only(diagnostics(write_protocol("? [a, b]\n: 1\n").path), "DF103")
    assert "keys" in d.message


def test_impossible_date_is_a_diagnostic(variant):
    # YAML's timestamp rule matches 2024-02-30, then constructing the date raises ValueError
    v = variant(
        "reference: Precision N4-Alkylation of 1-Methyl-1,4-Diazepane, Method A",
        "reference: 2024-02-30",
    )
    d = only(diagnostics(v.path), "DF100")
    assert (d.line, d.column) == v.at("2024-02-30")
    assert "2024-02-30" in d.message and "quote" in d.hint


def test_merge_keys_follow_yaml_and_explicit_keys_override():
    """``<<: *anchor`` then a key of the mapping's own: the own key wins, as in PyYAML."""
    import yaml

    from diazflow.language.source import load_yaml

    text = "base: &b {x: 1, y: 2}\nother: &o {y: 5, z: 1}\nd:\n  <<: [*b, *o]\n  z: 3\n"
    assert load_yaml(text, "f.yaml").data == yaml.safe_load(text)
    assert load_yaml(text, "f.yaml").data["d"] == {"x": 1, "y": 2, "z": 3}
