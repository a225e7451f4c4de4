/* grain: one row per live HubSpot meeting (a mobile-channel appointment) */
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='meeting_id',
          post_hook="{{ drop_tombstones() }}") }}
with source as (
    select * from {{ ref('base_hubspot__meetings') }}
    {{ staging_increment() }}
),

renamed as (
    select
        record_id as meeting_id,
        {{ to_utc("payload ->> 'createdAt'") }} as created_at,
        {{ to_utc("payload ->> 'updatedAt'") }} as updated_at,
        nullif(lower(payload -> 'properties' ->> 'hs_activity_type'), '') as activity_type,
        {{ to_utc("payload -> 'properties' ->> 'hs_meeting_start_time'") }} as starts_at,
        {{ to_utc("payload -> 'properties' ->> 'hs_meeting_end_time'") }} as ends_at,
        upper(coalesce(nullif(payload -> 'properties' ->> 'hs_meeting_outcome', ''), 'SCHEDULED')) as meeting_outcome,
        nullif(payload -> 'properties' ->> 'hubspot_owner_id', '') as owner_id,
        payload -> 'associations' -> 'contacts' -> 'results' -> 0 ->> 'id' as inline_contact_id,
        cast(version_ts at time zone 'UTC' as timestamp) as version_at,
        _loaded_at,
        is_deleted
    from source
)

select * from renamed
