/* grain: one row per Calendly scheduled event (a web-channel appointment slot), its latest version;
   deleted events stay as tombstones (`is_deleted`: read `where not is_deleted`) */
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='event_uri') }}
with source as (
{{ latest_versions('calendly', 'scheduled_events', key='event_uri') }}
),

renamed as (
    select
        record_id as event_uri,
        payload ->> 'name' as event_name,
        lower(payload ->> 'status') as event_status,
        {{ to_utc("payload ->> 'start_time'") }} as starts_at,
        {{ to_utc("payload ->> 'end_time'") }} as ends_at,
        payload ->> 'event_type' as event_type_uri,
        payload -> 'event_memberships' -> 0 ->> 'user' as host_user_uri,
        {{ to_utc("payload ->> 'created_at'") }} as created_at,
        {{ to_utc("payload ->> 'updated_at'") }} as updated_at,
        version_at,
        _loaded_at,
        is_deleted,
        record_hash
    from source
)

select * from renamed
