-- The schema the last release before migrations (commit b6b62d0) created with create_all on postgresql:
-- generated once from its models (CreateTable/CreateIndex), for tests/test_migrations.py. Do not edit.

CREATE TABLE case_counters (
	month VARCHAR(4) NOT NULL, 
	last INTEGER NOT NULL, 
	PRIMARY KEY (month)
);

CREATE TABLE cases (
	id SERIAL NOT NULL, 
	number VARCHAR(16) NOT NULL, 
	service VARCHAR(64) NOT NULL, 
	agency VARCHAR(16) NOT NULL, 
	unit VARCHAR(64) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	location_text VARCHAR(300) NOT NULL, 
	district VARCHAR(8), 
	road VARCHAR(32), 
	lat FLOAT, 
	lon FLOAT, 
	description TEXT NOT NULL, 
	photos JSON NOT NULL, 
	extra JSON NOT NULL, 
	channel VARCHAR(16) NOT NULL, 
	citizen VARCHAR(64) NOT NULL, 
	intake_key VARCHAR(64), 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	expected_by TIMESTAMP WITH TIME ZONE, 
	PRIMARY KEY (id), 
	UNIQUE (number), 
	UNIQUE (intake_key)
);

CREATE INDEX ix_cases_citizen ON cases (citizen, channel);

CREATE INDEX ix_cases_dedupe ON cases (service, status, created_at);

CREATE INDEX ix_cases_geo ON cases (service, lat);

CREATE INDEX ix_cases_road ON cases (service, road, district);

CREATE TABLE curation_items (
	id SERIAL NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	text TEXT NOT NULL, 
	predicted_service VARCHAR(64), 
	predicted_agency VARCHAR(16), 
	channel VARCHAR(16) NOT NULL, 
	citizen VARCHAR(64) NOT NULL, 
	case_number VARCHAR(16), 
	note TEXT NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	resolved_service VARCHAR(64), 
	resolved_by VARCHAR(64), 
	resolved_at TIMESTAMP WITH TIME ZONE, 
	PRIMARY KEY (id)
);

CREATE INDEX ix_curation_items_created_at ON curation_items (created_at);

CREATE INDEX ix_curation_items_kind ON curation_items (kind);

CREATE INDEX ix_curation_items_status ON curation_items (status);

CREATE TABLE handoff_conversations (
	id SERIAL NOT NULL, 
	channel VARCHAR(16) NOT NULL, 
	sender VARCHAR(64) NOT NULL, 
	state VARCHAR(16) NOT NULL, 
	reason VARCHAR(16), 
	lang VARCHAR(4) NOT NULL, 
	misunderstood INTEGER NOT NULL, 
	operator VARCHAR(64), 
	queued_at TIMESTAMP WITH TIME ZONE, 
	taken_at TIMESTAMP WITH TIME ZONE, 
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_handoff_channel_sender UNIQUE (channel, sender)
);

CREATE INDEX ix_handoff_conversations_state ON handoff_conversations (state);

CREATE TABLE knowledge_history (
	id SERIAL NOT NULL, 
	at TIMESTAMP WITH TIME ZONE NOT NULL, 
	username VARCHAR(64) NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	key VARCHAR(64) NOT NULL, 
	file VARCHAR(200) NOT NULL, 
	before JSON NOT NULL, 
	after JSON NOT NULL, 
	PRIMARY KEY (id)
);

CREATE INDEX ix_knowledge_history_at ON knowledge_history (at);

CREATE INDEX ix_knowledge_history_key ON knowledge_history (key);

CREATE TABLE line_seen_events (
	event_id VARCHAR(64) NOT NULL, 
	at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (event_id)
);

CREATE INDEX ix_line_seen_events_at ON line_seen_events (at);

CREATE TABLE line_users (
	pseudonym VARCHAR(64) NOT NULL, 
	user_id VARCHAR(64) NOT NULL, 
	followed BOOLEAN NOT NULL, 
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (pseudonym), 
	UNIQUE (user_id)
);

CREATE TABLE message_log (
	id SERIAL NOT NULL, 
	at TIMESTAMP WITH TIME ZONE NOT NULL, 
	channel VARCHAR(16) NOT NULL, 
	sender VARCHAR(64) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	latency_ms INTEGER NOT NULL, 
	agency VARCHAR(16), 
	service VARCHAR(64), 
	PRIMARY KEY (id)
);

CREATE INDEX ix_message_log_at ON message_log (at);

CREATE INDEX ix_message_log_sender ON message_log (sender);

CREATE TABLE notifications (
	id SERIAL NOT NULL, 
	at TIMESTAMP WITH TIME ZONE NOT NULL, 
	channel VARCHAR(16) NOT NULL, 
	sender VARCHAR(64) NOT NULL, 
	retry_key VARCHAR(64) NOT NULL, 
	body TEXT NOT NULL, 
	delivered BOOLEAN NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_notifications_retry_key UNIQUE (retry_key)
);

CREATE INDEX ix_notifications_sender ON notifications (sender);

CREATE TABLE pending_messages (
	id SERIAL NOT NULL, 
	key VARCHAR(32) NOT NULL, 
	received FLOAT NOT NULL, 
	channel VARCHAR(16) NOT NULL, 
	sender VARCHAR(64) NOT NULL, 
	lang VARCHAR(8) NOT NULL, 
	body TEXT NOT NULL, 
	shown TEXT NOT NULL, 
	state VARCHAR(16) NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_pending_messages_key UNIQUE (key)
);

CREATE INDEX ix_pending_messages_sender ON pending_messages (sender);

CREATE INDEX ix_pending_messages_state ON pending_messages (state);

CREATE TABLE retrain_jobs (
	id SERIAL NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	started_at TIMESTAMP WITH TIME ZONE, 
	finished_at TIMESTAMP WITH TIME ZONE, 
	requested_by VARCHAR(64) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	live_model VARCHAR(128), 
	candidate_model VARCHAR(128), 
	holdout VARCHAR(200), 
	before JSON, 
	after JSON, 
	message TEXT NOT NULL, 
	log_excerpt TEXT NOT NULL, 
	PRIMARY KEY (id)
);

CREATE INDEX ix_retrain_jobs_created_at ON retrain_jobs (created_at);

CREATE INDEX ix_retrain_jobs_status ON retrain_jobs (status);

CREATE TABLE staff_audit (
	seq INTEGER NOT NULL, 
	at TIMESTAMP WITH TIME ZONE NOT NULL, 
	user_id INTEGER NOT NULL, 
	role VARCHAR(16) NOT NULL, 
	agency VARCHAR(16), 
	action VARCHAR(32) NOT NULL, 
	object VARCHAR(64) NOT NULL, 
	citizen VARCHAR(64) NOT NULL, 
	prev_hash VARCHAR(64) NOT NULL, 
	hash VARCHAR(64) NOT NULL, 
	PRIMARY KEY (seq)
);

CREATE INDEX ix_staff_audit_citizen ON staff_audit (citizen);

CREATE INDEX ix_staff_audit_object ON staff_audit (object);

CREATE TABLE staff_audit_head (
	id SERIAL NOT NULL, 
	seq INTEGER NOT NULL, 
	hash VARCHAR(64) NOT NULL, 
	PRIMARY KEY (id)
);

CREATE TABLE staff_users (
	id SERIAL NOT NULL, 
	username VARCHAR(64) NOT NULL, 
	password_hash VARCHAR(255) NOT NULL, 
	role VARCHAR(16) NOT NULL, 
	agency VARCHAR(16), 
	display_name VARCHAR(64) NOT NULL, 
	active BOOLEAN NOT NULL, 
	failed_logins INTEGER NOT NULL, 
	locked_until TIMESTAMP WITH TIME ZONE, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (username)
);

CREATE TABLE youth_consultation (
	id SERIAL NOT NULL, 
	at TIMESTAMP WITH TIME ZONE NOT NULL, 
	sender VARCHAR(64) NOT NULL, 
	program_id VARCHAR(64) NOT NULL, 
	contact_note TEXT NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	PRIMARY KEY (id)
);

CREATE INDEX ix_youth_consultation_at ON youth_consultation (at);

CREATE INDEX ix_youth_consultation_program_id ON youth_consultation (program_id);

CREATE INDEX ix_youth_consultation_sender ON youth_consultation (sender);

CREATE TABLE case_events (
	id SERIAL NOT NULL, 
	case_id INTEGER NOT NULL, 
	at TIMESTAMP WITH TIME ZONE NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	note TEXT NOT NULL, 
	actor VARCHAR(64) NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(case_id) REFERENCES cases (id) ON DELETE CASCADE
);

CREATE INDEX ix_case_events_case_id ON case_events (case_id);

CREATE TABLE case_followers (
	id SERIAL NOT NULL, 
	case_id INTEGER NOT NULL, 
	channel VARCHAR(16) NOT NULL, 
	citizen VARCHAR(64) NOT NULL, 
	at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_case_follower UNIQUE (case_id, channel, citizen), 
	FOREIGN KEY(case_id) REFERENCES cases (id) ON DELETE CASCADE
);

CREATE INDEX ix_case_followers_case_id ON case_followers (case_id);

CREATE INDEX ix_case_followers_citizen ON case_followers (citizen);

CREATE TABLE handoff_messages (
	id SERIAL NOT NULL, 
	conversation_id INTEGER NOT NULL, 
	at TIMESTAMP WITH TIME ZONE NOT NULL, 
	role VARCHAR(16) NOT NULL, 
	text TEXT NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(conversation_id) REFERENCES handoff_conversations (id)
);

CREATE INDEX ix_handoff_messages_conversation_id ON handoff_messages (conversation_id);

CREATE TABLE staff_sessions (
	token VARCHAR(64) NOT NULL, 
	user_id INTEGER NOT NULL, 
	csrf_token VARCHAR(64) NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	expires_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	last_seen TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (token), 
	FOREIGN KEY(user_id) REFERENCES staff_users (id) ON DELETE CASCADE
);

CREATE INDEX ix_staff_sessions_user_id ON staff_sessions (user_id);
