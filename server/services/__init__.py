"""Services: the commands of the registry and the consent log, each rule in one place.

The admin API, the admin UI, the public API, the privacy center pages and the CLI call these and
only translate their typed errors (`errors.py`) to JSON, form messages or exit codes.
"""
