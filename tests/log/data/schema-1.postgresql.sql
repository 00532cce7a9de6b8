-- A consent log at schema version 1, as that release created and wrote it on
-- PostgreSQL: its DDL, then every row. Statements end with ';' at the end of a line.

CREATE TABLE consent_schema_version (
	version INTEGER NOT NULL, 
	applied_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (version)
);
CREATE TABLE consent_events (
	seq BIGINT NOT NULL, 
	event_id VARCHAR(32) NOT NULL, 
	consent_id VARCHAR(64) NOT NULL, 
	occurred_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	action VARCHAR(16) NOT NULL, 
	granted TEXT NOT NULL, 
	denied TEXT NOT NULL, 
	revision INTEGER NOT NULL, 
	locale VARCHAR(35) NOT NULL, 
	mechanism VARCHAR(16) NOT NULL, 
	notice_hash VARCHAR(64) NOT NULL, 
	gpc BOOLEAN NOT NULL, 
	ip VARCHAR(64), 
	prev_hash VARCHAR(64) NOT NULL, 
	hash VARCHAR(64) NOT NULL, 
	PRIMARY KEY (seq), 
	UNIQUE (event_id)
);
CREATE INDEX ix_consent_events_consent_id ON consent_events (consent_id);
CREATE INDEX ix_consent_events_occurred_at ON consent_events (occurred_at);
CREATE TABLE consent_notices (
	notice_hash VARCHAR(64) NOT NULL, 
	notice TEXT NOT NULL, 
	first_stored_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (notice_hash)
);
CREATE TABLE consent_chain (
	id INTEGER NOT NULL, 
	head_seq BIGINT NOT NULL, 
	head_hash VARCHAR(64) NOT NULL, 
	anchor_seq BIGINT NOT NULL, 
	anchor_hash VARCHAR(64) NOT NULL, 
	anchor_before TIMESTAMP WITH TIME ZONE, 
	purged_at TIMESTAMP WITH TIME ZONE, 
	PRIMARY KEY (id)
);
CREATE TABLE consent_cookies (
	name VARCHAR(256) NOT NULL, 
	category VARCHAR(32) NOT NULL, 
	seen BIGINT NOT NULL, 
	blocked BIGINT NOT NULL, 
	first_seen TIMESTAMP WITH TIME ZONE NOT NULL, 
	last_seen TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (name)
);

INSERT INTO consent_schema_version (version, applied_at) VALUES (1, '2026-12-01 20:41:35.275796+00:00');
INSERT INTO consent_notices (notice_hash, notice, first_stored_at) VALUES ('abababababababababababababababababababababababababababababababab', '{"categories": [{"key": "analytics"}, {"key": "marketing"}], "title": "Cookies"}', '2026-12-01 20:41:35.317787+00:00');
INSERT INTO consent_notices (notice_hash, notice, first_stored_at) VALUES ('cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd', '{"categories": [{"key": "analytics"}, {"key": "préférences"}], "title": "Cookies, revised"}', '2026-12-01 20:41:35.349036+00:00');
INSERT INTO consent_chain (id, head_seq, head_hash, anchor_seq, anchor_hash, anchor_before, purged_at) VALUES (1, 6, 'c2f626c1cae7d336a7a484fa8743b0b553c5951fdbe61ef40f77d7ecc4c65a36', 0, '0000000000000000000000000000000000000000000000000000000000000000', NULL, NULL);
INSERT INTO consent_cookies (name, category, seen, blocked, first_seen, last_seen) VALUES ('_ga', 'analytics', 3, 3, '2026-12-01 20:41:35.353052+00:00', '2026-12-01 20:41:35.353077+00:00');
INSERT INTO consent_cookies (name, category, seen, blocked, first_seen, last_seen) VALUES ('session', 'necessary', 1, 0, '2026-12-01 20:41:35.353080+00:00', '2026-12-01 20:41:35.353080+00:00');
INSERT INTO consent_events (seq, event_id, consent_id, occurred_at, action, granted, denied, revision, locale, mechanism, notice_hash, gpc, ip, prev_hash, hash) VALUES (1, '019c1e2a0a0b7000a000000000000001', 'c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1', '2026-02-02 08:15:00.123456+00:00', 'accept_all', '["analytics","marketing","necessary"]', '[]', 1, 'en', 'banner', 'abababababababababababababababababababababababababababababababab', false, NULL, '0000000000000000000000000000000000000000000000000000000000000000', 'd06ad04d983c345d37a7871e7f2f7a30d9ba378ba0ca12f71047411dd0f9545d');
INSERT INTO consent_events (seq, event_id, consent_id, occurred_at, action, granted, denied, revision, locale, mechanism, notice_hash, gpc, ip, prev_hash, hash) VALUES (2, '019c1e2a0a0b7000a000000000000002', 'c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2', '2026-02-02 09:40:30+00:00', 'reject_all', '["necessary"]', '["analytics","marketing"]', 1, 'fr', 'banner', 'abababababababababababababababababababababababababababababababab', false, '203.0.113.0/24', 'd06ad04d983c345d37a7871e7f2f7a30d9ba378ba0ca12f71047411dd0f9545d', '53b784b79f95a05b054056a70ceb200e8c53ad14019fde4c13c8fb04c281018a');
INSERT INTO consent_events (seq, event_id, consent_id, occurred_at, action, granted, denied, revision, locale, mechanism, notice_hash, gpc, ip, prev_hash, hash) VALUES (3, '019c1e2a0a0b7000a000000000000003', 'c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3', '2026-02-02 23:59:59.999999+00:00', 'custom', '["analytics","necessary"]', '["marketing"]', 1, 'sr-Latn-RS', 'preferences', 'abababababababababababababababababababababababababababababababab', true, NULL, '53b784b79f95a05b054056a70ceb200e8c53ad14019fde4c13c8fb04c281018a', '05a8bd3d9e6b53c47bd6b2f00f6c1cd263d7e83219eedac27046351d0d8cb85b');
INSERT INTO consent_events (seq, event_id, consent_id, occurred_at, action, granted, denied, revision, locale, mechanism, notice_hash, gpc, ip, prev_hash, hash) VALUES (4, '019c1e2a0a0b7000a000000000000004', 'c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4', '2026-02-03 00:00:00+00:00', 'gpc', '["necessary"]', '["marketing"]', 1, 'en', 'gpc', 'abababababababababababababababababababababababababababababababab', true, '2001:db8:1::/48', '05a8bd3d9e6b53c47bd6b2f00f6c1cd263d7e83219eedac27046351d0d8cb85b', 'f203cd1844b5b8073f0c175419e5608e5e7ad0e7c3fd91f08fb75b6e9f9480e0');
INSERT INTO consent_events (seq, event_id, consent_id, occurred_at, action, granted, denied, revision, locale, mechanism, notice_hash, gpc, ip, prev_hash, hash) VALUES (5, '019c1e2a0a0b7000a000000000000005', 'c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1', '2026-02-03 12:00:00+00:00', 'withdraw', '["necessary"]', '["analytics","marketing"]', 1, 'en', 'preferences', 'abababababababababababababababababababababababababababababababab', false, NULL, 'f203cd1844b5b8073f0c175419e5608e5e7ad0e7c3fd91f08fb75b6e9f9480e0', '495e79bb197c31c02a5fab2b18ba7bd43eca1511073ce6b843803614512af9be');
INSERT INTO consent_events (seq, event_id, consent_id, occurred_at, action, granted, denied, revision, locale, mechanism, notice_hash, gpc, ip, prev_hash, hash) VALUES (6, '019c1e2a0a0b7000a000000000000006', 'c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5', '2026-02-03 13:05:00+00:00', 'accept_all', '["analytics","necessary","pr\u00e9f\u00e9rences"]', '[]', 2, 'pt-BR', 'api', 'cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd', false, NULL, '495e79bb197c31c02a5fab2b18ba7bd43eca1511073ce6b843803614512af9be', 'c2f626c1cae7d336a7a484fa8743b0b553c5951fdbe61ef40f77d7ecc4c65a36');
