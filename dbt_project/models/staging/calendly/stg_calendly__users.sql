/* grain: one row per Calendly user (rep), its latest version; deleted users stay as tombstones
   (`is_deleted`: read `where not is_deleted`). A view over the small raw table. */
with source as (
{{ latest_versions('calendly', 'users') }}
),

fields as (
{{ json_fields('source', {
    'email_raw': 'email',
    'timezone_raw': 'timezone',
    'created_at_raw': 'created_at',
}) }}
),

renamed as (
    select
        record_id as user_uri,
        {{ hash_pii('email_raw') }} as email_hash,
        nullif(timezone_raw, '') as timezone,
        {{ to_utc('created_at_raw') }} as created_at,
        version_at,
        _loaded_at,
        is_deleted
    from fields
)

select * from renamed
