/* grain: one row per Calendly event type, its latest version; deleted event types stay as tombstones
   (`is_deleted`: read `where not is_deleted`). A view over the small raw table. */
with source as (
{{ latest_versions('calendly', 'event_types') }}
),

fields as (
{{ json_fields('source', {
    'event_type_name': 'name',
    'duration_minutes_raw': 'duration',
    'owner_user_uri': ['profile', 'owner'],
}) }}
),

renamed as (
    select
        record_id as event_type_uri,
        event_type_name,
        lower(trim(event_type_name)) as event_type_name_key,
        cast(duration_minutes_raw as integer) as duration_minutes,
        owner_user_uri,
        version_at,
        _loaded_at,
        is_deleted
    from fields
)

select * from renamed
