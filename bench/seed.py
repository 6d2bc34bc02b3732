#!/usr/bin/env python3
"""Seeds a benchmark dataset straight into an update-mode database.

    bench/seed.py DATABASE_URL PROGRAMS [IDS_FILE]

The schema must exist (`update-mode migrate`). Rows are written as the API
would write them, deterministically (a fixed random seed):

- 10 tenants, `bench-0` to `bench-9`; `bench-0` holds half of the programs
  (the tenant the benchmarks list), the others share the rest;
- programs of both types and channels (70% DSL, 15% Alipay+ channel) in
  every update mode, with 0 to 5 update mode changes of history each;
- 0 to 12 versions per program (about 6 on average) in every status: older
  versions offline, then a full release, sometimes a gray release, and newer
  ones new, pending, approved or rejected.

SQLite is written with Python's sqlite3 module, PostgreSQL with psql's COPY,
so nothing needs installing. IDS_FILE receives the ids of the `bench-0`
programs whose update mode an admin may change (DSL, own channel), one per
line, for the mutation benchmarks.
"""

import csv
import io
import random
import sqlite3
import subprocess
import sys
import unicodedata
from datetime import datetime, timedelta

MODES = ["DEFAULT", "ASYNC", "SYNC"]
TENANTS = 10
BASE = datetime(2026, 1, 1)


def tenant_of(index, programs):
    big = programs // 2
    return "bench-0" if index < big else f"bench-{1 + index % (TENANTS - 1)}"


def name_key(name):
    """The key names are unique by (`domain::name_key`): NFKC, then case
    folded. Written here so that the first start has no keys to fill."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def stamp(minutes):
    return (BASE + timedelta(minutes=minutes)).strftime("%Y-%m-%d %H:%M:%S")


def rows(programs):
    """Yields (table, row) in an order that satisfies the foreign keys."""
    rng = random.Random(20261125)
    for index in range(programs):
        pid = f"mp-{index:07d}"
        workspace = tenant_of(index, programs)
        name = f"{rng.choice(['Shop', 'Pay', 'Ride', 'Food', 'Mall', 'Bank', 'Trip', 'Game'])} {index:07d}"
        program_type = "DSL" if rng.random() < 0.7 else "H5"
        channel = "ALIPAY_PLUS" if rng.random() < 0.15 else "WORKSPACE"
        changes = rng.randint(0, 5)
        modes = ["DEFAULT"]
        for _ in range(changes):
            modes.append(rng.choice([m for m in MODES if m != modes[-1]]))
        created = index % 100000
        yield "mini_programs", (
            pid, workspace, name, name.lower(), program_type, channel, modes[-1],
            1 + changes, stamp(created), stamp(created + changes * 60),
            3600, 864000, 1, name_key(name),
        )
        for revision in range(2, changes + 2):
            yield "update_mode_changes", (
                pid, revision, modes[revision - 2], modes[revision - 1], "bench-admin",
                stamp(created + (revision - 1) * 60),
            )
        count = rng.randint(0, 12)
        released = rng.randint(0, max(count - 1, 0)) if count else -1
        gray = released + 1 if count > released + 1 and rng.random() < 0.3 else -1
        for number in range(count):
            if number < released:
                status = "OFFLINE"
            elif number == released:
                status = "FULL_RELEASE"
            elif number == gray:
                status = "GRAY_RELEASE"
            elif number == count - 1:
                status = rng.choice(["NEW_VERSION_CREATED", "PENDING_APPROVAL", "APPROVED", "REJECTED"])
            else:
                status = rng.choice(["NEW_VERSION_CREATED", "REJECTED", "APPROVED"])
            submitted = status != "NEW_VERSION_CREATED"
            decided = status not in ("NEW_VERSION_CREATED", "PENDING_APPROVAL")
            released_at = status in ("OFFLINE", "FULL_RELEASE", "GRAY_RELEASE")
            at = created + number * 30
            yield "mini_program_versions", (
                f"{pid}-v{number:02d}", pid, 1 + number // 10, number % 10, 0,
                f"Version {number}",
                status,
                rng.choice(MODES) if submitted else None,
                stamp(at),
                stamp(at + 5) if submitted else None,
                rng.choice([10, 20, 50]) if status == "GRAY_RELEASE" else None,
                stamp(at + 10) if decided else None,
                "bench-approver" if decided else None,
                None,
                stamp(at + 15) if released_at else None,
            )


COLUMNS = {
    "mini_programs": "id, workspace_id, name, search_name, program_type, channel, update_mode, "
    "revision, created_at, updated_at, async_update_seconds, sync_update_seconds, policy_revision, "
    "name_key",
    "update_mode_changes": "mini_program_id, revision, previous_mode, mode, changed_by, changed_at",
    "mini_program_versions": "id, mini_program_id, major, minor, patch, description, status, "
    "update_mode, created_at, submitted_at, gray_percentage, decided_at, decided_by, "
    "decision_comment, released_at",
}


def seed_sqlite(path, programs):
    db = sqlite3.connect(path)
    db.execute("PRAGMA foreign_keys = OFF")
    with db:
        for table, row in rows(programs):
            marks = ", ".join("?" * len(row))
            db.execute(f"INSERT INTO {table} ({COLUMNS[table]}) VALUES ({marks})", row)
    db.execute("ANALYZE")
    db.close()


def seed_postgres(url, programs):
    buffers = {table: io.StringIO() for table in COLUMNS}
    writers = {table: csv.writer(buffer, lineterminator="\n") for table, buffer in buffers.items()}
    for table, row in rows(programs):
        writers[table].writerow(["\\N" if value is None else value for value in row])
    script = io.StringIO()
    script.write("BEGIN;\n")
    for table in ["mini_programs", "update_mode_changes", "mini_program_versions"]:
        script.write(f"COPY {table} ({COLUMNS[table]}) FROM STDIN WITH (FORMAT csv, NULL '\\N');\n")
        script.write(buffers[table].getvalue())
        script.write("\\.\n")
    script.write("COMMIT;\nANALYZE;\n")
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", url], input=script.getvalue(),
                   text=True, check=True, stdout=subprocess.DEVNULL)


def editable_ids(programs):
    for table, row in rows(programs):
        if table == "mini_programs" and row[1] == "bench-0" and row[4] == "DSL" and row[5] == "WORKSPACE":
            yield row[0]


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    url, programs = sys.argv[1], int(sys.argv[2])
    if url.startswith("sqlite://"):
        seed_sqlite(url[len("sqlite://"):], programs)
    else:
        seed_postgres(url, programs)
    if len(sys.argv) == 4:
        with open(sys.argv[3], "w") as ids:
            ids.write("\n".join(editable_ids(programs)) + "\n")


if __name__ == "__main__":
    main()
