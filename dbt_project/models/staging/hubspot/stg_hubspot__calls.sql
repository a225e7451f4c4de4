/* grain: one row per HubSpot call engagement (an outbound ask), its latest version; archived calls stay
   as tombstones (`is_deleted`: read `where not is_deleted`) */
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='engagement_id') }}
with source as (
{{ latest_versions('hubspot', 'calls', key='engagement_id') }}
),

fields as (
{{ json_fields('source', ask_engagement_fields()) }}
),

renamed as (
    select
{{ ask_engagement_columns('calls') }}
    from fields
)

select * from renamed
