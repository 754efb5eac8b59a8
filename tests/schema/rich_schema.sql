-- Every kind of object the schema comparison models, for round-trip tests.
CREATE SCHEMA app;
CREATE COLLATION app.c_like (provider = libc, locale = 'C');
CREATE TYPE app.mood AS ENUM ('sad', 'happy');
ALTER TYPE app.mood ADD VALUE 'ok' BEFORE 'happy';
CREATE DOMAIN app.positive AS int CHECK (VALUE > 0) DEFAULT 1 NOT NULL;
CREATE TYPE app.pair AS (x int, y text COLLATE app.c_like);
CREATE TYPE app.floatrange AS RANGE (subtype = float8);
CREATE TABLE app.parent (id int GENERATED ALWAYS AS IDENTITY (START 5 INCREMENT 2), day date NOT NULL,
    total numeric, doubled numeric GENERATED ALWAYS AS (total * 2) STORED, m app.mood DEFAULT 'ok',
    PRIMARY KEY (id, day)) PARTITION BY RANGE (day);
CREATE TABLE app.parent_2025 PARTITION OF app.parent FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE UNLOGGED TABLE app.scratch (id int, t text COMPRESSION pglz, n int) WITH (fillfactor = 70);
ALTER TABLE app.scratch ALTER n SET STATISTICS 300, ALTER t SET STORAGE EXTERNAL, ALTER n SET (n_distinct = 5);
ALTER TABLE app.scratch ENABLE ROW LEVEL SECURITY; ALTER TABLE app.scratch FORCE ROW LEVEL SECURITY;
ALTER TABLE app.scratch REPLICA IDENTITY FULL;
CREATE INDEX scratch_id ON app.scratch (id); ALTER TABLE app.scratch CLUSTER ON scratch_id;
CREATE POLICY own ON app.scratch FOR SELECT TO PUBLIC USING (id > 0);
CREATE RULE no_delete AS ON DELETE TO app.scratch DO INSTEAD NOTHING;
CREATE TABLE app.excl (r int4range, EXCLUDE USING gist (r WITH &&));
CREATE TABLE app.refs (id int PRIMARY KEY, p_id int, p_day date, c int,
   FOREIGN KEY (p_id, p_day) REFERENCES app.parent DEFERRABLE INITIALLY DEFERRED,
   CONSTRAINT c_pos CHECK (c > 0) NOT VALID, CONSTRAINT c_ni CHECK (c < 100) NO INHERIT);
CREATE SEQUENCE app.counter INCREMENT 5 MINVALUE 10 CACHE 3 CYCLE OWNED BY app.refs.c;
CREATE MATERIALIZED VIEW app.totals AS SELECT day, sum(total) FROM app.parent GROUP BY day;
CREATE UNIQUE INDEX totals_day ON app.totals (day);
CREATE VIEW app.v WITH (security_barrier) AS SELECT id FROM app.refs WHERE c > 1;
CREATE FUNCTION app.f(x int DEFAULT 1) RETURNS int LANGUAGE sql STABLE STRICT
    SET work_mem = '8MB' BEGIN ATOMIC SELECT x + 1; END;
CREATE FUNCTION app.trg() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER COST 5 AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER t1 BEFORE INSERT ON app.parent FOR EACH ROW EXECUTE FUNCTION app.trg();
CREATE TRIGGER t2 AFTER UPDATE OF c ON app.refs FOR EACH ROW WHEN (NEW.c > 5) EXECUTE FUNCTION app.trg();
ALTER TABLE app.refs DISABLE TRIGGER t2;
CREATE PROCEDURE app.p() LANGUAGE plpgsql AS $$ BEGIN NULL; END $$;
CREATE AGGREGATE app.total_of(int) (sfunc = int4pl, stype = int, initcond = '0');
CREATE FUNCTION app.on_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$;
CREATE EVENT TRIGGER ddl ON ddl_command_end WHEN TAG IN ('CREATE TABLE') EXECUTE FUNCTION app.on_ddl();
CREATE PUBLICATION pub FOR TABLE app.refs WHERE (id > 0) WITH (publish = 'insert');
ALTER DEFAULT PRIVILEGES IN SCHEMA app GRANT SELECT ON TABLES TO PUBLIC;
GRANT USAGE ON SCHEMA app TO PUBLIC; GRANT SELECT (id) ON app.refs TO PUBLIC; REVOKE EXECUTE ON FUNCTION app.f FROM PUBLIC;
COMMENT ON COLUMN app.parent.total IS 'money'; COMMENT ON CONSTRAINT c_pos ON app.refs IS 'positive';
COMMENT ON INDEX app.scratch_id IS 'idx'; COMMENT ON SCHEMA app IS 'application';
CREATE TEXT SEARCH CONFIGURATION app.simple2 (COPY = pg_catalog.simple);
CREATE STATISTICS app.st ON p_id, c FROM app.refs;
CREATE TABLE app.inh_parent (id int NOT NULL, CHECK (id > 0));
CREATE TABLE app.inh_child (extra int) INHERITS (app.inh_parent);
CREATE EXTENSION pg_trgm;
CREATE INDEX refs_trgm ON app.scratch USING gin (t gin_trgm_ops);
-- Partitions and inheritance reached by several routes, which a restore rebuilds its own way.
CREATE TABLE app.ev (id int GENERATED ALWAYS AS IDENTITY, day date NOT NULL, refs_id int REFERENCES app.refs,
  amount int CHECK (amount > 0), note text DEFAULT 'x', PRIMARY KEY (id, day)) PARTITION BY RANGE (day);
CREATE INDEX ev_note ON app.ev (note);
CREATE TABLE app.ev_2025 PARTITION OF app.ev FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE app.ev_2026 (id int NOT NULL, day date NOT NULL, refs_id int,
  amount int CONSTRAINT ev_amount_check CHECK (amount > 0), note text DEFAULT 'y');
ALTER TABLE app.ev ATTACH PARTITION app.ev_2026 FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE app.ev_rest PARTITION OF app.ev DEFAULT PARTITION BY LIST (day);
CREATE TABLE app.ev_rest_a PARTITION OF app.ev_rest FOR VALUES IN ('2020-01-01');
CREATE TRIGGER evt AFTER INSERT ON app.ev FOR EACH ROW EXECUTE FUNCTION app.trg();
ALTER TABLE app.ev_2026 DISABLE TRIGGER evt;
CREATE TABLE app.inh_child2 (id int NOT NULL, extra int, CONSTRAINT inh_parent_id_check CHECK (id > 0));
ALTER TABLE app.inh_child2 INHERIT app.inh_parent;
CREATE TABLE app.gen (a int, b int GENERATED ALWAYS AS (a * 2) VIRTUAL);
ALTER TABLE app.gen ADD x int; ALTER TABLE app.gen DROP x; ALTER TABLE app.gen ADD y int DEFAULT 5;
