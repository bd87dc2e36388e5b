"""The one SQLite schema, as an ordered list of migrations (``PRAGMA user_version``).

Never edit a migration that has shipped; append a new one.
Times are unix seconds (REAL); :mod:`edge.ledger.store` formats them in the site's time zone.
"""

from __future__ import annotations

#: The daily figures a pass adds to its quarter hour (``pass_figures``), as SQL over the
#: row ``{r}`` (NEW or OLD in a trigger): the same terms the raw query summed before.
FIGURES = {
    "passed": "coalesce({r}.gate_signal = 0, 0)",
    "refused": "({r}.verdict = 'refuse')",
    "controlled": "coalesce(control_refusal({r}.verdict, {r}.reason_code), 0)",
    "stage3": "coalesce({r}.gate_signal = 0 AND {r}.verify_json ->> '$.emission' = '3', 0)",
    "stage4": "coalesce({r}.gate_signal = 0 AND {r}.verify_json ->> '$.emission' = '4', 0)",
    "gate_crashes": "({r}.reason_code = 'gate-crash')",
    "overrides": "({r}.decided_by = 'guard')",
    "quota": "({r}.reason_code LIKE '%-quota')",
}
#: Seconds in a ``pass_figures`` bucket: every time zone's midnight is on a quarter hour.
BUCKET = 900
#: How an update changes the bytes of kept photos.
_KEPT_CHANGE = "(NEW.pruned_at IS NULL) * NEW.size - (OLD.pruned_at IS NULL) * OLD.size"


def _add(r: str, sign: str) -> str:
    """SQL adding (``sign`` "") or taking away ("-") row ``r``'s figures."""
    cols = ", ".join(FIGURES)
    vals = ", ".join(f"{sign}{e.format(r=r)}" for e in FIGURES.values())
    sets = ", ".join(f"{c} = {c} + excluded.{c}" for c in FIGURES)
    return (
        f"INSERT INTO pass_figures (bucket, lane_id, direction, {cols}) VALUES "  # noqa: S608 - constants
        f"(CAST({r}.received_at / {BUCKET} AS INTEGER), {r}.lane_id, {r}.direction, {vals}) "
        f"ON CONFLICT (bucket, lane_id, direction) DO UPDATE SET {sets};"
    )


def _tally(name: str, amount: str | int) -> str:
    """SQL adding ``amount`` to the tally ``name``."""
    return (
        f"INSERT INTO tallies (name, n) VALUES ({name}, {amount}) "  # noqa: S608 - constants
        "ON CONFLICT (name) DO UPDATE SET n = n + excluded.n;"
    )


#: An accepted filing's plate off the 待完善 list (row ``NEW`` of ``filings``).
_FILED = (
    "UPDATE need_complete SET done_at = NEW.at, done_by = 'filing' WHERE done_at IS NULL "
    "AND (plate, plate_color) = (SELECT plate, plate_color FROM filing_entries "
    "WHERE id = NEW.entry_id AND register != 'machine');"
)

#: The triggers that keep the 待完善 list as filings are accepted (migration 15).
_FILED_TRIGGERS = f"""
    CREATE TRIGGER need_complete_filed AFTER INSERT ON filings
        WHEN NEW.state = 'accepted' BEGIN {_FILED} END;
    CREATE TRIGGER need_complete_refiled AFTER UPDATE OF state ON filings
        WHEN NEW.state = 'accepted' BEGIN {_FILED} END;
"""
#: The columns of ``filing_entries`` (migration 13), copied as they are by migration 17.
_ENTRY_COLUMNS = (
    "id, register, plate, plate_color, vehicle_type, vin, use_character, engine_no, owner, "
    "address, model, register_date, issue_date, emission, fleet, name, code, production_date, "
    "status, created_at, created_by, changed_at, changed_by"
)

#: The columns of ``weighings`` (migrations 10 and 16), copied as they are by migrations 18, 19.
_WEIGHING_COLUMNS = (
    "id, plate, plate_color, state, first_scale, first_kg, first_at, first_serial, "
    "second_scale, second_kg, second_at, second_serial, gross_kg, tare_kg, net_kg, "
    "tare_preset, goods, ysl, goods_error, candidates, first_photo, second_photo"
)

#: The columns of ``weighings`` after its id, as migration 18 made them (19 keeps them).
_WEIGHING_V18 = """\
        plate         TEXT,
        plate_color   TEXT    NOT NULL,
        state         TEXT    NOT NULL CHECK (state IN ('open', 'complete', 'expired',
                                                        'unmatched', 'planned', 'discarded')),
        first_scale   TEXT    NOT NULL,
        first_kg      REAL    NOT NULL,
        first_at      REAL    NOT NULL,
        first_serial  TEXT,
        second_scale  TEXT,
        second_kg     REAL,
        second_at     REAL,
        second_serial TEXT,
        gross_kg      REAL,
        tare_kg       REAL,
        net_kg        REAL,
        tare_preset   INTEGER NOT NULL DEFAULT 0,
        goods         TEXT,
        ysl           TEXT,
        goods_error   TEXT,
        candidates    TEXT,
        first_photo   TEXT,
        second_photo  TEXT,
        discarded     TEXT                        -- discarded: by whom and why
"""

#: The indexes of ``weighings`` (migrations 10 and 16), made again by each rebuild (18, 19).
_WEIGHING_INDEXES = """\
CREATE INDEX weighings_open ON weighings (plate, first_at) WHERE state = 'open';
    CREATE INDEX weighings_recent ON weighings (first_at);
    CREATE INDEX weighings_first_serial ON weighings (first_serial)
        WHERE first_serial IS NOT NULL;
    CREATE INDEX weighings_second_serial ON weighings (second_serial)
        WHERE second_serial IS NOT NULL;
    CREATE INDEX weighings_unmatched ON weighings (first_at) WHERE state = 'unmatched';"""

#: Migrations that rebuild a table other tables reference (by number): the ledger runs them
#: with foreign keys off and checks every reference (``PRAGMA foreign_key_check``) before they
#: commit, as SQLite's ALTER TABLE page prescribes (with them on, dropping the old table
#: breaks every reference to it).
REBUILDS = frozenset({17, 18, 19})

MIGRATIONS: list[str] = [
    # 1: the ledger, its photos and the outbox that forwards both.
    """
    CREATE TABLE passes (
        id            INTEGER PRIMARY KEY,
        serial        TEXT    NOT NULL UNIQUE,     -- 流水号 §6.4
        lane_id       TEXT    NOT NULL,
        gate_code     TEXT    NOT NULL,
        direction     TEXT    NOT NULL CHECK (direction IN ('in', 'out')),
        plate         TEXT,                        -- NULL: no readable plate (无牌车)
        plate_color   TEXT    NOT NULL,            -- §7.1
        flag          TEXT,                        -- why a guard should look at it
        camera_time   REAL    NOT NULL,
        received_at   REAL    NOT NULL,
        source        TEXT    NOT NULL,            -- ingest adapter
        vendor_id     TEXT,                        -- camera's own record id, if any
        verdict       TEXT    NOT NULL CHECK (verdict IN ('open', 'refuse')),
        reason_code   TEXT    NOT NULL,
        reason        TEXT    NOT NULL,
        decided_by    TEXT    NOT NULL,            -- platform / offline / local
        verify_json   TEXT,                        -- the platform's answer, when it gave one
        barrier       TEXT,                        -- opened / failed / not-commanded; NULL unknown
        barrier_error TEXT,
        state         TEXT    NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'final')),
        gate_signal   INTEGER,                     -- 0 passed, 1 not lifted, 2 lifted not passed
        passed_at     REAL,
        confirmed_by  TEXT                         -- detector / timeout / barrier / restart
    );
    CREATE INDEX passes_plate ON passes (plate, id);
    CREATE INDEX passes_open ON passes (state) WHERE state = 'open';

    CREATE TABLE photos (
        id        INTEGER PRIMARY KEY,
        pass_id   INTEGER NOT NULL REFERENCES passes (id),
        number    INTEGER NOT NULL,                -- §7.2 1 front, 2 rear
        kind      INTEGER NOT NULL,                -- §7.3 1 entry, 2 exit, 3 gate crash
        path      TEXT    NOT NULL,                -- relative to storage.photo_dir
        size      INTEGER NOT NULL,
        taken_at  REAL    NOT NULL
    );
    CREATE INDEX photos_pass ON photos (pass_id);

    CREATE TABLE outbox (
        id              INTEGER PRIMARY KEY,
        pass_id         INTEGER NOT NULL REFERENCES passes (id),
        kind            TEXT    NOT NULL CHECK (kind IN ('record', 'photo')),
        photo_id        INTEGER REFERENCES photos (id),
        state           TEXT    NOT NULL CHECK (state IN ('held', 'pending', 'sent', 'dead')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL    NOT NULL DEFAULT 0,
        last_error      TEXT,
        created_at      REAL    NOT NULL,
        sent_at         REAL
    );
    CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE state = 'pending';
    CREATE INDEX outbox_pass ON outbox (pass_id, kind);
    """,
    # 2: photo retention. A pruned photo keeps its row (the ledger) and loses its file.
    """
    ALTER TABLE photos ADD COLUMN pruned_at REAL;
    CREATE INDEX photos_kept ON photos (taken_at) WHERE pruned_at IS NULL;
    """,
    # 3: what the camera sent (images elided), for diagnosis.
    """
    ALTER TABLE passes ADD COLUMN raw TEXT;
    """,
    # 4: control plans started, changed and closed at the gate (or by a technician's command).
    """
    CREATE TABLE control_plans (
        id          INTEGER PRIMARY KEY,
        name        TEXT    NOT NULL,
        strategy    INTEGER NOT NULL CHECK (strategy BETWEEN 1 AND 7),   -- §7.20
        level       INTEGER NOT NULL DEFAULT 1,                          -- §7.18
        area        INTEGER NOT NULL DEFAULT 1,                          -- §7.19
        starts_at   REAL    NOT NULL,
        ends_at     REAL,                                                -- expected end
        baseline    INTEGER NOT NULL DEFAULT 0,  -- heavy entries on a normal day
        closed_at   REAL,
        created_by  TEXT    NOT NULL,
        created_at  REAL    NOT NULL
    );
    CREATE INDEX passes_code ON passes (reason_code, received_at);
    """,
    # 5: who decided a guard's override.
    """
    ALTER TABLE passes ADD COLUMN operator TEXT;
    """,
    # 6: misread corrections, reported after the pass (province CheckFeedbackReport).
    """
    CREATE TABLE corrections (
        id          INTEGER PRIMARY KEY,
        pass_id     INTEGER NOT NULL REFERENCES passes (id),
        plate       TEXT    NOT NULL,            -- the plate after review
        plate_color TEXT    NOT NULL,
        verify_json TEXT,                        -- the platform's answer for the corrected plate
        reviewer    TEXT    NOT NULL,
        reviewed_at REAL    NOT NULL
    );
    CREATE TABLE outbox_v6 (
        id              INTEGER PRIMARY KEY,
        pass_id         INTEGER NOT NULL REFERENCES passes (id),
        kind            TEXT    NOT NULL CHECK (kind IN ('record', 'photo', 'correction')),
        photo_id        INTEGER REFERENCES photos (id),
        correction_id   INTEGER REFERENCES corrections (id),
        state           TEXT    NOT NULL CHECK (state IN ('held', 'pending', 'sent', 'dead')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL    NOT NULL DEFAULT 0,
        last_error      TEXT,
        created_at      REAL    NOT NULL,
        sent_at         REAL
    );
    INSERT INTO outbox_v6 (id, pass_id, kind, photo_id, state, attempts, next_attempt_at,
                           last_error, created_at, sent_at)
        SELECT id, pass_id, kind, photo_id, state, attempts, next_attempt_at, last_error,
               created_at, sent_at FROM outbox;
    DROP TABLE outbox;
    ALTER TABLE outbox_v6 RENAME TO outbox;
    CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE state = 'pending';
    CREATE INDEX outbox_pass ON outbox (pass_id, kind);
    """,
    # 7: list entries added at the gate (beside those of the config).
    """
    CREATE TABLE list_entries (
        id         INTEGER PRIMARY KEY,
        plate      TEXT    NOT NULL,
        kind       TEXT    NOT NULL CHECK (kind IN ('deny', 'in-plant', 'allow')),
        reason     TEXT    NOT NULL DEFAULT '',
        expires_at REAL,
        added_by   TEXT    NOT NULL,
        added_at   REAL    NOT NULL,
        removed_at REAL
    );
    """,
    # 8: the audit log of every action that changes something (IEC 62443-4-2 CR 2.8 style).
    """
    CREATE TABLE audit (
        id      INTEGER PRIMARY KEY,
        at      REAL    NOT NULL,
        actor   TEXT    NOT NULL,   -- who
        action  TEXT    NOT NULL,   -- what
        target  TEXT    NOT NULL DEFAULT '',
        origin  TEXT    NOT NULL,   -- from where (mqtt, web address, cli)
        result  TEXT    NOT NULL,   -- ok / refused / failed
        detail  TEXT    NOT NULL DEFAULT ''
    );
    """,
    # 9: every camera read, the one that made a pass and those merged into it as duplicates
    # (kept, never dropped), with the camera's record id for idempotent re-pushes.
    """
    CREATE TABLE reads (
        id          INTEGER PRIMARY KEY,
        pass_id     INTEGER NOT NULL REFERENCES passes (id),
        lane_id     TEXT    NOT NULL,
        received_at REAL    NOT NULL,
        plate       TEXT,                   -- NULL: no plate, or not a plate (see text)
        plate_color TEXT    NOT NULL,
        text        TEXT,                   -- an unreadable read as it came, escaped
        vendor_id   TEXT,                   -- camera's own record id, if any
        source      TEXT    NOT NULL,
        merged      TEXT,                   -- NULL: made the pass; else why it was merged
        raw         TEXT
    );
    CREATE INDEX reads_vendor ON reads (lane_id, vendor_id) WHERE vendor_id IS NOT NULL;
    CREATE INDEX reads_pass ON reads (pass_id);
    INSERT INTO reads (pass_id, lane_id, received_at, plate, plate_color, vendor_id, source)
        SELECT id, lane_id, received_at, plate, plate_color, vendor_id, source FROM passes
        WHERE vendor_id IS NOT NULL;
    """,
    # 10: weighings on a truck scale (地磅): a first weighing opens a row, the same plate's
    # second one completes it (gross = the larger, tare = the smaller, kg); a preset tare
    # (预置皮重) completes it at once; a first weighing older than the configured maximum is
    # 'expired' (reported, never matched); a stable weight without a plate read 'unmatched';
    # an ERP plan's tonnage at a lane without a scale 'planned'.
    """
    CREATE TABLE weighings (
        id            INTEGER PRIMARY KEY,
        plate         TEXT,                       -- NULL: no plate read at the scale
        plate_color   TEXT    NOT NULL,
        state         TEXT    NOT NULL
                      CHECK (state IN ('open', 'complete', 'expired', 'unmatched', 'planned')),
        first_scale   TEXT    NOT NULL,
        first_kg      REAL    NOT NULL,
        first_at      REAL    NOT NULL,
        first_serial  TEXT,                       -- the pass read at the scale
        second_scale  TEXT,
        second_kg     REAL,
        second_at     REAL,
        second_serial TEXT,
        gross_kg      REAL,                       -- 毛重
        tare_kg       REAL,                       -- 皮重
        net_kg        REAL,                       -- 净重
        tare_preset   INTEGER NOT NULL DEFAULT 0, -- 1: tare from the vehicle's preset
        goods         TEXT,                       -- 货物名称 (hwmc)
        ysl           TEXT,                       -- 运输量 as sent: net tonnes, 0.1 t
        goods_error   TEXT                        -- why no goods record could be sent
    );
    CREATE INDEX weighings_open ON weighings (plate, first_at) WHERE state = 'open';
    CREATE INDEX weighings_recent ON weighings (first_at);
    -- Transport plans pushed by the plant's ERP (plate, goods, expected tonnage, validity): the
    -- goods of a weighing; at a lane without a scale, the goods record itself ('planned').
    CREATE TABLE transport_plans (
        id            INTEGER PRIMARY KEY,
        plan_no       TEXT    NOT NULL UNIQUE,    -- the ERP's own number (a re-push updates)
        plate         TEXT    NOT NULL,
        goods         TEXT    NOT NULL,
        expected_kg   REAL    NOT NULL,
        valid_from    REAL    NOT NULL,
        valid_to      REAL    NOT NULL,
        received_at   REAL    NOT NULL,
        received_from TEXT    NOT NULL,
        used_serial   TEXT                        -- the pass its goods record went with
    );
    CREATE INDEX transport_plans_plate ON transport_plans (plate, valid_to);
    -- The outbox also carries goods records (货物台账), each tied to its weighing and sent
    -- after its pass's record.
    CREATE TABLE outbox_v10 (
        id              INTEGER PRIMARY KEY,
        pass_id         INTEGER NOT NULL REFERENCES passes (id),
        kind            TEXT    NOT NULL
                        CHECK (kind IN ('record', 'photo', 'correction', 'goods')),
        photo_id        INTEGER REFERENCES photos (id),
        correction_id   INTEGER REFERENCES corrections (id),
        weighing_id     INTEGER REFERENCES weighings (id),
        state           TEXT    NOT NULL CHECK (state IN ('held', 'pending', 'sent', 'dead')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL    NOT NULL DEFAULT 0,
        last_error      TEXT,
        created_at      REAL    NOT NULL,
        sent_at         REAL
    );
    INSERT INTO outbox_v10 (id, pass_id, kind, photo_id, correction_id, state, attempts,
                            next_attempt_at, last_error, created_at, sent_at)
        SELECT id, pass_id, kind, photo_id, correction_id, state, attempts, next_attempt_at,
               last_error, created_at, sent_at FROM outbox;
    DROP TABLE outbox;
    ALTER TABLE outbox_v10 RENAME TO outbox;
    CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE state = 'pending';
    CREATE INDEX outbox_pass ON outbox (pass_id, kind);
    """,
    # 11: after a restore from the replica (edge restore), each lane's serial numbers continue
    # past this floor: serials the lost PC issued after the replica's last sync are not reused.
    """
    CREATE TABLE serial_floors (
        prefix TEXT PRIMARY KEY,   -- enterprise + gate + direction (13 characters)
        serial TEXT NOT NULL       -- the next serial of the prefix comes after this one
    );
    """,
    # 12: a ledger that scales with time, not with history (issue 19). History by time and by
    # lane and time; partial plates through a trigram index (FTS5, kept by triggers); the
    # day's figures and the quota counted per quarter hour as passes are written and
    # finalised (triggers: in the pass's own transaction); outbox counts and the bytes of
    # kept photos as tallies; the forwarder, the monitors and retention on partial indexes
    # that hold unsent entries only.
    f"""
    CREATE INDEX passes_time ON passes (received_at);
    CREATE INDEX passes_lane_time ON passes (lane_id, received_at);
    CREATE VIRTUAL TABLE passes_fts USING fts5 (
        plate, content = 'passes', content_rowid = 'id', tokenize = 'trigram'
    );
    INSERT INTO passes_fts (rowid, plate) SELECT id, plate FROM passes WHERE plate IS NOT NULL;
    CREATE TRIGGER passes_plate_insert AFTER INSERT ON passes WHEN NEW.plate IS NOT NULL BEGIN
        INSERT INTO passes_fts (rowid, plate) VALUES (NEW.id, NEW.plate);
    END;
    CREATE TRIGGER passes_plate_delete AFTER DELETE ON passes WHEN OLD.plate IS NOT NULL BEGIN
        INSERT INTO passes_fts (passes_fts, rowid, plate) VALUES ('delete', OLD.id, OLD.plate);
    END;
    CREATE TRIGGER passes_plate_update AFTER UPDATE OF plate ON passes BEGIN
        INSERT INTO passes_fts (passes_fts, rowid, plate)
            SELECT 'delete', OLD.id, OLD.plate WHERE OLD.plate IS NOT NULL;
        INSERT INTO passes_fts (rowid, plate)
            SELECT NEW.id, NEW.plate WHERE NEW.plate IS NOT NULL;
    END;
    CREATE TABLE pass_figures (
        bucket    INTEGER NOT NULL,
        lane_id   TEXT    NOT NULL,
        direction TEXT    NOT NULL,
        {", ".join(f"{c} INTEGER NOT NULL DEFAULT 0" for c in FIGURES)},
        PRIMARY KEY (bucket, lane_id, direction)
    ) WITHOUT ROWID;
    INSERT INTO pass_figures (bucket, lane_id, direction, {", ".join(FIGURES)})
        SELECT CAST(received_at / {BUCKET} AS INTEGER), lane_id, direction,
               {", ".join(f"SUM({e.format(r='passes')})" for e in FIGURES.values())}
        FROM passes GROUP BY 1, 2, 3;
    CREATE TRIGGER pass_figures_insert AFTER INSERT ON passes BEGIN {_add("NEW", "")} END;
    CREATE TRIGGER pass_figures_delete AFTER DELETE ON passes BEGIN {_add("OLD", "-")} END;
    CREATE TRIGGER pass_figures_update AFTER UPDATE OF gate_signal, verdict, reason_code,
        verify_json, decided_by, lane_id, direction, received_at
        ON passes BEGIN {_add("OLD", "-")} {_add("NEW", "")} END;
    CREATE TABLE tallies (name TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
    INSERT INTO tallies SELECT 'outbox:' || state, count(*) FROM outbox GROUP BY state;
    INSERT INTO tallies
        SELECT 'photo-bytes', coalesce(sum(size), 0) FROM photos WHERE pruned_at IS NULL;
    CREATE TRIGGER outbox_tally_insert AFTER INSERT ON outbox BEGIN
        {_tally("'outbox:' || NEW.state", 1)}
    END;
    CREATE TRIGGER outbox_tally_delete AFTER DELETE ON outbox BEGIN
        {_tally("'outbox:' || OLD.state", -1)}
    END;
    CREATE TRIGGER outbox_tally_update AFTER UPDATE OF state ON outbox
        WHEN OLD.state != NEW.state BEGIN
        {_tally("'outbox:' || OLD.state", -1)} {_tally("'outbox:' || NEW.state", 1)}
    END;
    CREATE TRIGGER photo_bytes_insert AFTER INSERT ON photos WHEN NEW.pruned_at IS NULL BEGIN
        {_tally("'photo-bytes'", "NEW.size")}
    END;
    CREATE TRIGGER photo_bytes_delete AFTER DELETE ON photos WHEN OLD.pruned_at IS NULL BEGIN
        {_tally("'photo-bytes'", "-OLD.size")}
    END;
    CREATE TRIGGER photo_bytes_update AFTER UPDATE OF pruned_at, size ON photos BEGIN
        {_tally("'photo-bytes'", _KEPT_CHANGE)}
    END;
    CREATE INDEX outbox_pending ON outbox (id) WHERE state = 'pending';
    CREATE INDEX outbox_unsent ON outbox (state, created_at) WHERE state != 'sent';
    CREATE INDEX outbox_unsent_pass ON outbox (pass_id) WHERE state != 'sent';
    """,  # noqa: S608 - built from this module's constants
    # 13: the enterprise's electronic ledger (电子台账, issue 15): transport vehicles, in-plant
    # vehicles and non-road machinery (one table, ``register`` says which; the spec's fields as
    # columns, "" where not given; dates yyyy-MM-dd); their document images (files under
    # storage.photo_dir/filings, never touched by retention); each entry's filing with each
    # platform (未备案 unless a row says otherwise); the filings the outbox of filings still
    # has to send (one pending row per entry and platform: the sender sends the entry as it
    # is then); and the history of every change (who, when, what).
    """
    CREATE TABLE filing_entries (
        id              INTEGER PRIMARY KEY,
        register        TEXT    NOT NULL CHECK (register IN ('vehicle', 'inner', 'machine')),
        plate           TEXT    NOT NULL,            -- license / mhyPlate (or internal number)
        plate_color     TEXT    NOT NULL DEFAULT '', -- §7.1 ('' for a machine)
        vehicle_type    TEXT    NOT NULL DEFAULT '', -- §7.7
        vin             TEXT    NOT NULL DEFAULT '',
        use_character   TEXT    NOT NULL DEFAULT '', -- §7.8
        engine_no       TEXT    NOT NULL DEFAULT '',
        owner           TEXT    NOT NULL DEFAULT '', -- onwer (sic)
        address         TEXT    NOT NULL DEFAULT '',
        model           TEXT    NOT NULL DEFAULT '',
        register_date   TEXT    NOT NULL DEFAULT '',
        issue_date      TEXT    NOT NULL DEFAULT '',
        emission        TEXT    NOT NULL,            -- §7.6
        fleet           TEXT    NOT NULL DEFAULT '', -- 车队名称
        name            TEXT    NOT NULL DEFAULT '', -- mhyJXMC
        code            TEXT    NOT NULL DEFAULT '', -- mhyFrameNo
        production_date TEXT    NOT NULL DEFAULT '', -- mhyProdDate
        status          TEXT    NOT NULL DEFAULT '1' CHECK (status IN ('1', '2', '3')),
        created_at      REAL    NOT NULL,
        created_by      TEXT    NOT NULL,
        changed_at      REAL    NOT NULL,
        changed_by      TEXT    NOT NULL,
        UNIQUE (register, plate, plate_color)
    );
    CREATE INDEX filing_entries_plate ON filing_entries (plate, id);
    CREATE INDEX filing_entries_vin ON filing_entries (vin, id) WHERE vin != '';
    CREATE INDEX filing_entries_engine ON filing_entries (engine_no, id) WHERE engine_no != '';
    CREATE INDEX filing_entries_code ON filing_entries (code, id) WHERE code != '';
    CREATE INDEX filing_entries_register ON filing_entries (register, id);
    CREATE TABLE filing_images (
        id         INTEGER PRIMARY KEY,
        entry_id   INTEGER NOT NULL REFERENCES filing_entries (id),
        kind       TEXT    NOT NULL
                   CHECK (kind IN ('driving_license', 'emission_list', 'nameplate')),
        path       TEXT    NOT NULL,   -- relative to storage.photo_dir
        size       INTEGER NOT NULL,
        added_at   REAL    NOT NULL,
        added_by   TEXT    NOT NULL,
        replaced_at REAL               -- a newer image of the kind took its place (file kept)
    );
    CREATE INDEX filing_images_entry ON filing_images (entry_id, kind) WHERE replaced_at IS NULL;
    CREATE TABLE filings (
        entry_id   INTEGER NOT NULL REFERENCES filing_entries (id),
        platform   TEXT    NOT NULL CHECK (platform IN ('city', 'province')),
        state      TEXT    NOT NULL CHECK (state IN ('unfiled', 'sent', 'accepted', 'refused')),
        license_pk TEXT,               -- the platform's 车辆备案唯一识别编码 (province)
        words      TEXT    NOT NULL DEFAULT '',  -- the platform's words (a refusal's reason)
        method     TEXT,               -- the method last sent
        at         REAL    NOT NULL,
        PRIMARY KEY (entry_id, platform)
    ) WITHOUT ROWID;
    CREATE INDEX filings_license_pk ON filings (license_pk) WHERE license_pk IS NOT NULL;
    CREATE TABLE filing_outbox (
        id              INTEGER PRIMARY KEY,
        entry_id        INTEGER NOT NULL REFERENCES filing_entries (id),
        platform        TEXT    NOT NULL CHECK (platform IN ('city', 'province')),
        method          TEXT,           -- set when sent
        state           TEXT    NOT NULL CHECK (state IN ('pending', 'sent', 'dead')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL    NOT NULL DEFAULT 0,
        last_error      TEXT,
        created_at      REAL    NOT NULL,
        sent_at         REAL
    );
    CREATE INDEX filing_outbox_due ON filing_outbox (next_attempt_at) WHERE state = 'pending';
    CREATE UNIQUE INDEX filing_outbox_one ON filing_outbox (entry_id, platform)
        WHERE state = 'pending';
    CREATE INDEX filing_outbox_dead ON filing_outbox (id) WHERE state = 'dead';
    CREATE INDEX filing_outbox_entry ON filing_outbox (entry_id, id);
    CREATE TABLE filing_history (
        id       INTEGER PRIMARY KEY,
        entry_id INTEGER NOT NULL REFERENCES filing_entries (id),
        at       REAL    NOT NULL,
        actor    TEXT    NOT NULL,   -- who (or the platform, for its answers)
        action   TEXT    NOT NULL,   -- add / modify / status / image / filing
        changes  TEXT    NOT NULL    -- JSON: field → [before, after]
    );
    CREATE INDEX filing_history_entry ON filing_history (entry_id, id);
    """,
    # 14: the 待完善 list (issue 15): plates whose filing the platform says must be completed
    # (a verify answer's isNeedComplete 1 or 2, or GetNeedCompleteVehEx), one row per plate
    # and colour, the latest pass that showed it; done when a later answer says 0 or the
    # filing is accepted. Kept by a trigger as passes are written. Goods found per pass for
    # the inspector's export (weighings and transport plans by the pass's serial).
    """
    CREATE TABLE need_complete (
        plate         TEXT    NOT NULL,
        plate_color   TEXT    NOT NULL,
        level         TEXT    NOT NULL,            -- isNeedComplete 1 / 2 ('' from the list)
        pass_id       INTEGER REFERENCES passes (id) ON DELETE SET NULL,
        seen_at       REAL    NOT NULL,            -- the pass (or the platform's addDate)
        source        TEXT    NOT NULL CHECK (source IN ('verify', 'platform')),
        done_at       REAL,                        -- NULL: still to be completed
        done_by       TEXT,                        -- 'verify' (a later answer said 0), 'filing'
        PRIMARY KEY (plate, plate_color)
    ) WITHOUT ROWID;
    CREATE INDEX need_complete_open ON need_complete (seen_at) WHERE done_at IS NULL;
    INSERT INTO need_complete (plate, plate_color, level, pass_id, seen_at, source)
        SELECT plate, plate_color, verify_json ->> '$.need_complete', max(id), received_at,
               'verify'
        FROM passes WHERE plate IS NOT NULL AND verify_json ->> '$.need_complete' IN ('1', '2')
        GROUP BY plate, plate_color;
    UPDATE need_complete SET done_by = 'verify', done_at = (
        SELECT min(p.received_at) FROM passes p WHERE p.plate = need_complete.plate
        AND p.plate_color = need_complete.plate_color AND p.received_at > need_complete.seen_at
        AND p.verify_json ->> '$.need_complete' = '0');
    CREATE TRIGGER need_complete_shown AFTER INSERT ON passes
        WHEN NEW.plate IS NOT NULL AND NEW.verify_json ->> '$.need_complete' IN ('1', '2') BEGIN
        INSERT INTO need_complete (plate, plate_color, level, pass_id, seen_at, source)
            VALUES (NEW.plate, NEW.plate_color, NEW.verify_json ->> '$.need_complete', NEW.id,
                    NEW.received_at, 'verify')
            ON CONFLICT (plate, plate_color) DO UPDATE SET level = excluded.level,
                pass_id = excluded.pass_id, seen_at = excluded.seen_at, source = 'verify',
                done_at = NULL, done_by = NULL
            WHERE excluded.seen_at >= need_complete.seen_at;
    END;
    CREATE TRIGGER need_complete_cleared AFTER INSERT ON passes
        WHEN NEW.plate IS NOT NULL AND NEW.verify_json ->> '$.need_complete' = '0' BEGIN
        UPDATE need_complete SET done_at = NEW.received_at, done_by = 'verify'
            WHERE plate = NEW.plate AND plate_color = NEW.plate_color AND done_at IS NULL
            AND seen_at <= NEW.received_at;
    END;
    CREATE INDEX weighings_first_serial ON weighings (first_serial)
        WHERE first_serial IS NOT NULL;
    CREATE INDEX weighings_second_serial ON weighings (second_serial)
        WHERE second_serial IS NOT NULL;
    CREATE INDEX transport_plans_used ON transport_plans (used_serial)
        WHERE used_serial IS NOT NULL;
    """,
    # 15: an accepted filing of a transport or an in-plant vehicle takes its plate off the 待完善
    # list (issue 15), whichever way it was accepted (an answer, VehElecAccountGain).
    f"""
    {_FILED_TRIGGERS}
    """,
    # 16: the plate reads at a truck scale's lanes, each waiting (pending) for the weighing
    # that uses it until it is too old (``plate_max_age_seconds``), kept across restarts; a
    # weighing that found more than one pending read is held (待确认车牌: state 'unmatched'
    # with its candidate reads, JSON) until a clerk picks a plate; a weighing without a plate
    # read keeps a snapshot of the scale lane's camera (a photo file, relative to the photo
    # directory), the first and the second weighing's.
    """
    CREATE TABLE scale_reads (
        id          INTEGER PRIMARY KEY,
        scale       TEXT    NOT NULL,
        plate       TEXT    NOT NULL,
        plate_color TEXT    NOT NULL,
        serial      TEXT    NOT NULL,              -- the pass of the read
        lane_id     TEXT    NOT NULL,
        read_at     REAL    NOT NULL,              -- unix s
        weighing_id INTEGER REFERENCES weighings (id)  -- NULL: pending
    );
    CREATE INDEX scale_reads_pending ON scale_reads (scale, read_at) WHERE weighing_id IS NULL;
    CREATE INDEX scale_reads_at ON scale_reads (read_at);
    ALTER TABLE weighings ADD COLUMN candidates TEXT;    -- held: the candidate reads, JSON
    ALTER TABLE weighings ADD COLUMN first_photo TEXT;   -- a snapshot when no plate was read
    ALTER TABLE weighings ADD COLUMN second_photo TEXT;
    CREATE INDEX weighings_unmatched ON weighings (first_at) WHERE state = 'unmatched';
    """,
    # 17: a 注销 (cancelled) entry no longer blocks a new entry of its plate and colour (a
    # reissued plate, issue 15): the UNIQUE (register, plate, plate_color) of migration 13
    # becomes a partial unique index over the entries that are not 注销. SQLite cannot drop a
    # table constraint, so the table is rebuilt (its "other kinds of table schema changes"
    # procedure: run with foreign keys off, checked before commit, see REBUILDS); every row
    # keeps its id, so images, filings, the outbox of filings and the history keep theirs.
    f"""
    DROP TRIGGER need_complete_filed;
    DROP TRIGGER need_complete_refiled;
    CREATE TABLE filing_entries_v17 (
        id              INTEGER PRIMARY KEY,
        register        TEXT    NOT NULL CHECK (register IN ('vehicle', 'inner', 'machine')),
        plate           TEXT    NOT NULL,            -- license / mhyPlate (or internal number)
        plate_color     TEXT    NOT NULL DEFAULT '', -- §7.1 ('' for a machine)
        vehicle_type    TEXT    NOT NULL DEFAULT '', -- §7.7
        vin             TEXT    NOT NULL DEFAULT '',
        use_character   TEXT    NOT NULL DEFAULT '', -- §7.8
        engine_no       TEXT    NOT NULL DEFAULT '',
        owner           TEXT    NOT NULL DEFAULT '', -- onwer (sic)
        address         TEXT    NOT NULL DEFAULT '',
        model           TEXT    NOT NULL DEFAULT '',
        register_date   TEXT    NOT NULL DEFAULT '',
        issue_date      TEXT    NOT NULL DEFAULT '',
        emission        TEXT    NOT NULL,            -- §7.6
        fleet           TEXT    NOT NULL DEFAULT '', -- 车队名称
        name            TEXT    NOT NULL DEFAULT '', -- mhyJXMC
        code            TEXT    NOT NULL DEFAULT '', -- mhyFrameNo
        production_date TEXT    NOT NULL DEFAULT '', -- mhyProdDate
        status          TEXT    NOT NULL DEFAULT '1' CHECK (status IN ('1', '2', '3')),
        created_at      REAL    NOT NULL,
        created_by      TEXT    NOT NULL,
        changed_at      REAL    NOT NULL,
        changed_by      TEXT    NOT NULL
    );
    INSERT INTO filing_entries_v17 ({_ENTRY_COLUMNS})
        SELECT {_ENTRY_COLUMNS} FROM filing_entries;
    DROP TABLE filing_entries;
    ALTER TABLE filing_entries_v17 RENAME TO filing_entries;
    CREATE UNIQUE INDEX filing_entries_live ON filing_entries (register, plate, plate_color)
        WHERE status != '3';
    CREATE INDEX filing_entries_plate ON filing_entries (plate, id);
    CREATE INDEX filing_entries_vin ON filing_entries (vin, id) WHERE vin != '';
    CREATE INDEX filing_entries_engine ON filing_entries (engine_no, id) WHERE engine_no != '';
    CREATE INDEX filing_entries_code ON filing_entries (code, id) WHERE code != '';
    CREATE INDEX filing_entries_register ON filing_entries (register, id);
    {_FILED_TRIGGERS}
    """,  # noqa: S608 - built from this module's constants
    # 18: a weighing without its plate (unmatched, or held as 待确认车牌) that no truck's load
    # is — a test weight, a person on the platform, a truck that turned back — is discarded by
    # a clerk with a reason (state 'discarded', 已作废: kept, never paired, no goods record).
    # The state's CHECK cannot be altered in place, so the table is rebuilt as migration 17's
    # (foreign keys off, checked before commit); every row keeps its id, so the outbox's goods
    # records and the plate reads keep theirs.
    f"""
    CREATE TABLE weighings_v18 (
        id            INTEGER PRIMARY KEY,
{_WEIGHING_V18}    );
    INSERT INTO weighings_v18 ({_WEIGHING_COLUMNS}) SELECT {_WEIGHING_COLUMNS} FROM weighings;
    DROP TABLE weighings;
    ALTER TABLE weighings_v18 RENAME TO weighings;
    {_WEIGHING_INDEXES}
    """,  # noqa: S608 - built from this module's constants
    # 19: a weighing's number (id, the ticket's No.) is never given again: a weighing folded
    # into its pair is deleted, and without AUTOINCREMENT the next weighing took its number — a
    # clerk acting from a stale page acted on another truck, and the audit named two trucks
    # with one number. Rebuilt as migration 18 (foreign keys off, checked before commit) with
    # AUTOINCREMENT; every row keeps its id, and the sequence starts above every number the
    # ledger ever named (the outbox, the plate reads, the audit of clerks' weighing actions).
    f"""
    CREATE TABLE weighings_v19 (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
{_WEIGHING_V18}    );
    INSERT INTO weighings_v19 ({_WEIGHING_COLUMNS}, discarded)
        SELECT {_WEIGHING_COLUMNS}, discarded FROM weighings;
    DROP TABLE weighings;
    ALTER TABLE weighings_v19 RENAME TO weighings;
    DELETE FROM sqlite_sequence WHERE name = 'weighings';
    INSERT INTO sqlite_sequence (name, seq) SELECT 'weighings', max(coalesce(
        (SELECT max(id) FROM weighings), 0),
        coalesce((SELECT max(weighing_id) FROM outbox), 0),
        coalesce((SELECT max(weighing_id) FROM scale_reads), 0),
        coalesce((SELECT max(CAST(target AS INTEGER)) FROM audit WHERE action IN
            ('set goods', 'assign weighing plate', 'discard weighing') AND result = 'ok'), 0));
    {_WEIGHING_INDEXES}
    """,  # noqa: S608 - built from this module's constants
    # 20: a plate read at a scale's lane can stop being a candidate without a weighing using
    # it: superseded by a near re-read of the same vehicle, stale once a weighing took a read
    # at its lane read well after it, or dropped by a clerk (``dropped``: why, English; NULL:
    # still pending until a weighing uses it or it is too old).
    """
    ALTER TABLE scale_reads ADD COLUMN dropped TEXT;
    """,
    # 21: a weighing a clerk should check (请核对车牌 / 请核对重量): why its plate, or its weight,
    # is in doubt — JSON {"why": English, "said": Chinese, "hold": its goods record waits for
    # the clerk}; NULL: nothing to check (or a clerk cleared it, audited). A weighing's goods
    # record is found by its weighing (held and released with the check).
    """
    ALTER TABLE weighings ADD COLUMN check_plate TEXT;
    ALTER TABLE weighings ADD COLUMN check_weight TEXT;
    CREATE INDEX weighings_to_check ON weighings (first_at)
        WHERE check_plate IS NOT NULL OR check_weight IS NOT NULL;
    CREATE INDEX outbox_weighing ON outbox (weighing_id) WHERE weighing_id IS NOT NULL;
    """,
    # 22: what a camera sent (images elided, for diagnosis) is kept once, in a table of its
    # own keyed by its read: it was written twice (on the pass and on the read that made it,
    # ``passes.raw`` and ``reads.raw``, which keep what earlier versions wrote there) and kept
    # for ever; retention now deletes messages older than ``storage.diagnosis_keep_days``.
    # Deleted rows of a table of their own free whole pages, which new rows reuse (a column
    # cleared in place would leave its pages as full as they were). The index of passes by
    # reason code and time (migration 4, for the quota) has served no query since migration
    # 12 counts the quota per quarter hour: ~36 bytes a pass, dropped.
    """
    CREATE TABLE camera_messages (
        read_id INTEGER PRIMARY KEY REFERENCES reads (id),
        raw     TEXT    NOT NULL
    );
    DROP INDEX passes_code;
    """,
    # 23: the platform's answer is stored without its defaults (an absent need_complete is
    # '0', an absent control 0: ~32 bytes a pass); a pass whose answer says nothing of
    # need_complete takes its plate off the 待完善 list as one that says '0' did.
    """
    DROP TRIGGER need_complete_cleared;
    CREATE TRIGGER need_complete_cleared AFTER INSERT ON passes
        WHEN NEW.plate IS NOT NULL AND NEW.verify_json IS NOT NULL
        AND coalesce(NEW.verify_json ->> '$.need_complete', '0') = '0' BEGIN
        UPDATE need_complete SET done_at = NEW.received_at, done_by = 'verify'
            WHERE plate = NEW.plate AND plate_color = NEW.plate_color AND done_at IS NULL
            AND seen_at <= NEW.received_at;
    END;
    """,
    # 24: a pass's corrections found by their pass: the corrected plate is shown wherever the
    # pass is (the history and its export, the live list, the inspector's ledger), and a
    # second correction to the same plate is a no-op; each looked for them by walking every
    # correction.
    """
    CREATE INDEX corrections_pass ON corrections (pass_id, id);
    """,
    # 25: a weighing held in doubt (待确认车牌) whose weight was taken before the platform
    # emptied since the scale's weighing before it, the platform watched all along (a plate
    # read since that one: the stopped-twice rule's doubt) keeps that weighing's id — it may
    # be that truck's second stop, which a clerk giving it that truck's plate says (never a
    # pair of one truck's two stops); NULL: the platform emptied (or was not watched) since.
    """
    ALTER TABLE weighings ADD COLUMN stop_of INTEGER;
    CREATE INDEX weighings_stop_of ON weighings (stop_of) WHERE stop_of IS NOT NULL;
    """,
    # 26: ... or taken after the platform was not watched since that weighing (the daemon
    # restarted, the indicator fell silent) and not seen empty: 1 — it may be that truck's
    # second stop as well as that truck back for its second weighing, which a clerk says.
    """
    ALTER TABLE weighings ADD COLUMN stop_unwatched INTEGER NOT NULL DEFAULT 0;
    """,
]
