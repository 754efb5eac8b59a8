"""Every masking strategy on a real database: what the masked columns hold afterwards."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import psycopg
import pytest

from prodclone.errors import ProdcloneError
from prodclone.local.server import LocalServer
from prodclone.mask.apply import mask_database
from prodclone.mask.rules import parse_rules
from prodclone.mask.strategies import derive_key
from tests.conftest import run_sql

SECRET = "test-secret-1"

PEOPLE = """
CREATE TABLE people (
    id serial PRIMARY KEY,
    email text NOT NULL UNIQUE,
    full_name text,
    phone varchar(30),
    account bigint,
    bio text,
    notes text,
    token text,
    nickname text,
    country text,
    profile jsonb,
    kept text,
    upper_email text,
    shout text GENERATED ALWAYS AS (upper(nickname)) STORED
);
CREATE TABLE audit_log (id serial PRIMARY KEY, who text, what text);
INSERT INTO people (email, full_name, phone, account, bio, notes, token, nickname, country,
                    profile, kept, upper_email)
SELECT 'person' || g || '@corp.example.com', 'Given' || g || ' Family' || g,
       '+44 (0)20 ' || lpad(g::text, 4, '0') || '-' || (g % 97), 100000 + g,
       repeat('bio of person ' || g || ' ', 1 + g % 3), 'note ' || g, 'tok-' || md5(g::text),
       'nick' || g, 'country ' || g,
       jsonb_build_object('phone', '555-01' || g,
                          'home', jsonb_build_object('street', 'Road ' || g), 'age', g),
       'keep ' || g, upper('person' || g || '@corp.example.com')
FROM generate_series(1, 400) g;
INSERT INTO audit_log (who, what) SELECT 'person' || g, 'login' FROM generate_series(1, 50) g;
CREATE FUNCTION refuse_update() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN RAISE EXCEPTION 'app trigger fired'; END$$;
CREATE TRIGGER people_audit BEFORE UPDATE ON people FOR EACH ROW EXECUTE FUNCTION refuse_update();
"""

RULES: dict[str, Any] = {
    "public.people.email": "email",
    "public.people.full_name": "name",
    "public.people.phone": "digits",
    "public.people.account": "digits",
    "public.people.bio": "text",
    "public.people.notes": "redact",
    "public.people.token": "hash",
    "public.people.nickname": "null",
    "public.people.country": {"constant": "Nowhere"},
    "public.people.profile": {"json": {"$.phone": "digits", "$.home.street": "text"}},
    "public.people.kept": "keep",
    "public.people.upper_email": {"sql": "lower(upper_email) || '%'"},
    "public.audit_log": "truncate",
}


def rows(pg: LocalServer, db: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(pg.url(db)) as conn:
        return conn.execute(query).fetchall()


def mask(pg: LocalServer, db: str, rules: dict[str, Any], secret: str = SECRET) -> list[str]:
    said: list[str] = []
    with psycopg.connect(pg.url(db)) as conn:
        outcome = mask_database(conn, parse_rules(rules), secret, said.append)
    return said + outcome.lines()[len(outcome.tables) :]


@pytest.fixture
def people(pg: LocalServer, fresh_db: str) -> str:
    run_sql(pg, fresh_db, PEOPLE)
    return fresh_db


def test_every_strategy(pg: LocalServer, people: str) -> None:
    before = {r[0]: r for r in rows(pg, people, "SELECT * FROM people")}
    lines = mask(pg, people, RULES)
    after = {r[0]: r for r in rows(pg, people, "SELECT * FROM people")}
    assert any(
        "masked public.people: 400 rows" in line and "0 original values left" in line
        for line in lines
    ), lines
    assert "    truncated public.audit_log: 0 rows left" in lines
    assert rows(pg, people, "SELECT count(*) FROM audit_log") == [(0,)]
    key = derive_key(SECRET)
    for ident, old in before.items():
        new = after[ident]
        (_, email, name, phone, account, bio, notes, token, nick, country, profile, kept, up, _) = (
            new
        )
        assert re.fullmatch(r"user_[0-9a-f]{20}@example\.invalid", email)
        assert re.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]{7}", name) and name != old[2]
        # digits: same length and format, every digit changed
        assert len(phone) == len(old[3])
        assert [c for c in phone if not c.isdigit()] == [c for c in old[3] if not c.isdigit()]
        assert all(a != b for a, b in zip(phone, old[3], strict=True) if b.isdigit())
        assert len(str(account)) == len(str(old[4])) and account != old[4]
        assert len(bio) == len(old[5]) and bio != old[5]
        assert notes == "[redacted]"
        assert token == hashlib.sha256(key + old[7].encode()).hexdigest()
        assert nick is None
        assert country == "Nowhere"
        assert profile["age"] == old[10]["age"]  # a path without a rule stays
        assert profile["phone"] != old[10]["phone"]
        assert len(profile["phone"]) == len(old[10]["phone"])
        assert len(profile["home"]["street"]) == len(old[10]["home"]["street"])
        assert profile["home"]["street"] != old[10]["home"]["street"]
        assert kept == old[11]
        assert up == old[12].lower() + "%"
    # unique in, unique out
    assert len({r[1] for r in after.values()}) == 400


def test_same_input_same_output_across_tables_and_runs(pg: LocalServer, fresh_db: str) -> None:
    schema = """
    CREATE TABLE a (id int PRIMARY KEY, email text, phone text);
    CREATE TABLE b (id int PRIMARY KEY, contact text, tel text);
    INSERT INTO a SELECT g, 'x' || g || '@e.com', '0' || g FROM generate_series(1, 100) g;
    INSERT INTO b SELECT g, 'x' || (101 - g) || '@e.com', '0' || (101 - g)
    FROM generate_series(1, 100) g;
    """
    run_sql(pg, fresh_db, schema)
    rules = {
        "public.a.email": "email",
        "public.b.contact": "email",
        "public.a.phone": "digits",
        "public.b.tel": "digits",
    }
    mask(pg, fresh_db, rules)
    joined = rows(
        pg, fresh_db, "SELECT count(*) FROM a JOIN b ON a.email = b.contact AND a.phone = b.tel"
    )
    assert joined == [(100,)]
    first = rows(pg, fresh_db, "SELECT email, phone FROM a ORDER BY id")
    # Another run, another database, the same secret: the same values.
    with pg.connect() as conn:
        conn.execute(f'CREATE DATABASE "{fresh_db}_2"')
    try:
        run_sql(pg, f"{fresh_db}_2", schema)
        mask(pg, f"{fresh_db}_2", rules)
        assert rows(pg, f"{fresh_db}_2", "SELECT email, phone FROM a ORDER BY id") == first
        run_sql(pg, f"{fresh_db}_2", "TRUNCATE a; TRUNCATE b;" + schema.split(";", 2)[2])
        mask(pg, f"{fresh_db}_2", rules, secret="another secret")
        other = rows(pg, f"{fresh_db}_2", "SELECT email, phone FROM a ORDER BY id")
        assert all(x[0] != y[0] for x, y in zip(other, first, strict=True))
    finally:
        with pg.connect() as conn:
            conn.execute(f'DROP DATABASE "{fresh_db}_2" WITH (FORCE)')


def test_foreign_keys_on_masked_columns_still_hold(pg: LocalServer, fresh_db: str) -> None:
    run_sql(
        pg,
        fresh_db,
        """
        CREATE TABLE users (email text PRIMARY KEY);
        CREATE TABLE orders (id int PRIMARY KEY, buyer text NOT NULL REFERENCES users (email));
        INSERT INTO users SELECT 'u' || g || '@shop.test' FROM generate_series(1, 300) g;
        INSERT INTO orders SELECT g, 'u' || (1 + g % 300) || '@shop.test'
        FROM generate_series(1, 900) g;
        """,
    )
    with pytest.raises(ProdcloneError, match=r"public.orders.buyer references public.users.email"):
        mask(pg, fresh_db, {"public.users.email": "email"})
    assert rows(pg, fresh_db, "SELECT count(*) FROM users WHERE email LIKE '%@shop.test'") == [
        (300,)
    ]
    mask(pg, fresh_db, {"public.users.email": "email", "public.orders.buyer": "email"})
    orphans = (
        "SELECT count(*) FROM orders o "
        "WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.email = o.buyer)"
    )
    assert rows(pg, fresh_db, orphans) == [(0,)]
    assert rows(pg, fresh_db, "SELECT count(*) FROM users WHERE email LIKE '%@shop.test'") == [(0,)]
    # The constraint itself still validates.
    run_sql(
        pg,
        fresh_db,
        "ALTER TABLE orders DROP CONSTRAINT orders_buyer_fkey; "
        "ALTER TABLE orders ADD FOREIGN KEY (buyer) REFERENCES users (email)",
    )


def test_tables_of_the_same_name_in_two_schemas(pg: LocalServer, fresh_db: str) -> None:
    run_sql(
        pg,
        fresh_db,
        """
        CREATE SCHEMA crm;
        CREATE TABLE public.users (id int PRIMARY KEY, email text);
        CREATE TABLE crm.users (id int PRIMARY KEY, email text);
        INSERT INTO public.users VALUES (1, 'a@x.test');
        INSERT INTO crm.users VALUES (1, 'a@x.test');
        """,
    )
    lines = mask(pg, fresh_db, {"public.users.email": "email", "crm.users.email": "email"})
    assert len([line for line in lines if "0 original values left" in line]) == 2
    masked = rows(
        pg, fresh_db, "SELECT p.email = c.email FROM public.users p JOIN crm.users c USING (id)"
    )
    assert masked == [(True,)]


def test_rules_that_do_not_fit_the_database_change_nothing(pg: LocalServer, people: str) -> None:
    before = rows(pg, people, "SELECT * FROM people ORDER BY id")
    for rules, message in (
        ({"public.people.emial": "email"}, "'public.people.emial': no such column"),
        ({"public.persons.email": "email"}, "'public.persons.email': no such table"),
        ({"public.people.email": "null"}, "null on a NOT NULL column"),
        ({"public.people.account": "email"}, "email needs a text column"),
        ({"public.nothing": "truncate"}, "'public.nothing': no such table"),
        ({"public.people.shout": "text"}, "a generated column cannot be set"),
    ):
        with pytest.raises(ProdcloneError, match=re.escape(message)):
            mask(pg, people, {"public.people.email": "email", **rules})
    assert rows(pg, people, "SELECT * FROM people ORDER BY id") == before


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({"public.users.email": "emial"}, "unknown strategy 'emial'"),
        ({"users.email.x.y": "email"}, "name a column as schema.table.column"),
        ({"public.users": "email"}, "a whole table takes truncate or keep"),
        ({"public.users.email": "truncate"}, "name it as schema.table"),
        ({"public.users.email": {"sql": "lower(email"}}, "sql expression does not parse"),
        ({"public.users.p": {"json": {"phone": "digits"}}}, "must look like $.field"),
        ({"public.users.p": {"json": {"$.phone": "keep2"}}}, "unknown strategy 'keep2'"),
    ],
)
def test_bad_rules_are_one_line(rules: dict[str, Any], message: str) -> None:
    with pytest.raises(ProdcloneError) as caught:
        parse_rules(rules)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert "INVOKE_PRODCLONE_MASK_RULES" in str(caught.value)
