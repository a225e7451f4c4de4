/* grain: one row per row of the published lead sheet (its key, the lower-cased e-mail, only as the
   hash `sheet_key_hash`), its latest version; removed rows stay as tombstones (`is_deleted`: read
   `where not is_deleted`) */
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='sheet_key_hash') }}
with source as (
{{ latest_versions('sheet', 'leads', key='sheet_key_hash', key_sql=hash_pii('record_id')) }}
),

renamed as (
    select
        record_key as sheet_key_hash,
        {{ hash_pii("payload ->> 'email'") }} as email_hash,
        {{ safe_to_utc("payload ->> 'submitted_at'") }} as submitted_at,
        nullif(payload ->> 'form', '') as form,
        nullif(payload ->> 'utm_source', '') as utm_source,
        {{ hash_phone("payload ->> 'phone'") }} as phone_hash,
        version_at,
        _loaded_at,
        is_deleted,
        record_hash
    from source
)

select * from renamed
