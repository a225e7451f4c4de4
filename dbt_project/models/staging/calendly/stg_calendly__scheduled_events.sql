/* grain: one row per Calendly scheduled event (a web-channel appointment slot) */
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='event_uri',
          post_hook="{{ drop_tombstones() }}") }}
with source as (
    select * from {{ ref('base_calendly__scheduled_events') }}
    {{ staging_increment() }}
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
        cast(version_ts at time zone 'UTC' as timestamp) as version_at,
        _loaded_at,
        is_deleted
    from source
)

select * from renamed
