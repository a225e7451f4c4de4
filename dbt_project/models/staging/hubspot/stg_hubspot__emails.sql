/* grain: one row per HubSpot email engagement (an outbound ask), its latest version; archived e-mails stay
   as tombstones (`is_deleted`: read `where not is_deleted`) */
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='engagement_id') }}
with source as (
{{ latest_versions('hubspot', 'emails', key='engagement_id') }}
),

fields as (
{{ json_fields('source', ask_engagement_fields()) }}
),

renamed as (
    select
{{ ask_engagement_columns('emails') }}
    from fields
)

-- the build that wrote the row: its tests check the rows written since the last complete build (D48)
select *, {{ record_stamp() }} as _built_at from renamed
