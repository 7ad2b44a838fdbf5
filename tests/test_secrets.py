"""No secret in logs, metadata or the run config the UI shows: the CORE password comes through
an EnvVar, and a run against MariaDB with a password-protected user never writes it anywhere."""

from __future__ import annotations

import json
import secrets

import dagster as dg
import pymysql
from support import CONFIG, PARTITION, mysql_url_or_skip

from bua_assets.assets.core import core_snapshot, core_tables
from bua_assets.core.database import CoreDatabase
from bua_assets.resources import AnonymiseResource, CoreDatabaseResource, LakeResource, RdsCoreResource
from bua_synth.generator import generate


def test_the_core_password_never_appears_in_logs_metadata_or_run_config(tmp_path, monkeypatch):
    admin_url = mysql_url_or_skip()
    generate(CONFIG, tmp_path / "retailer", admin_url)
    db_name = admin_url.rsplit("/", 1)[1]
    user, password = f"bua_{secrets.token_hex(3)}", f"S3cret-{secrets.token_hex(12)}"
    con = pymysql.connect(host="127.0.0.1", user="root", autocommit=True)
    try:
        with con.cursor() as cur:
            cur.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (user, password))
            cur.execute(f"GRANT SELECT ON `{db_name}`.* TO %s@'%%'", (user,))
        monkeypatch.setenv("BUA_CORE_URL", f"mysql+pymysql://{user}:{password}@127.0.0.1:3306/{db_name}")
        with dg.instance_for_test() as instance:
            result = dg.materialize(
                [core_snapshot, core_tables],
                partition_key=PARTITION,
                instance=instance,
                resources={
                    "core_db": CoreDatabaseResource(url=dg.EnvVar("BUA_CORE_URL")),
                    "lake": LakeResource(base=str(tmp_path / "lake")),
                    "rds": RdsCoreResource(),
                    "anonymise": AnonymiseResource(),
                },
            )
            assert result.success
            run = instance.get_run_by_id(result.run_id)
            shown = [json.dumps(run.run_config, default=str), json.dumps(run.tags, default=str)]
            for record in instance.all_logs(result.run_id):
                shown.append(record.user_message or "")
                if record.dagster_event is not None:
                    shown.append(repr(record.dagster_event))
            text = "\n".join(shown)
            assert user in text  # the redacted URL names the user: the scan does see the resource's output
            assert password not in text
    finally:
        with con.cursor() as cur:
            cur.execute("DROP USER IF EXISTS %s@'%%'", (user,))
        con.close()
        CoreDatabase(admin_url).drop_database()
