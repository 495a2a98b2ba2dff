"""Run inside Superset's virtualenv and app context: open the provisioned database the way charts and
SQL Lab do (Database.get_sqla_engine) and report its pool, settings and what it refuses, as JSON."""

from __future__ import annotations

import json
import sys

ATTEMPTS = {
    "create_table": "CREATE TABLE probe (a INTEGER)",
    "copy_to": "COPY (SELECT 1) TO '/tmp/shop_analytics_probe.csv'",
    "read_text": "SELECT * FROM read_text('/etc/passwd')",
    "attach": "ATTACH '/tmp/shop_analytics_probe.duckdb' AS probe",
    "set_external_access": "SET enable_external_access = true",
    "set_memory_limit": "SET memory_limit = '64GB'",
    "set_temp_directory": "SET temp_directory = '/tmp'",
    # ~480 MB of sorted rows: beyond the memory limit, then beyond the spill cap the test sets.
    "spill_beyond_cap": "CREATE TEMP TABLE big AS SELECT range AS i, hash(range) AS h FROM range(30000000) ORDER BY h",
}
SETTINGS = (
    "access_mode",
    "enable_external_access",
    "lock_configuration",
    "memory_limit",
    "temp_directory",
    "max_temp_directory_size",
)


def main() -> None:
    from superset.app import create_app

    with create_app().app_context():
        from superset.extensions import db
        from superset.models.core import Database

        database = db.session.query(Database).filter_by(uuid=sys.argv[1]).one()
        found: dict[str, object] = {}
        with database.get_sqla_engine() as engine:
            found["pool"] = type(engine.pool).__name__
            with engine.connect() as con:
                found["settings"] = {
                    name: str(value)
                    for name, value in con.exec_driver_sql(
                        "SELECT name, value FROM duckdb_settings() WHERE name IN ({})".format(
                            ", ".join(f"'{s}'" for s in SETTINGS)
                        )
                    ).fetchall()
                }
                found["version"] = con.exec_driver_sql("SELECT max(version) FROM _publication").scalar()
            for name, sql in ATTEMPTS.items():
                try:
                    with engine.connect() as con:
                        con.exec_driver_sql(sql).fetchall()
                    found[name] = "allowed"
                except Exception as exc:  # noqa: BLE001 - the message is the result
                    found[name] = str(exc).splitlines()[0]
    print(json.dumps(found))


if __name__ == "__main__":
    main()
