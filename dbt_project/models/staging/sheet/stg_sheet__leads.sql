/* grain: one row per row of the published lead sheet (its key, the lower-cased e-mail, only as the
   hash `sheet_key_hash`), its latest version; removed rows stay as tombstones (`is_deleted`: read
   `where not is_deleted`) */
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='sheet_key_hash') }}
with source as (
{{ latest_versions('sheet', 'leads', key='sheet_key_hash', key_sql=hash_pii('record_id')) }}
),

fields as (
{{ json_fields('source', {
    'email_raw': 'email',
    'submitted_at_raw': 'submitted_at',
    'form_raw': 'form',
    'utm_source_raw': 'utm_source',
    'phone_raw': 'phone',
}) }}
),

renamed as (
    select
        record_key as sheet_key_hash,
        {{ hash_pii('email_raw') }} as email_hash,
        {{ safe_to_utc('submitted_at_raw') }} as submitted_at,
        nullif(form_raw, '') as form,
        nullif(utm_source_raw, '') as utm_source,
        {{ hash_phone('phone_raw') }} as phone_hash,
        version_at,
        _loaded_at,
        is_deleted,
        record_hash
    from fields
)

-- the build that wrote the row: its tests check the rows written since the last complete build (D48)
select *, {{ record_stamp() }} as _built_at from renamed
