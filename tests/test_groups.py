"""Grouped charges (`group_by:`, `prices:`): lines per group, price tables, rejected rows, check, explain, diff.

Peers: Orb's matrix prices (one or two event-property dimensions, a unit
price per cell, a dimension value left out matching any value, and a
`default_unit_amount` for usage no cell buckets:
https://www.rubydoc.info/gems/orb-billing/Orb/Models/MatrixWithAllocationConfig and
https://www.rubydoc.info/gems/orb-billing/Orb/Models/MatrixValue), and the
dimensional example of the pricing contract (cloud and instance).
"""

from __future__ import annotations

import json
import textwrap
from decimal import Decimal

from hypothesis import HealthCheck, given, settings, strategies as st

from interpreter.output.explain import explain
from interpreter.output.render import document_data
from plan_helpers import compile_plan, problems_of, rate_csv

CLOUD = """
    plan: cloud
    currency: USD
    usage:
      cloud: {type: text, values: [aws, gcp, azure]}
      instance: {type: text, values: [cpu, gpu]}
      hours: number
    metrics:
      hours: {sum: hours}
    charges:
      compute:
        model: per_unit
        on: hours
        group_by: [cloud, instance]
        unit_price: 0.10
        prices:
          - {match: {cloud: gcp}, unit_price: 0.12}
          - {match: {cloud: aws, instance: gpu}, model: graduated, tiers: [{up_to: 100, unit_price: 2.5}, {unit_price: 2}]}
"""

LEDGER = """
    event_id,customer,timestamp,cloud,instance,hours
    1,a,2024-11-01T00:00:00Z,aws,gpu,100
    2,a,2024-11-03T00:00:00Z,aws,gpu,50
    3,a,2024-11-02T00:00:00Z,gcp,cpu,10
    4,a,2024-11-02T00:00:00Z,gcp,gpu,1
    5,a,2024-11-02T00:00:00Z,azure,cpu,10
    6,a,2024-11-02T00:00:00Z,aws,cpu,5
"""


def lines(result) -> list[tuple[str, str, str]]:
    return [(line["id"], line["quantity"], line["amount"]) for d in result.documents for line in document_data(d)["lines"]]


def test_the_contract_example_one_line_per_group_sorted_by_value(tmp_path):
    # aws,gpu: graduated 100 x 2.5 + 50 x 2 = 350.00; gcp (either instance): 0.12 per hour;
    # azure and aws,cpu: the default 0.10 per hour
    result = rate_csv(compile_plan(CLOUD), tmp_path, LEDGER, period="2024-11")
    assert lines(result) == [
        ("compute[aws,cpu]", "5", "0.50"),
        ("compute[aws,gpu]", "150", "350.00"),
        ("compute[azure,cpu]", "10", "1.00"),
        ("compute[gcp,cpu]", "10", "1.20"),
        ("compute[gcp,gpu]", "1", "0.12"),
    ]
    assert result.rejected == []
    assert document_data(result.documents[0])["lines"][1]["description"] == "compute (cloud=aws, instance=gpu)"


def test_orb_matrix_with_a_wildcard_cell_and_a_default_unit_amount(tmp_path):
    # Orb matrix: dimensions (region, tier); cells (us, pro) = 0.05, (eu, any tier) = 0.04, default 0.10.
    # us/pro 1,000 x 0.05 = 50.00; eu/free 500 x 0.04 = 20.00; eu/pro 250 x 0.04 = 10.00; us/free 100 x 0.10 = 10.00
    plan = compile_plan(
        """
        plan: matrix
        currency: USD
        usage:
          region: {type: text, values: [us, eu]}
          tier: {type: text, values: [free, pro]}
          calls: integer
        metrics:
          calls: {sum: calls}
        charges:
          api:
            model: per_unit
            on: calls
            group_by: [region, tier]
            unit_price: 0.10
            prices:
              - {match: {region: us, tier: pro}, unit_price: 0.05}
              - {match: {region: eu}, unit_price: 0.04}
        """
    )
    ledger = """
        event_id,customer,timestamp,region,tier,calls
        1,m,2024-11-05T00:00:00Z,us,pro,1000
        2,m,2024-11-05T00:00:00Z,eu,free,500
        3,m,2024-11-05T00:00:00Z,eu,pro,250
        4,m,2024-11-05T00:00:00Z,us,free,100
    """
    result = rate_csv(plan, tmp_path, ledger, period="2024-11")
    assert lines(result) == [
        ("api[eu,free]", "500", "20.00"),
        ("api[eu,pro]", "250", "10.00"),
        ("api[us,free]", "100", "10.00"),
        ("api[us,pro]", "1000", "50.00"),
    ]
    assert document_data(result.documents[0])["total"] == "90.00"


def test_a_group_no_price_matches_is_rejected_never_dropped(tmp_path, ratecard):
    plan_text = textwrap.dedent(CLOUD).replace("    unit_price: 0.10\n", "")
    result = rate_csv(compile_plan(plan_text), tmp_path, LEDGER, period="2024-11")
    assert lines(result) == [("compute[aws,gpu]", "150", "350.00"), ("compute[gcp,cpu]", "10", "1.20"), ("compute[gcp,gpu]", "1", "0.12")]
    assert [(r.row, r.reason) for r in result.rejected] == [
        (5, "no price for cloud=azure, instance=cpu"),
        (6, "no price for cloud=aws, instance=cpu"),
    ]
    plan = tmp_path / "cloud.yaml"
    plan.write_text(plan_text, encoding="utf-8")
    out = ratecard("rate", plan, "--usage", tmp_path / "ledger.csv", "--period", "2024-11", "--format", "json")
    assert out.exit_code == 3
    assert json.loads(out.stdout)["rejected"][0]["reason"] == "no price for cloud=azure, instance=cpu"


def test_integer_and_bool_groups_name_their_lines_and_sort_by_value(tmp_path):
    plan = compile_plan(
        """
        plan: sizes
        currency: USD
        usage:
          size: integer
          spot: {type: bool, default: false}
          hours: number
        metrics:
          hours: {sum: hours}
        charges:
          vm:
            model: per_unit
            on: hours
            group_by: [size, spot]
            unit_price: 1
            prices:
              - {match: {spot: true}, unit_price: 0.25}
              - {match: {size: 16}, unit_price: 3}
        """
    )
    ledger = """
        event_id,customer,timestamp,size,spot,hours
        1,c,2024-11-05T00:00:00Z,16,,2
        2,c,2024-11-05T00:00:00Z,2,true,4
        3,c,2024-11-05T00:00:00Z,2,,1
        4,c,2024-11-05T00:00:00Z,16,true,8
    """
    result = rate_csv(plan, tmp_path, ledger, period="2024-11")
    assert lines(result) == [
        ("vm[2,false]", "1", "1.00"),
        ("vm[2,true]", "4", "1.00"),
        ("vm[16,false]", "2", "6.00"),
        ("vm[16,true]", "8", "2.00"),
    ]


def test_minimum_and_maximum_hold_per_group_and_discounts_take_every_group_line(tmp_path):
    text = CLOUD.replace("        unit_price: 0.10\n", "        unit_price: 0.10\n        minimum: 1\n        maximum: 300\n")
    text += "    discounts:\n      promo: {percent: 10%, applies_to: [compute]}\n"
    result = rate_csv(compile_plan(text), tmp_path, LEDGER, period="2024-11")
    # each group's line raised to 1.00 or capped at 300.00 (aws,gpu: 350 -> 300); 10% off all five lines
    assert lines(result) == [
        ("compute[aws,cpu]", "5", "1.00"),
        ("compute[aws,gpu]", "150", "300.00"),
        ("compute[azure,cpu]", "10", "1.00"),
        ("compute[gcp,cpu]", "10", "1.20"),
        ("compute[gcp,gpu]", "1", "1.00"),
        ("promo", None, "-30.42"),
    ]


def test_explain_shows_the_matched_entry(tmp_path):
    result = rate_csv(compile_plan(CLOUD), tmp_path, LEDGER, period="2024-11", trace=True)
    shown = explain(result.documents[0], textwrap.dedent(CLOUD))
    assert "compute[aws,gpu]  'compute (cloud=aws, instance=gpu)'  ->  $350.00" in shown
    assert "(graduated, price entry matching cloud=aws, instance=gpu)" in shown
    assert "(per_unit, the charge's own price)" in shown
    # the group's own quantity and the matched entry's tiers, not the document's hours or the charge's price
    assert "quantity: hours = 150 (this group's rows)" in shown
    assert "Tier 1 · up to 100: 100 × $2.50 = $250.00" in shown
    assert "Tier 2 · above 100: 50 × $2.00 = $100.00" in shown


def test_check_validates_group_fields_match_keys_and_values():
    problems = problems_of(
        """
        plan: bad
        currency: USD
        usage:
          cloud: {type: text, values: [aws, gcp]}
          hours: number
        metrics:
          hours: {sum: hours}
        charges:
          compute:
            model: per_unit
            on: hours
            group_by: [cloud, hours, clod]
            unit_price: 1
            prices:
              - {match: {cloud: azure}, unit_price: 2}
              - {match: {cluod: aws}, unit_price: 2}
              - {match: {cloud: 5}, unit_price: 2}
          other:
            model: per_unit
            on: hours
            unit_price: 1
            prices: [{match: {}, unit_price: 2}]
        """
    )
    assert [m for _, _, m in problems] == [
        "a charge is grouped by text, integer or bool fields; 'hours' is number",
        "'clod' is not a usage field; did you mean 'cloud'?",
        "'azure' is not one of the values of 'cloud'",
        "'cluod' is not one of the group_by fields of this charge (cloud); did you mean 'cloud'?",
        "5 is not a value of 'cloud', which is text",
        "charge 'other' has `prices:` but no `group_by:` to tell its groups apart",
    ]


def test_check_warns_about_an_entry_that_can_never_match():
    text = CLOUD + "          - {match: {cloud: gcp, instance: cpu}, unit_price: 1}\n"
    assert problems_of(text) == [
        (19, 9, "this price entry of 'compute' can never match: every group it matches is matched first by the entry at line 17")
    ]
    text = CLOUD.replace("      - {match: {cloud: gcp}", "      - {match: {}, unit_price: 1}\n          - {match: {cloud: gcp}")
    assert [m for _, _, m in problems_of(text)][0].endswith("every group is matched first by the entry at line 17")


def test_an_entry_of_another_kind_of_model_is_refused():
    text = CLOUD + "          - {match: {cloud: azure}, model: flat, amount: 5}\n"
    assert [m for _, _, m in problems_of(text)] == [
        "a flat entry cannot price the groups of a per_unit charge: they price different things"
    ]


def test_diff_shows_each_new_group_line(ratecard, tmp_path):
    old = tmp_path / "old.yaml"
    old.write_text(textwrap.dedent(CLOUD).replace("    group_by: [cloud, instance]\n", "").split("    prices:")[0], encoding="utf-8")
    new = tmp_path / "new.yaml"
    new.write_text(textwrap.dedent(CLOUD), encoding="utf-8")
    ledger = tmp_path / "ledger.csv"
    ledger.write_text(textwrap.dedent(LEDGER).lstrip(), encoding="utf-8")
    out = ratecard("diff", old, new, "--usage", ledger, "--period", "2024-11", "--format", "json")
    assert out.exit_code == 0, out.stderr
    summary = json.loads(out.stdout)["summary"]
    assert summary["new_lines"] == ["compute[aws,cpu]", "compute[aws,gpu]", "compute[azure,cpu]", "compute[gcp,cpu]", "compute[gcp,gpu]"]
    assert summary["vanished_lines"] == ["compute"]


ROW = st.tuples(st.sampled_from(["aws", "gcp", "azure"]), st.sampled_from(["cpu", "gpu"]), st.integers(0, 500))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(ROW, min_size=1, max_size=12), price=st.decimals(min_value=0, max_value=5, places=2))
def test_group_lines_add_up_to_the_ungrouped_charge_at_one_price(tmp_path, rows, price):
    """Whole hours at a price in cents: every line is exact, so the groups' lines sum to the one line."""
    grouped = CLOUD.split("    prices:")[0].replace("unit_price: 0.10", f"unit_price: {price}")
    ungrouped = grouped.replace("        group_by: [cloud, instance]\n", "")
    ledger = "event_id,customer,timestamp,cloud,instance,hours\n" + "".join(
        f"{i},c,2024-11-0{1 + i % 9}T00:00:00Z,{cloud},{instance},{hours}\n" for i, (cloud, instance, hours) in enumerate(rows)
    )
    apart = rate_csv(compile_plan(grouped), tmp_path, ledger, period="2024-11")
    whole = rate_csv(compile_plan(ungrouped), tmp_path, ledger, period="2024-11")
    parts = [Decimal(amount) for _, _, amount in lines(apart)]
    assert len(parts) == len({(cloud, instance) for cloud, instance, _ in rows})
    assert sum(parts) == Decimal(lines(whole)[0][2])
    assert document_data(apart.documents[0])["total"] == document_data(whole.documents[0])["total"]


def test_check_looks_into_each_entry_like_a_charge():
    # an entry's volume table that drops at its bound warns as a charge's would
    text = CLOUD + "          - {match: {cloud: azure}, model: volume, tiers: [{up_to: 10, flat: 5}, {unit_price: 0.1}]}\n"
    messages = [m for _, _, m in problems_of(text)]
    assert messages == [
        "at 10 the charge 'compute' drops from 5 to 1 when usage enters this tier: more usage, smaller bill "
        "(add `allow_decrease: true` if intended)"
    ]


def test_curve_of_a_charge_priced_by_its_table_only_is_refused_with_a_reason(ratecard, tmp_path):
    plan = tmp_path / "cloud.yaml"
    plan.write_text(textwrap.dedent(CLOUD).replace("    unit_price: 0.10\n", ""), encoding="utf-8")
    out = ratecard("curve", plan, "compute")
    assert out.exit_code != 0 and "priced per group by its `prices:` table only" in out.stderr
