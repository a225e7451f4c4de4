/* grain: one row per Calendly event type, its latest version; deleted event types stay as tombstones
   (`is_deleted`: read `where not is_deleted`). A view over the small raw table. */
with source as (
{{ latest_versions('calendly', 'event_types') }}
),

renamed as (
    select
        record_id as event_type_uri,
        payload ->> 'name' as event_type_name,
        lower(trim(payload ->> 'name')) as event_type_name_key,
        cast(payload ->> 'duration' as integer) as duration_minutes,
        payload -> 'profile' ->> 'owner' as owner_user_uri,
        version_at,
        _loaded_at,
        is_deleted
    from source
)

select * from renamed
