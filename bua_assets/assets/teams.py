"""Who owns each group of assets, shown in the UI beside every asset: the people to ask when a
month's step fails. Finance operations own the accrual and its exports; data engineering the
inputs, profiles and estimates they rest on."""

DATA_ENGINEERING = "team:bua-data-engineering"
FINANCE_OPERATIONS = "team:finance-operations"

OWNERS = {
    "core": [DATA_ENGINEERING],
    "meter_data": [DATA_ENGINEERING],
    "profiles": [DATA_ENGINEERING],
    "estimation": [DATA_ENGINEERING],
    "billing": [FINANCE_OPERATIONS, DATA_ENGINEERING],
    "operations": [DATA_ENGINEERING, FINANCE_OPERATIONS],
}
# Where the step sits in the month: inputs -> profiles -> estimates -> the priced accrual and its outputs.
STAGE = {
    "core": "1-inputs",
    "meter_data": "1-inputs",
    "profiles": "2-profiles",
    "estimation": "3-estimates",
    "billing": "4-accrual",
    "operations": "5-run-record",
}


def team(group: str) -> dict:
    """The @dg.asset arguments for an asset of ``group``: group name, owners and tags."""
    return {"group_name": group, "owners": OWNERS[group], "tags": {"bua/stage": STAGE[group], "bua/cadence": "monthly"}}
