/* grain: one row per Calendly user (rep), its latest version; deleted users stay as tombstones
   (`is_deleted`: read `where not is_deleted`). A view over the small raw table. */
with source as (
{{ latest_versions('calendly', 'users') }}
),

renamed as (
    select
        record_id as user_uri,
        {{ hash_pii("payload ->> 'email'") }} as email_hash,
        nullif(payload ->> 'timezone', '') as timezone,
        {{ to_utc("payload ->> 'created_at'") }} as created_at,
        version_at,
        _loaded_at,
        is_deleted
    from source
)

select * from renamed
