"""What the schema needs beyond tables, in each dialect: triggers, and on PostgreSQL the few SQLite
JSON functions the store's statements call (``json_patch``, ``json_extract``, ``json_type``), so that
one statement text serves both backends.

The triggers are those of legacy migrations 3 and 4: ``item_tags`` follows item metadata
(``tags``/``genres``, source 'meta') and the ``llm`` feature's tags (source 'llm'); deleting a user
moves ``store_stamps.deletions``, which running servers poll. On PostgreSQL they are PL/pgSQL
trigger functions with the same effect.
"""

from __future__ import annotations

from mediarec.store.migrations import MIGRATIONS, split_sql

# -- SQLite: the triggers of migrations 3 and 4, taken from their (frozen) text -------------------
# Read from the migrations rather than copied: a fresh home and an upgraded one then hold the same
# trigger statements by construction.
SQLITE_TRIGGERS: tuple[str, ...] = tuple(
    statement
    for script in MIGRATIONS[2:4]
    if isinstance(script, str)
    for statement in split_sql(script)
    if statement.startswith("CREATE TRIGGER")
)

# -- PostgreSQL: SQLite's JSON functions the statements use, then the triggers --------------------
PG_FUNCTIONS: tuple[str, ...] = (
    # RFC 7396 merge patch, as SQLite's json_patch: null removes a key, objects merge recursively.
    """CREATE OR REPLACE FUNCTION mediarec_merge_patch(target jsonb, patch jsonb) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE AS $$
    DECLARE k text; v jsonb; merged jsonb;
    BEGIN
        IF patch IS NULL OR jsonb_typeof(patch) <> 'object' THEN RETURN patch; END IF;
        merged := CASE WHEN jsonb_typeof(target) = 'object' THEN target ELSE '{}'::jsonb END;
        FOR k, v IN SELECT * FROM jsonb_each(patch) LOOP
            IF jsonb_typeof(v) = 'null' THEN
                merged := merged - k;
            ELSE
                merged := jsonb_set(merged, ARRAY[k], mediarec_merge_patch(merged -> k, v));
            END IF;
        END LOOP;
        RETURN merged;
    END $$""",
    """CREATE OR REPLACE FUNCTION json_patch(target text, patch text) RETURNS text
    LANGUAGE sql IMMUTABLE AS $$ SELECT mediarec_merge_patch(target::jsonb, patch::jsonb)::text $$""",
    # '$.a.b[0]' -> {a,b,0}, the path form of #> and #>>.
    """CREATE OR REPLACE FUNCTION mediarec_json_path(path text) RETURNS text[]
    LANGUAGE sql IMMUTABLE AS $$
        SELECT CASE WHEN path = '$' THEN ARRAY[]::text[]
                    ELSE string_to_array(regexp_replace(substr(path, 3), '\\[(\\d+)\\]', '.\\1', 'g'), '.')
               END $$""",
    # SQLite's json_extract: strings unquoted, arrays and objects as JSON text, JSON null as NULL.
    """CREATE OR REPLACE FUNCTION json_extract(doc text, path text) RETURNS text
    LANGUAGE sql IMMUTABLE AS $$ SELECT doc::jsonb #>> mediarec_json_path(path) $$""",
    # SQLite's json_type names: text, integer, real, true, false, null, array, object.
    """CREATE OR REPLACE FUNCTION json_type(doc text, path text) RETURNS text
    LANGUAGE sql IMMUTABLE AS $$
        SELECT CASE jsonb_typeof(v)
                 WHEN 'string' THEN 'text'
                 WHEN 'boolean' THEN v #>> '{}'
                 WHEN 'number' THEN CASE WHEN (v #>> '{}') ~ '^-?[0-9]+$' THEN 'integer' ELSE 'real' END
                 ELSE jsonb_typeof(v) END
        FROM (SELECT doc::jsonb #> mediarec_json_path(path) AS v) AS found $$""",
    # Lower-cased, trimmed, non-empty string entries of a JSON array ('meta' tags and genres).
    """CREATE OR REPLACE FUNCTION mediarec_meta_tags(doc text) RETURNS SETOF text
    LANGUAGE sql IMMUTABLE AS $$
        SELECT DISTINCT t FROM (
            SELECT lower(trim(e #>> '{}')) AS t
            FROM jsonb_array_elements(CASE WHEN jsonb_typeof(doc::jsonb -> 'tags') = 'array'
                                           THEN doc::jsonb -> 'tags' ELSE '[]' END) AS e
            WHERE jsonb_typeof(e) = 'string'
            UNION ALL
            SELECT lower(trim(e #>> '{}'))
            FROM jsonb_array_elements(CASE WHEN jsonb_typeof(doc::jsonb -> 'genres') = 'array'
                                           THEN doc::jsonb -> 'genres' ELSE '[]' END) AS e
            WHERE jsonb_typeof(e) = 'string'
        ) AS found WHERE t <> '' $$""",
    # The llm payload's tags: {"tag": ...} objects or plain strings.
    """CREATE OR REPLACE FUNCTION mediarec_llm_tags(doc text) RETURNS SETOF text
    LANGUAGE sql IMMUTABLE AS $$
        SELECT DISTINCT t FROM (
            SELECT lower(trim(CASE jsonb_typeof(e) WHEN 'object' THEN e ->> 'tag'
                                                   WHEN 'string' THEN e #>> '{}' END)) AS t
            FROM jsonb_array_elements(CASE WHEN jsonb_typeof(doc::jsonb -> 'tags') = 'array'
                                           THEN doc::jsonb -> 'tags' ELSE '[]' END) AS e
        ) AS found WHERE t IS NOT NULL AND t <> '' $$""",
    """CREATE OR REPLACE FUNCTION mediarec_item_tags_meta() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE' THEN
            IF OLD.metadata::jsonb IS NOT DISTINCT FROM NEW.metadata::jsonb THEN RETURN NULL; END IF;
            DELETE FROM item_tags WHERE item_id = NEW.id AND source = 'meta';
        END IF;
        INSERT INTO item_tags (tag, item_id, source)
            SELECT t, NEW.id, 'meta' FROM mediarec_meta_tags(NEW.metadata) AS t
            ON CONFLICT DO NOTHING;
        RETURN NULL;
    END $$""",
    """CREATE OR REPLACE FUNCTION mediarec_item_tags_llm() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            IF OLD.extractor = 'llm' THEN
                DELETE FROM item_tags WHERE item_id = OLD.item_id AND source = 'llm';
            END IF;
            RETURN NULL;
        END IF;
        IF NEW.extractor <> 'llm' THEN RETURN NULL; END IF;
        IF TG_OP = 'UPDATE' AND OLD.payload IS NOT DISTINCT FROM NEW.payload THEN RETURN NULL; END IF;
        DELETE FROM item_tags WHERE item_id = NEW.item_id AND source = 'llm';
        INSERT INTO item_tags (tag, item_id, source)
            SELECT t, NEW.item_id, 'llm' FROM mediarec_llm_tags(NEW.payload) AS t
            ON CONFLICT DO NOTHING;
        RETURN NULL;
    END $$""",
    """CREATE OR REPLACE FUNCTION mediarec_count_deletion() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE store_stamps SET value = value + 1 WHERE name = 'deletions';
        RETURN NULL;
    END $$""",
)

PG_TRIGGERS: tuple[str, ...] = (
    """CREATE TRIGGER item_tags_on_insert AFTER INSERT ON items
       FOR EACH ROW EXECUTE FUNCTION mediarec_item_tags_meta()""",
    """CREATE TRIGGER item_tags_on_update AFTER UPDATE OF metadata ON items
       FOR EACH ROW EXECUTE FUNCTION mediarec_item_tags_meta()""",
    """CREATE TRIGGER item_tags_on_llm AFTER INSERT OR UPDATE OF payload OR DELETE ON item_features
       FOR EACH ROW EXECUTE FUNCTION mediarec_item_tags_llm()""",
    """CREATE TRIGGER store_stamps_on_user_delete AFTER DELETE ON users
       FOR EACH ROW EXECUTE FUNCTION mediarec_count_deletion()""",
)


def schema_extras(dialect: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(statements before the tables, statements after them) for ``dialect``."""
    if dialect == "sqlite":
        return (), SQLITE_TRIGGERS
    return PG_FUNCTIONS, PG_TRIGGERS
