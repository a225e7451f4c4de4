/* grain: one row per Calendly user (rep) */
with source as (
    select * from {{ ref('base_calendly__users') }}
    where not is_deleted
),

renamed as (
    select
        record_id as user_uri,
        {{ hash_pii("payload ->> 'email'") }} as email_hash,
        nullif(payload ->> 'timezone', '') as timezone,
        {{ to_utc("payload ->> 'created_at'") }} as created_at,
        cast(version_ts at time zone 'UTC' as timestamp) as version_at,
        _loaded_at
    from source
)

select * from renamed
