-- Event delivery between modules: each subscriber's position in its tenant's event log
-- (module_events), so delivery is at least once, in order, and survives restarts; a trigger
-- tells the listeners at once (LISTEN module_events), a poll catches what a listener missed.

CREATE TABLE event_cursors (
    namespace        text   NOT NULL,
    name             text   NOT NULL,     -- the subscribing installation
    installation_uid uuid   NOT NULL,
    delivered_id     bigint NOT NULL,     -- every event of the namespace up to it is handled
    PRIMARY KEY (namespace, name)
);

CREATE FUNCTION notify_module_event() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('module_events', NEW.namespace);
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER module_events_notify AFTER INSERT ON module_events
    FOR EACH ROW EXECUTE FUNCTION notify_module_event();
