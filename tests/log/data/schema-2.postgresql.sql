-- A consent log at schema version 2, as that release created and wrote it on
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
ALTER TABLE consent_events ADD COLUMN regime VARCHAR(16) DEFAULT 'opt-in' NOT NULL;
ALTER TABLE consent_events ADD COLUMN region VARCHAR(6);

INSERT INTO consent_schema_version (version, applied_at) VALUES (1, '2026-12-01 22:49:40.960647+00:00');
INSERT INTO consent_schema_version (version, applied_at) VALUES (2, '2026-12-01 22:49:40.970223+00:00');
INSERT INTO consent_notices (notice_hash, notice, first_stored_at) VALUES ('abababababababababababababababababababababababababababababababab', '{"categories": [{"key": "analytics"}, {"key": "marketing"}], "title": "Cookies"}', '2026-12-01 22:49:40.997267+00:00');
INSERT INTO consent_notices (notice_hash, notice, first_stored_at) VALUES ('cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd', '{"categories": [{"key": "analytics"}, {"key": "préférences"}], "title": "Cookies, revised"}', '2026-12-01 22:49:41.100623+00:00');
INSERT INTO consent_chain (id, head_seq, head_hash, anchor_seq, anchor_hash, anchor_before, purged_at) VALUES (1, 6, 'eefecd4b7f92857b124128164eefb16246e62db710c7b4aad037280545485205', 0, '0000000000000000000000000000000000000000000000000000000000000000', NULL, NULL);
INSERT INTO consent_cookies (name, category, seen, blocked, first_seen, last_seen) VALUES ('_fbp', 'marketing', 1, 1, '2026-12-01 22:49:41.128793+00:00', '2026-12-01 22:49:41.128793+00:00');
INSERT INTO consent_cookies (name, category, seen, blocked, first_seen, last_seen) VALUES ('_ga', 'analytics', 3, 2, '2026-12-01 22:49:41.128763+00:00', '2026-12-01 22:49:41.128792+00:00');
INSERT INTO consent_cookies (name, category, seen, blocked, first_seen, last_seen) VALUES ('_hjSessionUser_42', 'UNDECLARED', 1, 1, '2026-12-01 22:49:41.128798+00:00', '2026-12-01 22:49:41.128798+00:00');
INSERT INTO consent_cookies (name, category, seen, blocked, first_seen, last_seen) VALUES ('session', 'necessary', 2, 0, '2026-12-01 22:49:41.128796+00:00', '2026-12-01 22:49:41.128797+00:00');
INSERT INTO consent_events (seq, event_id, consent_id, occurred_at, action, granted, denied, revision, locale, mechanism, notice_hash, gpc, ip, prev_hash, hash, regime, region) VALUES (1, '0197a1b2c3d47000a000000000000021', 'd1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1', '2026-06-01 07:30:00.250000+00:00', 'accept_all', '["analytics","marketing","necessary"]', '[]', 1, 'fr', 'banner', 'abababababababababababababababababababababababababababababababab', false, NULL, '0000000000000000000000000000000000000000000000000000000000000000', 'fe7e7c0ac680d0ef82358b67f4346db1cab84c864ffc057b01bac2a2cd304bab', 'opt-in', 'FR');
INSERT INTO consent_events (seq, event_id, consent_id, occurred_at, action, granted, denied, revision, locale, mechanism, notice_hash, gpc, ip, prev_hash, hash, regime, region) VALUES (2, '0197a1b2c3d47000a000000000000022', 'd2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2', '2026-06-01 14:02:11+00:00', 'reject_all', '["necessary"]', '["analytics","marketing"]', 1, 'en-US', 'banner', 'abababababababababababababababababababababababababababababababab', false, '198.51.100.0/24', 'fe7e7c0ac680d0ef82358b67f4346db1cab84c864ffc057b01bac2a2cd304bab', '8059210893b37ec706ca8a1bb8193163b686bd6d773cd8bd15408492fde326fc', 'opt-out', 'US-CA');
INSERT INTO consent_events (seq, event_id, consent_id, occurred_at, action, granted, denied, revision, locale, mechanism, notice_hash, gpc, ip, prev_hash, hash, regime, region) VALUES (3, '0197a1b2c3d47000a000000000000023', 'd3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3', '2026-06-01 23:59:59.999999+00:00', 'gpc', '["analytics","necessary"]', '["marketing"]', 1, 'en-US', 'gpc', 'abababababababababababababababababababababababababababababababab', true, NULL, '8059210893b37ec706ca8a1bb8193163b686bd6d773cd8bd15408492fde326fc', 'fd8aba58a9a3a2d74883dd1b2bf791756dc3e131a2699a7e51fc82190042e9c6', 'opt-out', 'US-CO');
INSERT INTO consent_events (seq, event_id, consent_id, occurred_at, action, granted, denied, revision, locale, mechanism, notice_hash, gpc, ip, prev_hash, hash, regime, region) VALUES (4, '0197a1b2c3d47000a000000000000024', 'd4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4', '2026-06-02 00:00:00+00:00', 'custom', '["analytics","necessary"]', '["marketing"]', 1, 'de', 'preferences', 'abababababababababababababababababababababababababababababababab', false, '2001:db8:2::/48', 'fd8aba58a9a3a2d74883dd1b2bf791756dc3e131a2699a7e51fc82190042e9c6', '94dd037088960fcd247f60d603466216d8f27b0fdb3906da893cc0302f5a937b', 'opt-in', NULL);
INSERT INTO consent_events (seq, event_id, consent_id, occurred_at, action, granted, denied, revision, locale, mechanism, notice_hash, gpc, ip, prev_hash, hash, regime, region) VALUES (5, '0197a1b2c3d47000a000000000000025', 'd5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5', '2026-06-02 09:15:00+00:00', 'accept_all', '["analytics","necessary","pr\u00e9f\u00e9rences"]', '[]', 2, 'pt-BR', 'api', 'cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd', false, NULL, '94dd037088960fcd247f60d603466216d8f27b0fdb3906da893cc0302f5a937b', 'b538626641740b7c148415fed1571e733db790e38e8049b335334ee0e94e7dbb', 'none', 'AU');
INSERT INTO consent_events (seq, event_id, consent_id, occurred_at, action, granted, denied, revision, locale, mechanism, notice_hash, gpc, ip, prev_hash, hash, regime, region) VALUES (6, '0197a1b2c3d47000a000000000000026', 'd1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1', '2026-06-02 18:45:30.500000+00:00', 'withdraw', '["necessary"]', '["analytics","marketing"]', 1, 'es-US', 'preferences', 'abababababababababababababababababababababababababababababababab', false, NULL, 'b538626641740b7c148415fed1571e733db790e38e8049b335334ee0e94e7dbb', 'eefecd4b7f92857b124128164eefb16246e62db710c7b4aad037280545485205', 'opt-out', NULL);
