"""What `ratecard run` leaves in `--out`: one unit, complete or visibly not, and never outside it.

The files are staged in a private folder and moved in once all are written;
`manifest.json` is the last file moved in and the only sign that the folder
holds a complete run. These tests stop a run at the moments a killed job
would stop, give plans hostile ids, and run two jobs on one folder.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

import pytest

from interpreter.run import job as run_module, output as run_output
from test_run import billing, output, workspace


@pytest.fixture
def files(tmp_path: Path) -> dict:
    return workspace(tmp_path)


PLAN_FILES = ["onehour-business-partner.json", "portone-opi.json"]


def tree(root: Path, *skip: Path) -> dict[str, bytes]:
    """Every file under `root` (but under none of `skip`) with its bytes."""
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and not any(path.is_relative_to(s) for s in skip)
    }


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- the manifest --------------------------------------------------------------------------


def test_the_manifest_lists_each_file_its_rows_and_the_inputs_checksums(ratecard, files):
    assert billing(ratecard, files).exit_code == 3
    assert listing(files["out"]) == ["balances.csv", "manifest.json", *PLAN_FILES, "rejected.csv"]
    manifest = output(files, "manifest.json")
    assert manifest["complete"] is True
    assert (manifest["period"], manifest["as_of"]) == ("2024-11", None)
    assert manifest["files"] == [
        {
            "name": "onehour-business-partner.json",
            "plan": "onehour-business-partner",
            "customers": 1,
            "documents": 1,
            "rejected": 0,
            "failures": 0,
            "sha256": sha256(files["out"] / "onehour-business-partner.json"),
        },
        {
            "name": "portone-opi.json",
            "plan": "portone-opi",
            "customers": 5,
            "documents": 5,
            "rejected": 0,
            "failures": 0,
            "sha256": sha256(files["out"] / "portone-opi.json"),
        },
        {"name": "rejected.csv", "rows": 2, "sha256": sha256(files["out"] / "rejected.csv")},
        {"name": "balances.csv", "rows": 0, "sha256": sha256(files["out"] / "balances.csv")},  # neither plan carries a balance
    ]
    inputs = manifest["inputs"]
    assert inputs["customers"] == {"path": str(files["customers"]), "sha256": sha256(files["customers"])}
    assert inputs["usage"] == {"path": str(files["usage"]), "sha256": sha256(files["usage"])}
    assert inputs["plans"] == [{"path": str(p), "sha256": sha256(p)} for p in sorted(files["plans"].glob("*.yaml"))]
    combined = hashlib.sha256("".join(f["sha256"] for f in [inputs["customers"], inputs["usage"], *inputs["plans"]]).encode())
    assert inputs["sha256"] == combined.hexdigest()


def test_the_same_inputs_give_the_same_bytes(ratecard, files):
    assert billing(ratecard, files).exit_code == 3
    first = tree(files["out"])
    assert billing(ratecard, files, "--force").exit_code == 3
    assert tree(files["out"]) == first


# --- an earlier run in --out -----------------------------------------------------------------


def test_an_out_folder_holding_an_earlier_run_is_refused_without_force(ratecard, files):
    assert billing(ratecard, files).exit_code == 3
    before = tree(files["out"])
    again = billing(ratecard, files)
    assert again.exit_code == 2
    assert f"{files['out']}: holds an earlier run (manifest.json); give --force to replace it" in again.output
    assert tree(files["out"]) == before


def test_force_replaces_the_earlier_run_and_only_its_files(ratecard, files):
    assert billing(ratecard, files).exit_code == 3
    (files["out"] / "notes.txt").write_text("kept", encoding="utf-8")
    only_portone = files["root"] / "portone_only.csv"
    only_portone.write_text(
        "".join(line for line in files["customers"].read_text(encoding="utf-8").splitlines(keepends=True) if "onehour" not in line),
        encoding="utf-8",
    )
    assert billing(ratecard, files, "--force", customers=only_portone).exit_code == 3
    # the academy's file belonged to the earlier run: gone; a file of someone else's: kept
    assert listing(files["out"]) == ["balances.csv", "manifest.json", "notes.txt", "portone-opi.json", "rejected.csv"]
    assert [f["name"] for f in output(files, "manifest.json")["files"]] == ["portone-opi.json", "rejected.csv", "balances.csv"]


def test_an_out_folder_holding_other_files_is_refused_without_force(ratecard, files):
    files["out"].mkdir()
    (files["out"] / "notes.txt").write_text("mine", encoding="utf-8")
    result = billing(ratecard, files)
    assert result.exit_code == 2
    assert "is not empty (notes.txt)" in result.output and "--force" in result.output
    assert listing(files["out"]) == ["notes.txt"]


def test_out_at_a_file_is_a_usage_error(ratecard, files):
    files["out"].write_text("not a folder", encoding="utf-8")
    result = billing(ratecard, files)
    assert result.exit_code == 2, result.output
    assert f"{files['out']}: not a folder" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_out_inside_a_file_is_a_usage_error(ratecard, files):
    files["out"].write_text("not a folder", encoding="utf-8")
    files["out"] = files["out"] / "inner"
    result = billing(ratecard, files)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


# --- a run that stops midway ------------------------------------------------------------------


def test_a_run_failing_while_its_files_are_written_leaves_the_earlier_run_whole(ratecard, files, monkeypatch):
    assert billing(ratecard, files).exit_code == 3
    before = tree(files["out"])
    written = []

    def disk_full(path: Path, text: str) -> None:
        written.append(path.name)
        if len(written) == 2:
            raise OSError(28, "No space left on device")
        real(path, text)

    real = run_output._write_staged
    monkeypatch.setattr(run_output, "_write_staged", disk_full)
    result = billing(ratecard, files, "--force")
    assert result.exit_code == 2, result.output
    assert "No space left on device" in result.output
    assert tree(files["out"]) == before  # not a byte of the new run, no 0-byte file
    assert listing(files["out"]) == ["balances.csv", "manifest.json", *PLAN_FILES, "rejected.csv"]  # nor its staging folder


def test_a_run_stopped_while_moving_its_files_in_is_marked_incomplete(ratecard, files, monkeypatch):
    assert billing(ratecard, files).exit_code == 3
    moved = []

    def killed(staged: Path, target: Path) -> None:
        if len(moved) == 1:
            raise KeyboardInterrupt  # the job is stopped here
        moved.append(target.name)
        real(staged, target)

    real = run_output._move_in
    monkeypatch.setattr(run_output, "_move_in", killed)
    assert "Aborted" in billing(ratecard, files, "--force").output
    manifest = output(files, "manifest.json")
    assert manifest["complete"] is False  # the folder does not look like a finished run
    monkeypatch.setattr(run_output, "_move_in", real)
    assert billing(ratecard, files).exit_code == 2  # still another run's files: --force is needed
    assert billing(ratecard, files, "--force").exit_code == 3
    assert output(files, "manifest.json")["complete"] is True
    assert listing(files["out"]) == ["balances.csv", "manifest.json", *PLAN_FILES, "rejected.csv"]


def test_a_second_run_on_the_same_out_is_refused_while_the_first_writes(ratecard, files):
    files["out"].mkdir()
    with run_output.locked(files["out"]):
        result = billing(ratecard, files)
    assert result.exit_code == 2, result.output
    assert f"another run is writing {files['out']}" in result.output
    assert listing(files["out"]) == []
    assert billing(ratecard, files).exit_code == 3  # once the first has finished


# --- hostile plan ids -----------------------------------------------------------------------


def with_ids(monkeypatch, ids: dict[str, str]) -> None:
    """Plans loaded as usual, then given `ids` (as a plan whose id no check restricted would be)."""
    real = run_module.load_paths

    def renamed(paths):
        loaded, problems = real(paths)
        out = []
        for item in loaded:
            new = ids.get(item.plan.id, item.plan.id)
            versions = tuple(dataclasses.replace(v, id=new) for v in item.versions)
            out.append(dataclasses.replace(item, plan=versions[-1], versions=versions))
        return out, problems

    monkeypatch.setattr(run_module, "load_paths", renamed)


def test_hostile_plan_ids_write_nothing_outside_out(ratecard, files, monkeypatch, tmp_path):
    outside = tmp_path / "abs"
    outside.mkdir()
    ids = {"portone-opi": "../../escaped", "onehour-business-partner": str(outside / "x")}
    with_ids(monkeypatch, ids)
    files["out"] = tmp_path / "a" / "b" / "out"
    files["out"].parent.mkdir(parents=True)
    temp = tmp_path / "t1" / "t2"
    temp.mkdir(parents=True)
    monkeypatch.setattr("tempfile.tempdir", str(temp))  # where the run's temporary Parquet files go
    customers = files["root"] / "hostile.csv"
    customers.write_text(
        files["customers"]
        .read_text(encoding="utf-8")
        .replace("portone-opi", ids["portone-opi"])
        .replace("onehour-business-partner", ids["onehour-business-partner"]),
        encoding="utf-8",
    )
    before = tree(tmp_path, files["out"])
    result = billing(ratecard, files, customers=customers)
    assert result.exit_code == 3, result.output
    assert tree(tmp_path, files["out"]) == before
    names = listing(files["out"])
    assert len(names) == 5 and {"manifest.json", "rejected.csv", "balances.csv"} <= set(names)
    for entry in output(files, "manifest.json")["files"][:2]:
        assert "/" not in entry["name"] and entry["name"] in names
        assert {d["plan"] for d in output(files, entry["name"])["documents"]} == {entry["plan"]}
    assert {entry["plan"] for entry in output(files, "manifest.json")["files"][:2]} == set(ids.values())


@pytest.mark.parametrize("plan_id", ["..", ".", "", "a/b", "a\\b", "con", "x" * 300, "é" * 200, "\x00", "-rf"])
def test_every_output_name_is_one_plain_file_in_the_folder(plan_id, tmp_path):
    name = run_output.output_name(plan_id)
    assert name.endswith(".json") and "/" not in name and "\x00" not in name and name not in (".", "..")
    assert len(name.encode("utf-8")) <= 255
    assert (tmp_path / name).parent == tmp_path
    (tmp_path / name).write_text("{}", encoding="utf-8")  # the file system takes it


def test_output_names_of_distinct_ids_are_distinct():
    ids = ["a/b", "a%2Fb", "A", "a", "x" * 300, "x" * 301, ".", "..", "", "%"]
    assert len({run_output.output_name(i) for i in ids}) == len(ids)


@pytest.mark.parametrize(
    "ids, message",
    [
        ({"portone-opi": "manifest"}, "would write manifest.json"),
        ({"portone-opi": "Academy", "onehour-business-partner": "academy"}, "differ only in case"),
    ],
)
def test_plans_whose_files_would_collide_are_refused(ratecard, files, monkeypatch, ids, message):
    with_ids(monkeypatch, ids)
    customers = files["root"] / "renamed.csv"
    text = files["customers"].read_text(encoding="utf-8")
    for old, new in ids.items():
        text = text.replace(old, new)
    customers.write_text(text, encoding="utf-8")
    result = billing(ratecard, files, customers=customers)
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert not files["out"].exists()


def test_the_lock_is_held_by_one_run_at_a_time_and_leaves_no_file(tmp_path):
    with run_output.locked(tmp_path), pytest.raises(run_output.OutputProblem, match="another run is writing"), run_output.locked(tmp_path):
        pass
    assert os.listdir(tmp_path) == []
    with run_output.locked(tmp_path):  # free again
        assert os.listdir(tmp_path) == [run_output.LOCK]


def test_a_plan_id_with_escape_sequences_reaches_the_terminal_escaped(ratecard, files, monkeypatch):
    with_ids(monkeypatch, {"portone-opi": "evil\x1b[2J"})
    customers = files["root"] / "renamed.csv"
    customers.write_text(files["customers"].read_text(encoding="utf-8").replace("portone-opi", "evil\x1b[2J"), encoding="utf-8")
    result = billing(ratecard, files, customers=customers)
    assert result.exit_code == 3, result.output
    assert "\x1b" not in result.output
    assert "evil\\x1b[2J: 5 customer(s)" in result.output
    assert (files["out"] / "evil%1B%5B2J.json").is_file()


@pytest.mark.parametrize(
    "data",
    [
        {"documents": [{"customer": "acme", "lines": [], "notices": {}, "total": "12.50", "rate": None, "kept": True}], "rejected": []},
        {"text": ['\x00\x01\x1f\x7f\u2028\u2029é中😀"\\/\b\f\n\r\t', "", " "], "nested": [[], [{}], [[1, -2]]]},
        {"count": 10**30, "small": -(2**63), "flag": False},  # past 64 bits: written the json module's way
    ],
)
def test_run_files_are_indented_as_the_json_module_writes_them(data):
    assert run_output.pretty_json(data) == json.dumps(data, indent=2, ensure_ascii=False)
