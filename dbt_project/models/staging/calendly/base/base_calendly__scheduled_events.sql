/* grain: one row per calendly scheduled_events record (its latest version; tombstones flagged, not dropped) */
{{ config(unique_key='record_id', incremental_strategy='delete+insert') }}

{{ latest_versions('calendly', 'scheduled_events') }}
