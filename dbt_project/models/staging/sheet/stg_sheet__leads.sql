/* grain: one row per e-mail address in the published lead sheet */
with source as (
    select * from {{ ref('base_sheet__leads') }}
    where not is_deleted
),

renamed as (
    select
        {{ hash_pii("payload ->> 'email'") }} as email_hash,
        {{ safe_to_utc("payload ->> 'submitted_at'") }} as submitted_at,
        nullif(payload ->> 'form', '') as form,
        nullif(payload ->> 'utm_source', '') as utm_source,
        {{ hash_phone("payload ->> 'phone'") }} as phone_hash,
        cast(version_ts at time zone 'UTC' as timestamp) as version_at,
        _loaded_at
    from source
)

select * from renamed
