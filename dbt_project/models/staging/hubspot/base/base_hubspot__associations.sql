/* grain: one row per hubspot associations record (its latest version; tombstones flagged, not dropped) */
{{ config(unique_key='record_id', incremental_strategy='delete+insert') }}

{{ latest_versions('hubspot', 'associations') }}
