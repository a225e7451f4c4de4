/* grain: one row per Calendly event type */
with source as (
    select * from {{ ref('base_calendly__event_types') }}
    where not is_deleted
),

renamed as (
    select
        record_id as event_type_uri,
        payload ->> 'name' as event_type_name,
        lower(trim(payload ->> 'name')) as event_type_name_key,
        cast(payload ->> 'duration' as integer) as duration_minutes,
        payload -> 'profile' ->> 'owner' as owner_user_uri,
        cast(version_ts at time zone 'UTC' as timestamp) as version_at,
        _loaded_at
    from source
)

select * from renamed
