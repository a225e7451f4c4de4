/* grain: one row per live HubSpot call engagement (an outbound ask) */
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='engagement_id',
          post_hook="{{ drop_tombstones() }}") }}
with source as (
    select * from {{ ref('base_hubspot__calls') }}
    {{ staging_increment() }}
),

renamed as (
    select
{{ ask_engagement_columns('calls') }}
    from source
)

select * from renamed
