-- The users msrprelay authenticates, in the layout of the OpenSIPS 3.x
-- (and Kamailio) `subscriber` table: point --credentials at the SIP
-- proxy's own database instead when there is one. Only username, domain,
-- ha1 and password are read; the other columns are OpenSIPS's.
--   psql postgres://USER:PASS@HOST/DB -f configs/subscriber.postgres.sql
CREATE TABLE subscriber (
    id SERIAL PRIMARY KEY NOT NULL,
    username VARCHAR(64) DEFAULT '' NOT NULL,
    domain VARCHAR(64) DEFAULT '' NOT NULL,
    password VARCHAR(25) DEFAULT '' NOT NULL,
    email_address VARCHAR(64) DEFAULT NULL,
    ha1 VARCHAR(32) DEFAULT '' NOT NULL,
    ha1_sha256 VARCHAR(64) DEFAULT '' NOT NULL,
    ha1_sha512t256 VARCHAR(64) DEFAULT '' NOT NULL,
    rpid VARCHAR(255) DEFAULT NULL,
    CONSTRAINT subscriber_account_idx UNIQUE (username, domain)
);
CREATE INDEX subscriber_username_idx ON subscriber (username);
