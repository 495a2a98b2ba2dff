"""Provision Superset from bi/definitions: build the import bundle and import it (run by bi/ctl.py).

Runs in Superset's own virtualenv, inside Superset's application context, with Superset's asset import
(ImportAssetsCommand: the command behind POST /api/v1/assets/import/ and Superset's "import assets
under source control"). It overwrites every object of the bundle in one transaction, needs no running
server, no login and no CSRF token, and fails loudly: docs/bi.md says why it was chosen over the REST API
and `superset import-dashboards` (which never updates existing charts or datasets).
Objects this provisioning made earlier and whose definition was removed are deleted afterwards.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bundle import (
    DEFINITIONS,
    DefinitionError,
    Definitions,
    build_bundle,
    load_definitions,
    write_zip,
)


def _prune(definitions: Definitions) -> list[str]:
    """Delete charts and datasets of our database that an earlier provisioning made and no file defines.

    Returns one line per change. Objects made in Superset by hand are never touched, and a dataset they
    still read is kept.
    """
    from superset.connectors.sqla.models import SqlaTable
    from superset.extensions import db
    from superset.models.core import Database
    from superset.models.slice import Slice

    database = db.session.query(Database).filter_by(uuid=definitions.database_uuid).one()
    keep_charts = {c.uuid for c in definitions.charts}
    keep_datasets = {d.uuid for d in definitions.datasets}
    removed = []
    datasets = db.session.query(SqlaTable).filter_by(database_id=database.id, is_managed_externally=True).all()
    for dataset in datasets:
        others = 0
        for chart in db.session.query(Slice).filter_by(datasource_id=dataset.id, datasource_type="table"):
            if chart.is_managed_externally and str(chart.uuid) not in keep_charts:
                removed.append(f"removed chart {chart.slice_name!r} (its definition is gone)")
                db.session.delete(chart)
            elif not chart.is_managed_externally:
                others += 1
        if str(dataset.uuid) not in keep_datasets:
            if others:  # a chart someone made in Superset still reads it: keep it rather than break that chart
                removed.append(
                    f"kept dataset {dataset.table_name!r}: no definition uses it, but {others} "
                    "chart(s) made in Superset do"
                )
            else:
                removed.append(f"removed dataset {dataset.table_name!r} (its definition is gone)")
                db.session.delete(dataset)
    db.session.commit()
    return removed


def main(argv: list[str] | None = None) -> int:
    """Import the bundle made from the definitions and the serving file; print what was provisioned."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--serving-file", type=Path, required=True)
    parser.add_argument("--bundle", type=Path, required=True, help="where to keep the generated ZIP")
    parser.add_argument("--username", default="admin", help="owner of the imported objects")
    parser.add_argument("--definitions", type=Path, default=DEFINITIONS, help="default: bi/definitions")
    args = parser.parse_args(argv)
    try:
        definitions = load_definitions(args.definitions)
        contents = build_bundle(definitions, args.serving_file)
    except DefinitionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    write_zip(contents, args.bundle)

    from superset.app import create_app

    app = create_app()
    with app.app_context():
        from superset import security_manager
        from superset.commands.exceptions import CommandInvalidError
        from superset.commands.importers.v1.assets import ImportAssetsCommand
        from superset.utils.core import override_user

        user = security_manager.find_user(username=args.username)
        if user is None:
            print(
                f"error: no Superset user {args.username!r}: run `make bi` (it initializes Superset)", file=sys.stderr
            )
            return 2
        with override_user(user):
            try:
                ImportAssetsCommand(contents).run()
            except CommandInvalidError as exc:
                print(f"error: Superset refused the bundle {args.bundle}: {exc.normalized_messages()}", file=sys.stderr)
                return 2
            removed = _prune(definitions)
    print(
        f"provisioned {len(definitions.datasets)} datasets, {len(definitions.charts)} charts and dashboard "
        f"/superset/dashboard/{definitions.dashboard['slug']}/ from {args.definitions} ({args.bundle})"
    )
    for line in removed:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
