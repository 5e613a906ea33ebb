-- The users msrprelay authenticates, in the layout of the OpenSIPS 3.x
-- (and Kamailio) `subscriber` table: point --credentials at the SIP
-- proxy's own database instead when there is one. Only username, domain,
-- ha1 and password are read; the other columns are OpenSIPS's.
--   mariadb -h HOST -u USER -p DB < configs/subscriber.mysql.sql
CREATE TABLE subscriber (
    id INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    username CHAR(64) DEFAULT '' NOT NULL,
    domain CHAR(64) DEFAULT '' NOT NULL,
    password CHAR(25) DEFAULT '' NOT NULL,
    email_address CHAR(64) DEFAULT NULL,
    ha1 CHAR(32) DEFAULT '' NOT NULL,
    ha1_sha256 CHAR(64) DEFAULT '' NOT NULL,
    ha1_sha512t256 CHAR(64) DEFAULT '' NOT NULL,
    rpid CHAR(255) DEFAULT NULL,
    CONSTRAINT account_idx UNIQUE (username, domain)
) ENGINE=InnoDB;
CREATE INDEX username_idx ON subscriber (username);
