DROP TABLE hook_deliveries;
DROP TABLE hook_events;
DROP TABLE release_integrations;
