/* grain: one row per Calendly scheduled event (a web-channel appointment slot), its latest version;
   deleted events stay as tombstones (`is_deleted`: read `where not is_deleted`) */
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='event_uri') }}
with source as (
{{ latest_versions('calendly', 'scheduled_events', key='event_uri') }}
),

fields as (
{{ json_fields('source', {
    'event_name': 'name',
    'event_status_raw': 'status',
    'starts_at_raw': 'start_time',
    'ends_at_raw': 'end_time',
    'event_type_uri': 'event_type',
    'host_user_uri': ['event_memberships', 0, 'user'],
    'created_at_raw': 'created_at',
    'updated_at_raw': 'updated_at',
}) }}
),

renamed as (
    select
        record_id as event_uri,
        event_name,
        lower(event_status_raw) as event_status,
        {{ to_utc('starts_at_raw') }} as starts_at,
        {{ to_utc('ends_at_raw') }} as ends_at,
        event_type_uri,
        host_user_uri,
        {{ to_utc('created_at_raw') }} as created_at,
        {{ to_utc('updated_at_raw') }} as updated_at,
        version_at,
        _loaded_at,
        is_deleted,
        record_hash
    from fields
)

-- the build that wrote the row: its tests check the rows written since the last complete build (D48)
select *, {{ record_stamp() }} as _built_at from renamed
