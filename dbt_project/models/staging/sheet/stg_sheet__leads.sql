/* grain: one row per e-mail address in the published lead sheet */
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='email_hash',
          post_hook="{{ drop_tombstones() }}") }}
with source as (
    select * from {{ ref('base_sheet__leads') }}
    {{ staging_increment() }}
),

renamed as (
    select
        {{ hash_pii("payload ->> 'email'") }} as email_hash,
        {{ safe_to_utc("payload ->> 'submitted_at'") }} as submitted_at,
        nullif(payload ->> 'form', '') as form,
        nullif(payload ->> 'utm_source', '') as utm_source,
        {{ hash_phone("payload ->> 'phone'") }} as phone_hash,
        cast(version_ts at time zone 'UTC' as timestamp) as version_at,
        _loaded_at,
        is_deleted
    from source
)

select * from renamed
