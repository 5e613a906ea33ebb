-- msrprelay accounting: one row per ended session (times in UTC).
-- Created by `msrprelay db init URL`; generated from engine/accounting.
CREATE TABLE IF NOT EXISTS `msrp_acc` (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    session VARCHAR(16) NOT NULL,
    username VARCHAR(64) NOT NULL,
    domain VARCHAR(128) NOT NULL,
    remote VARCHAR(64) NOT NULL,
    start_time DATETIME(3) NOT NULL,
    end_time DATETIME(3) NOT NULL,
    duration_ms BIGINT NOT NULL,
    end_reason VARCHAR(32) NOT NULL,
    bytes_from_client BIGINT NOT NULL,
    bytes_to_client BIGINT NOT NULL,
    messages_from_client BIGINT NOT NULL,
    messages_to_client BIGINT NOT NULL,
    relay VARCHAR(255) NOT NULL,
    INDEX msrp_acc_start_idx (start_time),
    INDEX msrp_acc_user_idx (username, domain)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
