"""`spotify-assets aws template`: the committed stack template holds exactly the resources the
code defines, and any drift (a table, a column, an IAM action) fails."""

import pyarrow as pa
import pytest

from spotify_assets import constants
from spotify_assets.aws import iam, template
from spotify_assets.aws.tables import ALL_TABLES, Key, Table
from spotify_assets.cli import main
from spotify_assets.transforms import schema
from spotify_assets_tests.deploy_fixtures import STACK_TEMPLATE, load_template


def test_the_committed_template_matches_the_code(capsys):
    assert template.drift(STACK_TEMPLATE) == ""
    assert main(["aws", "template", "--check", str(STACK_TEMPLATE)]) == 0
    assert "is up to date" in capsys.readouterr().out


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(
            lambda monkeypatch: monkeypatch.setitem(
                template.ALL_TABLES, "moods", Table("moods", Key("mood_id", "S"))
            ),
            id="a new serving table",
        ),
        pytest.param(
            lambda monkeypatch: monkeypatch.setitem(
                schema.TABLE_SCHEMAS,
                constants.SONGS,
                schema.SONGS.append(pa.field("tempo", pa.int64())),
            ),
            id="a new lake column",
        ),
        pytest.param(
            lambda monkeypatch: monkeypatch.setattr(
                iam, "RUN_ACTIONS", [*iam.RUN_ACTIONS, "dynamodb:UpdateItem"]
            ),
            id="a new IAM action",
        ),
    ],
)
def test_a_change_in_the_code_is_drift_until_the_template_is_written(
    change, monkeypatch, tmp_path, capsys
):
    copy = tmp_path / "spotify-assets.yaml"
    copy.write_text(STACK_TEMPLATE.read_text())
    change(monkeypatch)
    assert main(["aws", "template", "--check", str(copy)]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith("---") and "differs from the code" in captured.err
    assert main(["aws", "template", str(copy)]) == 0
    assert main(["aws", "template", "--check", str(copy)]) == 0
    # Only the generated part changed: what is written by hand stays as it was.
    before, after = STACK_TEMPLATE.read_text(), copy.read_text()
    for text in (before, after):
        assert text.count(template.BEGIN_MARKER) == text.count(template.END_MARKER) == 1
    assert before.split(template.END_MARKER)[1] == after.split(template.END_MARKER)[1]
    assert before.split(template.BEGIN_MARKER)[0] == after.split(template.BEGIN_MARKER)[0]


def test_a_template_without_the_markers_is_refused(tmp_path, capsys):
    bare = tmp_path / "bare.yaml"
    bare.write_text("Resources: {}\n")
    assert main(["aws", "template", "--check", str(bare)]) == 2
    assert "has no lines" in capsys.readouterr().err


def test_the_template_defines_every_table_of_the_code():
    resources = load_template()["Resources"]
    tables = {
        r["Properties"]["TableName"]["Fn::Sub"]: r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::DynamoDB::Table"
    }
    assert set(tables) == {f"${{TablePrefix}}{name}" for name in ALL_TABLES}
    for properties in tables.values():
        assert properties["BillingMode"] == "PAY_PER_REQUEST"
        assert properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]
        assert properties["SSESpecification"]["SSEEnabled"]
        assert properties["DeletionProtectionEnabled"]
    lake_tables = {
        r["Properties"]["TableInput"]["Name"]: r["Properties"]["TableInput"]
        for r in resources.values()
        if r["Type"] == "AWS::Glue::Table"
    }
    assert set(lake_tables) == set(constants.NORMALIZED_TABLES)
    for name, table_input in lake_tables.items():
        columns = table_input["StorageDescriptor"]["Columns"]
        assert [c["Name"] for c in columns] == schema.TABLE_SCHEMAS[name].names
        # Integers are bigint (the files' int64), timestamps Athena's timestamp (milliseconds).
        for column, field in zip(columns, schema.TABLE_SCHEMAS[name], strict=True):
            if pa.types.is_integer(field.type):
                assert column["Type"] == "bigint"
            if pa.types.is_timestamp(field.type):
                assert field.type.unit == "ms" and column["Type"] == "timestamp"
        assert table_input["Parameters"]["projection.week.range"].startswith(constants.FIRST_WEEK)
