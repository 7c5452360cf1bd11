"""The `privacy-center` command line: a thin layer over the storage and registry functions."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sys
from pathlib import Path

import click
import yaml

from . import default_database, exports
from . import serve as serving
from .services import registry as registry_service
from .services import retention
from .services.errors import Conflict, Invalid, NotFound
from .storage import accounts, connect, is_postgresql, migrate
from .storage import backup as backup_store
from .storage import decisions as decision_log
from .storage import registry as registry_store
from .storage import revisions as revision_store
from .storage.engine import Unavailable

DEMO_FILE = Path(__file__).parent / "demo" / "registry.yaml"


def _connect(ctx):
    try:
        return connect(ctx.obj["database"])
    except Unavailable as error:
        raise click.ClickException(f"cannot open the database: {error}") from None


def _db(ctx):
    db = _connect(ctx)
    ctx.call_on_close(db.close)
    migrate(db)
    return db


@click.group()
@click.option(
    "--database",
    envvar="PRIVACY_CENTER_DB",
    default=None,
    help="A SQLite database file (default instance/privacy-center.db) or a postgresql:// URL.",
)
@click.pass_context
def main(ctx, database):
    """The privacy center: registry, revisions, consent log and server."""
    ctx.ensure_object(dict)
    ctx.obj["database"] = database or default_database()


@main.command("init-db")
@click.pass_context
def init_db(ctx):
    """Create or migrate the schema (idempotent)."""
    db = _connect(ctx)
    ctx.call_on_close(db.close)
    before, after = migrate(db)
    click.echo(
        f"database {ctx.obj['database']}: schema version {after}"
        + (f" (was {before})" if before != after else " (up to date)")
    )


main.add_command(init_db, "migrate")  # the same command under the name operators look for


@main.command()
@click.option(
    "--to",
    "target",
    required=True,
    metavar="PATH",
    help="The new backup file (never overwritten).",
)
@click.pass_context
def backup(ctx, target):
    """Back up the SQLite database into a new file while the server runs (online backup).

    PostgreSQL is backed up with pg_dump -Fc (docs/storage.md, "Backup and restore").
    """
    database = ctx.obj["database"]
    if is_postgresql(database):
        raise click.ClickException(
            "backup copies a SQLite database; back up PostgreSQL with its own tools: "
            "pg_dump -Fc -f FILE 'URL' (docs/storage.md, \"Backup and restore\")"
        )
    try:
        done = backup_store.sqlite_backup(database, target)
    except backup_store.BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(
        f"backed up {Path(database).resolve()} to {done.path}: {done.decisions:,} decisions, "
        f"schema version {done.schema_version}, {done.size / 2**20:.1f} MiB "
        f"in {done.seconds:.1f} s"
    )


@main.command("copy")
@click.option(
    "--from",
    "source",
    required=True,
    metavar="SQLITE_PATH",
    help="The SQLite database file of the deployment to copy.",
)
@click.option(
    "--to",
    "target",
    required=True,
    metavar="POSTGRESQL_URL",
    help="A new PostgreSQL database, migrated (privacy-center migrate) and empty.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1, 100_000),
    default=5000,
    show_default=True,
    help="Rows per insert batch.",
)
def copy_command(source, target, batch_size):
    """Copy a whole SQLite deployment into an empty PostgreSQL database, every row.

    Compares each table's row count and checksum on both sides and prints them; commits
    only if every one matches (exit 0), else changes nothing (exit 1). docs/storage.md.
    """
    import time

    from .storage import copy as copier
    from .storage import engine

    if is_postgresql(source):
        raise click.BadParameter(
            "is a PostgreSQL URL; copy reads a SQLite file", param_hint="--from"
        )
    if not Path(source).is_file():
        raise click.BadParameter(f"{source}: no such database file", param_hint="--from")
    if not is_postgresql(target):
        raise click.BadParameter(f"'{target}' is not a postgresql:// URL", param_hint="--to")
    started = time.monotonic()
    with contextlib.closing(connect(source)) as src:
        migrate(src)  # as every command does: the source at this release's schema
        try:
            dst = connect(target)
        except Unavailable as error:
            raise click.ClickException(f"cannot open the target: {error}") from None
        with contextlib.closing(dst):
            shown = {"rows": 0}

            def progress(table: str, rows: int) -> None:
                if rows - shown["rows"] >= 100_000:
                    shown["rows"] = rows
                    click.echo(f"{table}: {rows:,} rows", err=True)
                elif rows < shown["rows"]:
                    shown["rows"] = 0

            try:
                result = copier.copy(src, dst, batch_size, progress)
            except copier.CopyRefused as error:
                raise click.ClickException(f"{error}; nothing was copied") from None
    width = max(len(t.table) for t in result.tables)
    click.echo(
        f"{'table':<{width}}  {'source rows':>12}  {'target rows':>12}  "
        f"{'source checksum':<16}  {'target checksum':<16}"
    )
    for t in result.tables:
        click.echo(
            f"{t.table:<{width}}  {t.source.rows:>12,}  {t.target.rows:>12,}  "
            f"{t.source.hex[:16]}  {t.target.hex[:16]}  {'ok' if t.matches else 'DIFFERENT'}"
        )
    rows = sum(t.source.rows for t in result.tables)
    seconds = time.monotonic() - started
    if not result.committed:
        raise click.ClickException(
            "the copy differs from the source (the tables marked DIFFERENT); it was rolled "
            "back: the target is as before"
        )
    click.echo(
        f"copied {rows:,} rows of {len(result.tables)} tables in {seconds:.1f} s: every count "
        "and checksum matches"
    )
    key = engine.instance_dir(engine.normalise(source)) / "secret_key"
    click.echo(
        "serve the copy with the secret key this deployment uses (PRIVACY_CENTER_SECRET_KEY"
        + (f", else the file {key}" if key.exists() else "")
        + "): receipts, erasure records and client hashes are keyed with it"
    )


@main.command()
@click.option("--host", envvar="HOST", default="127.0.0.1", show_default=True)
@click.option("--port", envvar="PORT", default=8000, type=int, show_default=True)
@click.option(
    "--workers",
    envvar="PRIVACY_CENTER_WORKERS",
    default=None,
    type=click.IntRange(min=1),
    help="Worker processes [default: $PRIVACY_CENTER_WORKERS, else 2, one per core measured].",
)
@click.option(
    "--server",
    "model",
    envvar="PRIVACY_CENTER_SERVER",
    type=click.Choice(serving.MODELS),
    default="granian",
    show_default=True,
    help="Serving model: granian, or gunicorn sync/gevent workers, or waitress (to compare).",
)
@click.option(
    "--access-log/--no-access-log",
    envvar="PRIVACY_CENTER_ACCESS_LOG",
    default=True,
    show_default=True,
    help="Log method, path, status and time of each request (never the client's address).",
)
@click.option(
    "--new-secret-key",
    is_flag=True,
    help="Make this machine's secret key the deployment's, after replacing one that leaked "
    "(every app machine must then have the new one).",
)
@click.pass_context
def serve(ctx, host, port, workers, model, access_log, new_secret_key):
    """Serve the application (granian; see docs/benchmarks.md, "Serving model")."""
    from . import load_secret_key, regions
    from .ratelimit import ConfigError, check_environment
    from .storage import deployment, engine

    try:  # a wrong setting is one readable line here, not a traceback from every worker
        check_environment()
        regions.check_environment()
    except (ConfigError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    db = _db(ctx)
    try:
        # The key every worker will use (generated here, once, if there is none yet).
        key = load_secret_key(engine.instance_dir(engine.normalise(ctx.obj["database"])))
        if not deployment.check_secret_key(db, key, replace=new_secret_key):
            raise click.ClickException(
                "this machine's secret key is not the one this database has been served with: "
                "every app machine of a deployment needs the same PRIVACY_CENTER_SECRET_KEY "
                "(with another one, visitors' receipts, admin sessions and erasure records "
                "stop working). After replacing a key on purpose, start once with "
                "--new-secret-key (docs/storage.md)"
            )
    finally:
        db.close()
    try:
        serving.run(ctx.obj["database"], host, port, workers, model, access_log)
    except ValueError as error:
        raise click.ClickException(str(error)) from None


@main.command("create-admin")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--role", type=click.Choice(accounts.ROLES), default="admin", show_default=True)
@click.pass_context
def create_admin(ctx, email, password_stdin, role):
    """Create an admin login; prints a generated password when none is given."""
    if "@" not in email:
        raise click.ClickException(f"'{email}' is not an email address")
    password = sys.stdin.readline().rstrip("\n") if password_stdin else secrets.token_urlsafe(12)
    if len(password) < 10:
        raise click.ClickException("the password must have at least 10 characters")
    try:
        # A printed password has been seen on a screen: its owner replaces it when signing in.
        accounts.create_user(
            _db(ctx), email, password, role, must_change_password=not password_stdin
        )
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    click.echo(
        f"created {role} {email}"
        + (
            ""
            if password_stdin
            else f" with password {password}  (shown once; a new one is asked at the first sign-in)"
        )
    )


@main.command("create-token")
@click.argument("name")
@click.option("--role", type=click.Choice(accounts.ROLES), default="admin", show_default=True)
@click.pass_context
def create_token(ctx, name, role):
    """Print a new admin API token, once; only its hash is stored."""
    click.echo(accounts.create_token(_db(ctx), name, role))


@main.group()
def registry():
    """Registry as code: apply and export registry files."""


def _read_registry_file(path: str):
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise click.ClickException(f"cannot read {path}: {error.strerror}") from None
    try:
        if path.endswith(".json"):
            return json.loads(text)
        return yaml.safe_load(text)
    except (ValueError, yaml.YAMLError, RecursionError) as error:
        raise click.ClickException(
            f"{path} is not valid YAML or JSON: "
            f"{error if not isinstance(error, RecursionError) else 'nested too deeply'}"
        ) from None


PUBLISH_NOTES = {
    "first": "visitors will be asked for their choice",
    "ask_again": "visitors will be asked again",
    "keep": "no new decision needed",
}


def _publish_changed(db, keys, actor):
    for key in keys:
        revision, created = registry_service.publish(db, key, actor)
        kind = registry_service.publish_message_kind(revision, created)
        if created:
            click.echo(f"published {key} revision {revision['number']} ({PUBLISH_NOTES[kind]})")
        else:
            click.echo(f"{key}: unchanged since revision {revision['number']}")


@registry.command("apply")
@click.argument("file")
@click.option("--publish", is_flag=True, help="Publish every site whose content changed.")
@click.option(
    "--prune", is_flag=True, help="Also remove vendors and sites that the file does not list."
)
@click.pass_context
def registry_apply(ctx, file, publish, prune):
    """Make the registry match FILE (YAML or JSON); all or nothing."""
    doc = _read_registry_file(file)
    db = _db(ctx)
    try:
        done = registry_service.apply_file(db, doc, "cli", prune=prune)
    except Invalid as error:
        for problem in error.problems:
            click.echo(f"error: {problem}", err=True)
        raise click.ClickException(
            f"{file}: {len(error.problems)} problem(s); nothing was changed"
        ) from None
    except Conflict as error:
        raise click.ClickException(f"{error.message} Nothing was changed.") from None
    for action, kind, site, key, _, _ in done:
        click.echo(f"{action} {kind} {site + '/' if site and kind != 'site' else ''}{key}")
    if not done:
        click.echo("no changes")
    if publish:
        _publish_changed(db, registry_store.site_keys(db), "cli")


# The order of fields in an exported file: the contract's, so that it reads like a hand-written one.
FIELD_ORDER = {
    name: rank
    for rank, name in enumerate(
        (
            "key",
            "vendor",
            "category",
            "required",
            "name",
            "title",
            "recipient",
            "country",
            "privacy_policy_url",
            "opt_out_url",
            "hosts",
            "cookies",
            "duration_days",
            "data_sent",
            "purpose",
            "origins",
            "languages",
            "default_language",
            "consent_max_age_days",
            "retention_days",
            "cookie_domain",
            "google_consent_mode",
            "honor_gpc",
            "reload_on_withdrawal",
            "notice",
            "regimes",
            "default",
            "regions",
            "description",
            "google_consent_types",
            "gpc_refuses",
            "body",
            "sections",
            "categories",
            "vendors",
            "ja",
            "en",
        )
    )
}


def export_document(db, site_key=None) -> dict:
    """The stored registry shaped like a registry file, defaults left out."""
    doc = registry_store.load(db)
    if site_key is not None:
        sites = [s for s in doc["sites"] if s["key"] == site_key]
        if not sites:
            raise click.ClickException(f"no site '{site_key}'")
        used = {a["vendor"] for a in sites[0]["vendors"]}
        doc = {**doc, "sites": sites, "vendors": [v for v in doc["vendors"] if v["key"] in used]}

    def strip(value):
        if isinstance(value, dict):
            items = sorted(value.items(), key=lambda kv: FIELD_ORDER.get(kv[0], len(FIELD_ORDER)))
            return {k: strip(v) for k, v in items if v not in (None, [], {})}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    out = {}
    if "organization" in doc:
        out["organization"] = strip(doc["organization"])
    out["vendors"] = [strip(v) for v in doc["vendors"]]
    out["sites"] = []
    for site in doc["sites"]:
        site = strip(site)
        site.setdefault("vendors", [])  # strip drops an empty list; a site lists its vendors
        out["sites"].append(site)
    return out


@registry.command("export")
@click.option("--site", "site_key", default=None, help="Only this site and the vendors it uses.")
@click.option(
    "--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True
)
@click.pass_context
def registry_export(ctx, site_key, fmt):
    """Print the registry; applying the output changes nothing."""
    doc = export_document(_db(ctx), site_key)
    if fmt == "json":
        click.echo(json.dumps(doc, ensure_ascii=False, indent=2))
    else:
        click.echo(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=100), nl=False)


@main.command()
@click.argument("site_key")
@click.pass_context
def publish(ctx, site_key):
    """Publish the site's current registry as a new revision."""
    try:
        _publish_changed(_db(ctx), [site_key], "cli")
    except NotFound:
        raise click.ClickException(f"no site '{site_key}'") from None


@main.group()
def decisions():
    """The consent log."""


@decisions.command("export")
@click.argument("site_key")
@click.option("--since", default=None, help="ISO 8601 time (UTC unless it says otherwise).")
@click.option("--until", default=None, help="ISO 8601 time, exclusive.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(exports.FORMATS)),
    default="jsonl",
    show_default=True,
)
@click.pass_context
def decisions_export(ctx, site_key, since, until, fmt):
    """Stream the site's consent log to standard output."""
    db = _db(ctx)
    if site_key not in registry_store.site_keys(db):
        raise click.ClickException(f"no site '{site_key}'")
    try:
        since = since and exports.normalise_time(since)
        until = until and exports.normalise_time(until)
    except ValueError:
        raise click.ClickException(
            "--since and --until must be ISO 8601 times, e.g. 2026-01-31T00:00:00Z"
        ) from None
    for chunk in exports.render(fmt, decision_log.export(db, site_key, since, until)):
        sys.stdout.write(chunk)


@main.command()
@click.option(
    "--origin",
    "origins",
    multiple=True,
    help="Also allow this origin on the demo sites (the server's own address).",
)
@click.option("--admin-email", default="admin@example.com", show_default=True)
@click.option(
    "--server-url",
    default="http://127.0.0.1:8000",
    show_default=True,
    help="Where the server will listen, for the URLs printed.",
)
@click.pass_context
def demo(ctx, origins, admin_email, server_url):
    """Load and publish the demo registry if the database is empty; create the first admin."""
    db = _db(ctx)
    if not registry_store.site_keys(db):
        doc = yaml.safe_load(DEMO_FILE.read_text(encoding="utf-8"))
        for site in doc["sites"]:
            site["origins"] = list(dict.fromkeys(site["origins"] + list(origins)))
        registry_store.apply(db, doc, "demo")
        _publish_changed(db, registry_store.site_keys(db), "demo")
    else:
        click.echo("registry already present; demo not loaded")
    if accounts.user_count(db) == 0:
        chosen = os.environ.get("PRIVACY_CENTER_ADMIN_PASSWORD")
        password = chosen or secrets.token_urlsafe(12)
        accounts.create_user(
            db, admin_email, password, "admin", actor="demo", must_change_password=not chosen
        )
        click.echo(
            f"admin login: {admin_email} / {password}  "
            + (
                "(shown once)"
                if chosen
                else "(shown once; a new one is asked at the first sign-in)"
            )
        )
    for key in revision_store.published_sites(db):
        click.echo(
            f"site {key}: demo page {server_url}/demo/{key}  "
            f"disclosure {server_url}/sites/{key}/disclosure"
        )
    click.echo(f"privacy center: {server_url}/")
    click.echo(f"admin: {server_url}/admin/")
    click.echo(f"API description: {server_url}/api/v1/openapi.json")


# The vendor catalog shipped with the project (server/catalog, docs/catalog.md).


class _CatalogNotFound(click.ClickException):
    exit_code = 2


@main.group()
def catalog():
    """The vendor catalog shipped with the project: list its entries, show one."""


@catalog.command("list")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def catalog_list(fmt):
    """List the catalog's vendors: key, suggested category, name, recipient, country."""
    from . import catalog as vendor_catalog

    entries = vendor_catalog.all()
    if fmt == "json":
        click.echo(json.dumps(entries, ensure_ascii=False, indent=2))
        return
    key_width = max(len(e["key"]) for e in entries)
    for entry in entries:
        click.echo(
            f"{entry['key']:<{key_width}}  {entry['category']:<11}  {entry['name']}"
            f"  ({entry['recipient']}, {entry.get('country') or '-'})"
        )


@catalog.command("show")
@click.argument("key")
@click.option(
    "--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True
)
def catalog_show(key, fmt):
    """Print one catalog entry; its fields but `category` and `sources` are a registry vendor."""
    from . import catalog as vendor_catalog

    entry = vendor_catalog.get(key)
    if entry is None:
        raise _CatalogNotFound(
            f"no vendor '{key}' in the catalog; `privacy-center catalog list` shows its keys"
        )
    if fmt == "json":
        click.echo(json.dumps(entry, ensure_ascii=False, indent=2))
    else:
        doc = {
            k: entry[k] for k in sorted(entry, key=lambda k: FIELD_ORDER.get(k, len(FIELD_ORDER)))
        }
        click.echo(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=100), nl=False)


@main.command()
@click.option(
    "--before",
    metavar="ISO_DATE",
    default=None,
    help="Delete what is older than this date or time (UTC unless it says otherwise) on "
    "every site, instead of each site's retention_days.",
)
@click.option(
    "--site", "site_keys", multiple=True, metavar="KEY", help="Only this site (repeatable)."
)
@click.option("--dry-run", is_flag=True, help="Print what would be deleted; delete nothing.")
@click.option(
    "--batch-size",
    type=click.IntRange(1, 100_000),
    default=5000,
    show_default=True,
    help="Rows per write transaction: decisions recorded meanwhile wait for one batch at most.",
)
@click.option(
    "--audit-retention-days",
    envvar="PRIVACY_CENTER_AUDIT_RETENTION_DAYS",
    type=click.IntRange(1, 36_500),
    default=retention.DEFAULT_AUDIT_RETENTION_DAYS,
    show_default=True,
    help="Days the audit log is kept (env PRIVACY_CENTER_AUDIT_RETENTION_DAYS).",
)
@click.pass_context
def purge(ctx, before, site_keys, dry_run, batch_size, audit_retention_days):
    """Delete decisions, erasure records, unused user agents and audit entries past retention.

    Each site's decisions and erasure records older than its retention_days (or --before) go,
    in short transactions; the daily figures are kept. Run it daily (docs/storage.md).
    """
    db = _db(ctx)
    try:
        plan = retention.plan(
            db,
            retention.parse_before(before) if before is not None else None,
            list(site_keys) or None,
            audit_retention_days,
        )
    except Invalid as error:
        raise click.BadParameter(
            error.relative_problems()[0].split(": ", 1)[1], param_hint="--before"
        ) from None
    except NotFound as error:
        raise click.BadParameter(f"no site '{error.key}'", param_hint="--site") from None
    for site in plan.sites:
        if site.within_consent_lifetime:
            click.echo(
                f"warning: {site.site_key}: {site.before} is within the consent lifetime "
                f"({site.consent_max_age_days} days): proof of consents still in force goes too",
                err=True,
            )
    verb = "would delete" if dry_run else "deleted"
    if dry_run:
        retention.count(db, plan)
        click.echo("dry run: nothing is deleted")
    else:
        retention.run(db, plan, batch=batch_size)
    for site in plan.sites:
        why = f"retention {site.retention_days} days" if site.retention_days else "--before"
        click.echo(
            f"{site.site_key}: {verb} {site.decisions:,} decisions and {site.erasures:,} "
            f"erasure records older than {site.before} ({why})"
        )
    if plan.partitions:
        # PostgreSQL: included in the sites' counts above.
        dropped = "would be dropped" if dry_run else "dropped"
        click.echo(f"month partitions {dropped} whole: {', '.join(plan.partitions)}")
    click.echo(f"user agents no longer used: {verb} {plan.user_agents:,}")
    if not dry_run:
        click.echo(f"retry ids older than a day: deleted {plan.request_ids:,}")
    click.echo(
        f"audit log: {verb} {plan.audit_entries:,} entries older than {plan.audit_before} "
        f"(audit retention {audit_retention_days} days)"
    )
    if not dry_run and plan.batches:
        click.echo(
            f"{len(plan.batches)} write transactions of at most {batch_size:,} rows "
            f"(largest {max(plan.batches):,})"
        )
    click.echo("daily figures kept")


class ScanUsageError(click.ClickException):
    """A scan that could not be run: exit 2, so that a CI job tells it apart from a finding."""

    exit_code = 2


@main.command()
@click.argument("site_key")
@click.option("--url", "urls", multiple=True, help="A page to start from (repeatable).")
@click.option(
    "--max-pages",
    default=20,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="At most this many pages, following same-origin links breadth-first.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option(
    "--fail-on",
    type=click.Choice(["leaks", "any", "none"]),
    default="leaks",
    show_default=True,
    help="Exit 1 on findings of this level: leaks, any (all but not_seen), none.",
)
@click.option(
    "--region",
    default=None,
    metavar="CC[-SUB]",
    help="Scan as a visitor from this region (JP, US-CA): sets the headers named by "
    "PRIVACY_CENTER_REGION_HEADER (and _SUBDIVISION_HEADER) and applies its regime.",
)
@click.option("--stored-scan", type=int, default=None, hidden=True)
@click.pass_context
def scan(ctx, site_key, urls, max_pages, fmt, fail_on, region, stored_scan):
    """Scan a site's pages in Chromium against its published revision.

    Exit status: 0 clean, 1 findings at or above --fail-on, 2 the scan could not be run.
    """
    from .scanner import jobs
    from .scanner import rules as scan_rules
    from .scanner.browser import BrowserMissing, PageFailed
    from .scanner.run import ScanRefused, text_report
    from .scanner.run import scan as run_scan

    db = _db(ctx)
    if stored_scan is not None:  # started from the admin API or UI, in the background
        ctx.exit(jobs.run_stored(db, stored_scan))
    try:
        result = run_scan(db, site_key, urls, max_pages, region=region)
    except (ScanRefused, BrowserMissing, PageFailed) as error:
        raise ScanUsageError(str(error)) from None
    if fmt == "json":
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        click.echo(text_report(result, fail_on))
    ctx.exit(scan_rules.exit_status(result["findings"], fail_on))
