/* migrations_pg: the PostgreSQL schema, as numbered migrations.
 *
 * A migration is never edited once released: a change is a new version.
 * store_migrate applies each missing one in its own transaction under an
 * advisory lock, and records it in schema_migrations.
 *
 * The tables mean exactly what the SQLite backend's do (docs/store.md):
 * `objects` holds one head row per object - a copy of its latest revision
 * plus created_at and change_seq - and `revisions` every revision ever
 * written, never updated. Times are microseconds since the epoch, taken by
 * the database when it writes. */
#include "store_pg.h"

/* Version 1: the tables and the indexes the reads walk. */
static const char migration_1[] =
    "CREATE TABLE objects (\n"
    "    id bigint PRIMARY KEY,\n"
    "    revision bigint NOT NULL,\n"
    "    type text NOT NULL,\n"
    "    name text NOT NULL,\n"
    "    attributes text NOT NULL,\n"
    "    created_at bigint NOT NULL,\n"
    "    updated_at bigint NOT NULL,\n"
    "    updated_by text NOT NULL,\n"
    "    deleted boolean NOT NULL DEFAULT false,\n"
    "    change_seq bigint NOT NULL\n"
    ");\n"
    "CREATE TABLE revisions (\n"
    "    object_id bigint NOT NULL REFERENCES objects (id),\n"
    "    revision bigint NOT NULL,\n"
    "    type text NOT NULL,\n"
    "    name text NOT NULL,\n"
    "    attributes text NOT NULL,\n"
    "    updated_at bigint NOT NULL,\n"
    "    author text NOT NULL,\n"
    "    deleted boolean NOT NULL,\n"
    "    PRIMARY KEY (object_id, revision)\n"
    ");\n"
    /* "Latest objects [of a type] ordered by updated_at" walks one of these
     * two and stops after |limit| rows; partial, so tombstoned heads are
     * neither stored in them nor skipped at read time. */
    "CREATE INDEX objects_live_updated ON objects (updated_at, id)\n"
    "    WHERE NOT deleted;\n"
    "CREATE INDEX objects_live_type_updated\n"
    "    ON objects (type, updated_at, id) WHERE NOT deleted;\n"
    /* as_of reads: the newest revision at or before a time. */
    "CREATE INDEX revisions_by_time ON revisions (object_id, updated_at);\n"
    /* Assigned ids. Not a column default: explicit ids are allowed too,
     * and objectd_create keeps the two from colliding. */
    "CREATE SEQUENCE objects_id_seq AS bigint;\n";

/* Version 2: every write is one call of one of these functions, so one
 * statement, one round trip and one implicit transaction (docs/store.md).
 * Both return one row: r_status (0 OK, 1 NOT_FOUND, 2 CONFLICT, 3 EXISTS,
 * the store.h codes) and, when 0, the new head. */
static const char migration_2[] =
    "CREATE FUNCTION objectd_now_us() RETURNS bigint\n"
    "LANGUAGE sql VOLATILE AS $$\n"
    "    SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint\n"
    "$$;\n"
    "\n"
    "CREATE FUNCTION objectd_create(p_id bigint, p_type text, p_name text,\n"
    "    p_attributes text, p_author text)\n"
    "RETURNS TABLE (r_status int, r_id bigint, r_revision bigint,\n"
    "    r_type text, r_name text, r_attributes text, r_created_at bigint,\n"
    "    r_updated_at bigint, r_updated_by text, r_deleted boolean,\n"
    "    r_change_seq bigint)\n"
    "LANGUAGE plpgsql AS $$\n"
    "DECLARE\n"
    "    v_id bigint := p_id;\n"
    "    v_now bigint := objectd_now_us();\n"
    "BEGIN\n"
    "    IF v_id = 0 THEN\n"
    /* An explicit id may have taken the sequence's next value: skip it.
     * ON CONFLICT also waits for a racing insert of the same id. */
    "        LOOP\n"
    "            v_id := nextval('objects_id_seq');\n"
    "            INSERT INTO objects (id, revision, type, name, attributes,\n"
    "                created_at, updated_at, updated_by, deleted,\n"
    "                change_seq)\n"
    "            VALUES (v_id, 1, p_type, p_name, p_attributes, v_now,\n"
    "                v_now, p_author, false, 1)\n"
    "            ON CONFLICT (id) DO NOTHING;\n"
    "            EXIT WHEN FOUND;\n"
    "        END LOOP;\n"
    "    ELSE\n"
    "        INSERT INTO objects (id, revision, type, name, attributes,\n"
    "            created_at, updated_at, updated_by, deleted, change_seq)\n"
    "        VALUES (v_id, 1, p_type, p_name, p_attributes, v_now, v_now,\n"
    "            p_author, false, 1)\n"
    "        ON CONFLICT (id) DO NOTHING;\n"
    "        IF NOT FOUND THEN\n"
    "            r_status := 3;\n"
    "            RETURN NEXT;\n"
    "            RETURN;\n"
    "        END IF;\n"
    /* The sequence is not moved past an explicit id: one far ahead (up to
     * 2^63 - 1) would exhaust it. Assigned ids skip taken ones instead
     * (the loop above). */
    "    END IF;\n"
    "    INSERT INTO revisions (object_id, revision, type, name, attributes,\n"
    "        updated_at, author, deleted)\n"
    "    VALUES (v_id, 1, p_type, p_name, p_attributes, v_now, p_author,\n"
    "        false);\n"
    "    RETURN QUERY SELECT 0, v_id, 1::bigint, p_type, p_name,\n"
    "        p_attributes, v_now, v_now, p_author, false, 1::bigint;\n"
    "END\n"
    "$$;\n"
    "\n"
    "CREATE FUNCTION objectd_put(p_id bigint, p_expected bigint,\n"
    "    p_type text, p_name text, p_attributes text, p_author text,\n"
    "    p_deleted boolean, p_keep_content boolean, p_allow_deleted boolean)\n"
    "RETURNS TABLE (r_status int, r_id bigint, r_revision bigint,\n"
    "    r_type text, r_name text, r_attributes text, r_created_at bigint,\n"
    "    r_updated_at bigint, r_updated_by text, r_deleted boolean,\n"
    "    r_change_seq bigint)\n"
    "LANGUAGE plpgsql AS $$\n"
    "DECLARE\n"
    "    h objects%ROWTYPE;\n"
    "BEGIN\n"
    /* The row lock serializes writers of one object; a writer that waited
     * reads the head its predecessor committed, so no update is lost and
     * a stale expected revision is seen as one. */
    "    SELECT * INTO h FROM objects WHERE id = p_id FOR UPDATE;\n"
    "    IF NOT FOUND THEN\n"
    "        r_status := 1;\n"
    "        RETURN NEXT;\n"
    "        RETURN;\n"
    "    END IF;\n"
    "    IF p_expected <> 0 AND h.revision <> p_expected THEN\n"
    "        r_status := 2;\n"
    "        RETURN NEXT;\n"
    "        RETURN;\n"
    "    END IF;\n"
    "    IF h.deleted AND NOT p_allow_deleted THEN\n"
    "        r_status := 1;\n"
    "        RETURN NEXT;\n"
    "        RETURN;\n"
    "    END IF;\n"
    "    IF NOT p_keep_content THEN\n"
    "        h.type := p_type;\n"
    "        h.name := p_name;\n"
    "        h.attributes := p_attributes;\n"
    "    END IF;\n"
    "    h.revision := h.revision + 1;\n"
    /* Never before the previous revision, even if the clock stepped back:
     * as_of reads and time-ordered lists rely on it. */
    "    h.updated_at := greatest(objectd_now_us(), h.updated_at);\n"
    "    h.updated_by := p_author;\n"
    "    h.deleted := p_deleted;\n"
    "    h.change_seq := h.change_seq + 1;\n"
    "    INSERT INTO revisions (object_id, revision, type, name, attributes,\n"
    "        updated_at, author, deleted)\n"
    "    VALUES (h.id, h.revision, h.type, h.name, h.attributes,\n"
    "        h.updated_at, h.updated_by, h.deleted);\n"
    "    UPDATE objects SET revision = h.revision, type = h.type,\n"
    "        name = h.name, attributes = h.attributes,\n"
    "        updated_at = h.updated_at, updated_by = h.updated_by,\n"
    "        deleted = h.deleted, change_seq = h.change_seq\n"
    "    WHERE id = h.id;\n"
    "    RETURN QUERY SELECT 0, h.id, h.revision, h.type, h.name,\n"
    "        h.attributes, h.created_at, h.updated_at, h.updated_by,\n"
    "        h.deleted, h.change_seq;\n"
    "END\n"
    "$$;\n";

const store_pg_migration store_pg_migrations[] = {
    {1, "objects and revisions", migration_1},
    {2, "write functions", migration_2},
};

const int store_pg_nmigrations =
    (int)(sizeof store_pg_migrations / sizeof store_pg_migrations[0]);
