"""Published JSON Schemas validate every JSON the tool writes; reruns are byte-identical; CI logs
get plain text."""

from __future__ import annotations

import hashlib
import json
import re

import jsonschema
import pytest

from inspectcli.results import SCHEMA_VERSION
from inspectcli.schemas import KINDS, load_schema, validate
from tests.conftest import WINE_TRUST

#: sha256 of the four schema files (canonical JSON) for each schema_version. A change of a schema
#: is a change of the format: bump SCHEMA_VERSION in inspectcli/results.py (and the schemas'
#: "schema_version" const), then record the new fingerprint here.
FINGERPRINTS = {1: "1993fae512e64485f4fd5d9a97ab253d784e80b0f78b2d1d77f9dff14ebdb816"}
SHARED = ("tool", "model", "data", "gates", "scalar", "values")


def fingerprint() -> str:
    canon = json.dumps({k: load_schema(k) for k in KINDS}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canon.encode()).hexdigest()


def test_schema_command_prints_each_schema(cli):
    for kind in KINDS:
        r = cli("schema", kind)
        assert r.exit_code == 0, r.stderr
        schema = json.loads(r.stdout)
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema == load_schema(kind)
        assert schema["properties"]["schema_version"] == {
            "const": SCHEMA_VERSION,
            "description": "changes whenever the layout of this file changes",
        }
        assert schema["properties"]["kind"] == {"const": kind}
    r = cli("schema", "importanse")
    assert r.exit_code == 2 and "did you mean 'importance'" in r.stderr


def test_schemas_share_their_common_parts():
    schemas = [load_schema(k) for k in ("pdp", "importance", "diff")]
    for name in SHARED:
        assert schemas[0]["$defs"][name] == schemas[1]["$defs"][name] == schemas[2]["$defs"][name], name
    assert load_schema("info")["$defs"]["tool"] == schemas[0]["$defs"]["tool"]


def test_a_schema_change_comes_with_a_new_schema_version():
    assert FINGERPRINTS.get(SCHEMA_VERSION) == fingerprint(), (
        "the JSON Schemas changed: bump SCHEMA_VERSION and record the new fingerprint "
        f"{fingerprint()} in FINGERPRINTS"
    )


# --------------------------------------------------------------------------------------------
# every JSON the tool writes


@pytest.fixture(scope="module")
def outputs(samples, tmp_path_factory):
    """(description, parsed JSON) of every kind of file and stdout JSON the commands write."""
    from tests.test_cli_diff import invoke

    base = tmp_path_factory.mktemp("schema_runs")
    found = []

    def run(name, *args, code=0, stdout=False):
        out = base / name
        r = invoke(*args, "--quiet", *([] if stdout else ["--out", out]))
        assert r.exit_code == code, (name, r.stderr)
        if stdout:
            found.append((name, json.loads(r.stdout)))
        else:
            for path in sorted(out.glob("*.json")):
                found.append((f"{name}/{path.name}", json.loads(path.read_text())))
        return out

    d = [samples / "diabetes_hgb.joblib", samples / "diabetes.parquet", "--target", "target"]
    wine = [samples / "wine_rf.skops", samples / "wine.parquet", *WINE_TRUST, "--target", "target"]
    run("info-model", "info", samples / "diabetes_hgb.joblib", "--json", stdout=True)
    run("info-data", "info", *wine, "--json", stdout=True)
    run(
        "info-mismatch",
        "info",
        samples / "diabetes_hgb.joblib",
        samples / "wine.parquet",
        "--json",
        code=3,
        stdout=True,
    )
    pdp_gated = [*d, "-f", "bmi,sex", "--pair", "bmi,s5", "--grid-resolution", "6", "--no-plot"]
    run(
        "pdp-ice",
        "pdp",
        *pdp_gated,
        "--kind",
        "both",
        "--ice-lines",
        "4",
        "--centered",
        "--rank",
        "--fail-if",
        "range > 1e9",
    )
    run(
        "pdp-3way",
        "pdp",
        *d,
        "--pair",
        "age,bmi,s5",
        "--grid-resolution",
        "3",
        "--no-plot",
        "--format",
        "json",
    )
    run(
        "pdp-classes",
        "pdp",
        *wine,
        "-f",
        "proline",
        "--grid-resolution",
        "4",
        "--no-plot",
        "--fail-if",
        "range > 0.01",
        code=1,
    )
    imp = [*d, "-r", "2", "--no-plot"]
    run(
        "imp-gated",
        "importance",
        *imp,
        "--group",
        "blood=s1,s2",
        "--fail-if",
        "blood > 10",
        "--fail-if",
        "mean < 0",
    )
    run(
        "imp-clusters",
        "importance",
        *imp,
        "--cluster-threshold",
        "0.5",
        "--compare",
        samples / "diabetes.parquet",
    )
    run(
        "imp-mdi",
        "importance",
        *wine,
        "-r",
        "2",
        "--no-plot",
        "--scoring",
        "accuracy",
        "--scoring",
        "neg_log_loss",
    )
    imp_file = base / "imp-gated" / "importance.json"
    run("diff-not-comparable", "diff", base / "imp-clusters" / "importance.json", imp_file, code=3)  # no file
    run("diff-imp", "diff", imp_file, imp_file, "--fail-if", "gap > 0", "--json", stdout=True)
    pdp_file = base / "pdp-ice" / "pdp.json"
    run("diff-pdp", "diff", pdp_file, pdp_file, "--fail-if", "max_abs_diff >= 0", code=1)
    return found


def test_every_json_written_validates(outputs):
    kinds = {doc["kind"] for _, doc in outputs}
    assert kinds == {"info", "pdp", "importance", "diff"}
    gated = {doc["kind"] for _, doc in outputs if "gates" in doc}
    assert gated == {"pdp", "importance", "diff"}
    for name, doc in outputs:
        try:
            validate(doc)
        except jsonschema.ValidationError as exc:
            pytest.fail(f"{name}: {exc.message} at {list(exc.absolute_path)}")
    names = [n for n, _ in outputs]
    assert (
        "diff-pdp/diff.json" in names and "info-mismatch" in names and "imp-clusters/importance.json" in names
    )


def test_the_schemas_are_strict(outputs):
    doc = next(d for n, d in outputs if n == "imp-gated/importance.json")
    for broken in (
        {**doc, "surprise": 1},
        {k: v for k, v in doc.items() if k != "elapsed_s"},
        {**doc, "schema_version": SCHEMA_VERSION + 1},
        {**doc, "results": [{**doc["results"][0], "extra": True}]},
        {**doc, "gates": {**doc["gates"], "passed": "yes"}},
    ):
        with pytest.raises(jsonschema.ValidationError):
            validate(broken)
    with pytest.raises(jsonschema.ValidationError, match="no schema"):
        validate({"kind": "nonsense"})


# --------------------------------------------------------------------------------------------
# reproducibility


def without_elapsed(data: bytes) -> bytes:
    stripped, n = re.subn(rb'\n  "elapsed_s": [0-9.e+-]+\n', b"\n", data)
    assert n == 1
    return stripped


PDP_ARGS = ["-f", "bmi,sex", "--pair", "bmi,s5", "--kind", "both", "--ice-lines", "5", "--method", "brute"]
PDP_ARGS += ["--subsample", "200", "--grid-resolution", "6", "--fail-if", "range(bmi) > 1"]
IMP_ARGS = ["-r", "2", "--cluster-threshold", "0.5", "--max-samples", "200", "--fail-if", "mean < 0"]


@pytest.mark.parametrize("command, extra", [("pdp", PDP_ARGS), ("importance", IMP_ARGS)])
def test_same_seed_gives_byte_identical_files(cli, samples, tmp_path, command, extra):
    base = [command, samples / "diabetes_hgb.joblib", samples / "diabetes.parquet", "--target", "target"]
    base += [*extra, "--random-state", "7", "--no-plot", "-q"]
    files = {}
    for name, jobs in (("a", "1"), ("b", "1"), ("c", "2")):
        r = cli(*base, "--n-jobs", jobs, "--out", tmp_path / name)
        assert r.exit_code in (0, 1), r.stderr
        files[name] = {p.name: p.read_bytes() for p in sorted((tmp_path / name).iterdir())}
    assert sorted(files["a"]) == [f"{command}.csv", f"{command}.json"]
    for name in ("b", "c"):
        assert files[name][f"{command}.csv"] == files["a"][f"{command}.csv"], name
        assert without_elapsed(files[name][f"{command}.json"]) == without_elapsed(
            files["a"][f"{command}.json"]
        ), name
    assert json.loads(files["a"][f"{command}.json"])["parameters"]["random_state"] == 7


# --------------------------------------------------------------------------------------------
# terminal output in CI logs


def test_quiet_leaves_stderr_empty(cli, samples, tmp_path):
    args = ["pdp", samples / "diabetes_hgb.joblib", samples / "diabetes.parquet", "--target", "target"]
    args += ["--grid-resolution", "4", "--no-plot", "--out", tmp_path]
    r = cli(*args)
    assert (
        r.exit_code == 0 and "note: no -f/--features given" in r.stderr and "partial dependence" in r.stdout
    )
    r = cli(*args, "--quiet")
    assert r.exit_code == 0 and r.stderr == "" and r.stdout == ""
    r = cli(*args, "--quiet", "-f", "bmm")
    assert r.exit_code == 2 and r.err_lines == [
        "error: --features: unknown feature 'bmm' (did you mean 'bmi'?) — features are: age, sex, bmi, bp, "
        "s1, s2, s3, s4, s5, s6"
    ]


def test_no_escape_codes_without_a_terminal_or_with_no_color(cli, samples, tmp_path):
    args = ["pdp", samples / "diabetes_hgb.joblib", samples / "diabetes.parquet", "--target", "target"]
    args += ["-f", "bmi", "--grid-resolution", "4", "--out", tmp_path, "--fail-if", "range(bmi) > 1"]
    plain = cli(*args)
    forced = cli(*args, env={"FORCE_COLOR": "1", "INSPECT_NO_PROGRESS": ""})
    no_color = cli(*args, env={"FORCE_COLOR": "1", "NO_COLOR": "1", "INSPECT_NO_PROGRESS": ""})
    assert plain.exit_code == forced.exit_code == no_color.exit_code == 1
    assert "\x1b" in forced.stdout  # a terminal would get colours (so the check below means something)
    for r in (plain, no_color):
        assert "\x1b" not in r.stdout and "\x1b" not in r.stderr
        assert "FAIL" in r.stdout and r.stderr.startswith("note:")
    # no progress bar either: stderr is not a terminal even when FORCE_COLOR says so
    assert "\x1b[?25l" not in forced.stderr and "\r" not in forced.stderr  # a live display hides the cursor
